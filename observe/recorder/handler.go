package recorder

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Handler serves the recorder's snapshots; see [Handler].
func (r *Recorder) Handler() http.Handler { return Handler(r.cfg.Dir) }

// Handler serves the snapshots in dir for an admin listener, relative to
// where it is mounted (use http.StripPrefix):
//
//	GET /            the manifests as a JSON array, newest first
//	GET /{id}/{file} a snapshot's file (trace.out, goroutines.txt,
//	                 heap.pprof, manifest.json) as a download
//
// Only the files of complete snapshots are served: any other path is 404,
// so the handler never reaches outside dir. Other methods get 405.
func Handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.Trim(req.URL.Path, "/")
		if p == "" {
			serveList(w, dir)
			return
		}
		id, file, ok := strings.Cut(p, "/")
		if !ok || !slices.Contains(snapshotFiles, file) {
			http.NotFound(w, req)
			return
		}
		names, err := snapshotDirs(dir)
		if err != nil || !slices.Contains(names, id) {
			http.NotFound(w, req)
			return
		}
		f, err := os.Open(filepath.Join(dir, id, file))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		switch file {
		case FileManifest:
			w.Header().Set("Content-Type", "application/json")
		case FileGoroutines:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+"-"+file+`"`)
		http.ServeContent(w, req, file, st.ModTime(), f)
	})
}

var snapshotFiles = []string{FileTrace, FileGoroutines, FileHeap, FileManifest}

func serveList(w http.ResponseWriter, dir string) {
	list, err := List(dir)
	if err != nil && !os.IsNotExist(err) {
		http.Error(w, "listing snapshots: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if list == nil {
		list = []Manifest{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
