package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"github.com/levee-go/levee/clock"
)

// WatchFile reloads whenever the configuration file changes, until ctx
// ends, and returns nil then (or ErrNoSource without a file, or the
// watch's error). It watches the file's directory, not the file: an
// editor that saves by writing a new file and renaming it over the old
// one, and a Kubernetes ConfigMap, whose files are symbolic links through
// "..data" (itself a link swapped to a new directory on each update), both
// replace the file the watch would have followed. Events on the file's
// name or on a name starting with ".." (the ConfigMap's links) start the
// reload.debounce timer again; when it fires, the file is read and
// applied (Source "file"). A document equal to the running one is a
// no-op, so events that change nothing reload nothing. Events are ignored
// while the running configuration's reload.watch is off, so that turning
// it on or off takes effect with the reload that does it.
func (c *Controller) WatchFile(ctx context.Context) error {
	if c.opts.Path == "" {
		return ErrNoSource
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("reload: watching %s: %w", c.opts.Path, err)
	}
	defer w.Close()
	dir, name := filepath.Split(filepath.Clean(c.opts.Path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("reload: watching %s: %w", dir, err)
	}
	var (
		timer clock.Timer    // the debounce; nil before the first event
		wg    sync.WaitGroup // a reload the timer started
	)
	fire := func() {
		defer wg.Done()
		if ctx.Err() == nil {
			_, _ = c.Reload(ctx) // its outcome is logged, counted and in Status
		}
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			if timer != nil && timer.Stop() {
				wg.Done()
			}
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			c.log.Warn("reload: file watch error", "path", c.opts.Path, "error", err.Error())
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			base := filepath.Base(ev.Name)
			if base != name && !strings.HasPrefix(base, "..") {
				continue
			}
			if ev.Op == fsnotify.Chmod || !c.Config().Reload.Watch {
				continue
			}
			if timer != nil && timer.Stop() {
				wg.Done() // the reload it would have started never will
			}
			wg.Add(1)
			timer = c.clk.AfterFunc(c.Config().Reload.Debounce, fire)
		}
	}
}
