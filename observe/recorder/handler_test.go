package recorder_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/levee-go/levee/observe/recorder"
)

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestHandlerListsAndServesSnapshots(t *testing.T) {
	r, clk, got := newRecorder(t, recorder.Config{Interval: time.Second})
	mux := http.NewServeMux()
	mux.Handle("/debug/snapshots/", http.StripPrefix("/debug/snapshots", r.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/debug/snapshots/"

	resp, body := get(t, base)
	if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(body)) != "[]" {
		t.Errorf("empty list: %d %q, want 200 []", resp.StatusCode, body)
	}

	r.Listener()(trip)
	first := <-got
	clk.Advance(time.Second)
	r.Listener()(trip)
	second := <-got

	resp, body = get(t, base)
	var list []recorder.Manifest
	if err := json.Unmarshal(body, &list); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("list: %v, content type %q: %s", err, resp.Header.Get("Content-Type"), body)
	}
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID || list[0].Policy != "breaker" {
		t.Errorf("list = %+v, want %s then %s", list, second.ID, first.ID)
	}

	want, err := os.ReadFile(filepath.Join(r.Dir(), first.ID, recorder.FileTrace))
	if err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, base+first.ID+"/"+recorder.FileTrace)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("trace download: %d, %d bytes, want 200 and the %d bytes on disk", resp.StatusCode, len(body), len(want))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="`+first.ID+`-trace.out"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	resp, body = get(t, base+second.ID+"/"+recorder.FileManifest)
	var m recorder.Manifest
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil || m.ID != second.ID {
		t.Errorf("manifest download: %d %s", resp.StatusCode, body)
	}

	// Anything that is not a file of a complete snapshot is 404.
	if err := os.WriteFile(filepath.Join(r.Dir(), "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		first.ID, first.ID + "/", first.ID + "/other.txt", "nope/" + recorder.FileTrace,
		"..%2fsecret", first.ID + "/..%2f..%2fsecret", "%2e%2e/" + recorder.FileTrace, first.ID + ".tmp/" + recorder.FileTrace,
	} {
		if resp, _ := get(t, base+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	resp, err = http.Post(base, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}
