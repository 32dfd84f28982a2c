package leveemq_test

import (
	"fmt"

	"github.com/levee-go/levee/leveemq"
)

// New names the first field it refuses.
func ExampleNew() {
	_, err := leveemq.New(leveemq.Config{})
	fmt.Println(err)
	// Output:
	// leveemq: Config.Source is nil
}

// What a store's Begin can find.
func ExampleClaim() {
	for _, c := range []leveemq.Claim{leveemq.Claimed, leveemq.AlreadyDone, leveemq.Busy} {
		fmt.Println(c)
	}
	// Output:
	// claimed
	// already-done
	// busy
}
