package a

import "net/http"

// Tests are not shipped: their handlers' goroutines are not judged.
func testHandler(w http.ResponseWriter, r *http.Request) {
	go func() { work(r) }()
}
