package node

import (
	"embed"
	"io/fs"
	"net/http"
)

// The console: a page at / of the control plane that polls /v1/status
// (the same Status model as the JSON API and `pcs status`) and shows the
// fleet, and per pipeline its plan as a graph, throughput charts,
// partition counts, backpressure, watermark, window state, checkpoints
// and the latest dead letters. Its assets are embedded in the binary;
// the only third-party one, uPlot (charts), is vendored at a pinned
// version with its licence (console/vendor/README.md). The page makes no
// request to any host but the node: the Content-Security-Policy says so
// to the browser too.

//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the page to load and fetch only from the node.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handleConsole adds the console's routes to mux: / (the page) and
// /console/ (its assets).
func handleConsole(mux *http.ServeMux) {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	secure := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", consoleCSP)
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Referrer-Policy", "no-referrer")
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /console/", secure(http.StripPrefix("/console/", files)))
	mux.Handle("GET /{$}", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	})))
}
