package reload_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/reload"
)

// watchFile starts a Controller over the file at path and its watch; it
// returns the controller and a function that waits (at most 5s) for the
// running version to reach want.
func watchFile(t *testing.T, path string) (*reload.Controller, func(want int)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := start(t, string(raw), reload.Options{Path: path})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.WatchFile(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchFile = %v", err)
		}
	})
	time.Sleep(50 * time.Millisecond) // the watch is set up
	wait := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for c.Current().Version < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := c.Current().Version; got != want {
			t.Fatalf("running version %d, want %d; status %+v", got, want, c.Status())
		}
	}
	return c, wait
}

// settle waits several debounce periods and checks that no further
// reload happened: one change, one reload.
func settle(t *testing.T, c *reload.Controller, want int) {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	if got := c.Current().Version; got != want {
		t.Fatalf("running version %d after the change settled, want exactly %d", got, want)
	}
}

const watchExtra = "reload: {debounce: 100ms}\n"

// TestWatchEditorRename: an editor that saves by writing a temporary file
// and renaming it over the configuration reloads exactly once; a write to
// another file in the directory reloads nothing.
func TestWatchEditorRename(t *testing.T) {
	a, b := upstream(t, 200, "a"), upstream(t, 200, "b")
	dir := t.TempDir()
	path := filepath.Join(dir, "levee.yaml")
	if err := os.WriteFile(path, []byte(doc([]string{a.URL}, watchExtra)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, wait := watchFile(t, path)

	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".levee.yaml.swp")
	if err := os.WriteFile(tmp, []byte(doc([]string{b.URL}, watchExtra)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	wait(2)
	settle(t, c, 2)
	if got := c.Current().Source; got != reload.SourceFile {
		t.Fatalf("source %q, want file", got)
	}
}

// TestWatchConfigMapSwap: a Kubernetes ConfigMap update (the file is a
// link through "..data", and the update swaps "..data" to a new
// directory by renaming a new link over it) reloads exactly once.
func TestWatchConfigMapSwap(t *testing.T) {
	a, b := upstream(t, 200, "a"), upstream(t, 200, "b")
	dir := t.TempDir()
	version := func(name, content string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "levee.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_00_00_00.1", doc([]string{a.URL}, watchExtra))
	must(t, os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/levee.yaml", filepath.Join(dir, "levee.yaml")))
	c, wait := watchFile(t, filepath.Join(dir, "levee.yaml"))

	// The kubelet's atomic writer: new directory, new link, rename over
	// ..data, remove the old directory.
	version("..2026_01_01_00_01_00.2", doc([]string{b.URL}, watchExtra))
	must(t, os.Symlink("..2026_01_01_00_01_00.2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(t, os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1")))
	wait(2)
	settle(t, c, 2)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
