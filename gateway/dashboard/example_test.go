package dashboard_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/levee-go/levee/gateway/dashboard"
)

// The admin API mounts the page and the stream behind its authentication;
// here a plain mux serves them, and the first lines of the stream are read.
func ExampleNew() {
	src := dashboard.SourceFunc(func(now time.Time) dashboard.Snapshot {
		return dashboard.Snapshot{Time: now, Routes: []dashboard.Route{{Name: "api", Upstream: "app", RequestsPerSecond: 12}}}
	})
	d, err := dashboard.New(dashboard.Options{Source: src})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", d.Handler())
	mux.Handle("GET /api/v1/events", d.Events())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/v1/events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	for range 3 {
		line, _ := r.ReadString('\n')
		fmt.Print(line)
	}
	data, _ := r.ReadString('\n')
	fmt.Println(strings.Contains(data, `"name":"api"`))
	// Output:
	// retry: 2000
	// id: 1
	// event: snapshot
	// true
}
