package a

import "net/http"

// Tests may use the default client and clients without timeouts.
func fetch(u string) {
	c := &http.Client{}
	c.Get(u)
	http.Get(u)
	http.DefaultClient.Get(u)
}
