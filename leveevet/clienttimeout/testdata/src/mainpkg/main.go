package main

import "net/http"

func main() {
	http.Get("http://127.0.0.1/")               // package main owns the process: allowed
	http.DefaultClient.Get("http://127.0.0.1/") // allowed
	c := &http.Client{}                         // want `http.Client without Timeout`
	c.Get("http://127.0.0.1/")
}
