package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// routeMethods are the methods noRoute tries when it looks for the ones a
// path answers to.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noRoute answers what no route of mux takes, as a problem like every other
// error: 405 with Allow when the path answers to other methods, 404
// otherwise. It is mux's catch-all ("/"), so it asks mux which methods the
// path has by matching the request under each of them.
func noRoute(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if len(path) > maxEcho {
			path = path[:maxEcho] + "..."
		}
		var allow []string
		for _, m := range routeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writePlainProblem(w, http.StatusMethodNotAllowed, r.Method+" is not a method of "+path+"; it answers to "+strings.Join(allow, ", "))
			return
		}
		writePlainProblem(w, http.StatusNotFound, "no route "+path)
	}
}

// writePlainProblem writes an RFC 9457 problem outside huma.
func writePlainProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&huma.ErrorModel{Type: problemType, Status: status, Title: http.StatusText(status), Detail: detail})
}
