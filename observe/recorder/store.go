package recorder

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// snapshotDirs returns the names of the complete snapshots in dir, oldest
// first (ids sort by time).
func snapshotDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), tmpSuffix) {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), FileManifest)); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// prune removes the oldest snapshots until at most MaxSnapshots remain and
// their total size is within MaxDirBytes. It never removes keep, the
// snapshot just written.
func (r *Recorder) prune(keep string) {
	names, err := snapshotDirs(r.cfg.Dir)
	if err != nil {
		return
	}
	sizes := make([]int64, len(names))
	var total int64
	for i, n := range names {
		sizes[i] = dirSize(filepath.Join(r.cfg.Dir, n))
		total += sizes[i]
	}
	count := len(names)
	for i, n := range names {
		if count <= r.cfg.MaxSnapshots && total <= r.cfg.MaxDirBytes {
			return
		}
		if n == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.cfg.Dir, n)); err != nil {
			continue
		}
		r.gone.Add(1)
		count--
		total -= sizes[i]
	}
}

// List returns the manifests of the snapshots in the directory, newest
// first. A snapshot whose manifest cannot be read is skipped.
func (r *Recorder) List() ([]Manifest, error) {
	return List(r.cfg.Dir)
}

// List returns the manifests of the snapshots in dir, newest first, so a
// process that did not write them (an admin tool) can read them too.
func List(dir string) ([]Manifest, error) {
	names, err := snapshotDirs(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Manifest, 0, len(names))
	for _, n := range slices.Backward(names) {
		b, err := os.ReadFile(filepath.Join(dir, n, FileManifest))
		if err != nil {
			continue
		}
		var m Manifest
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
