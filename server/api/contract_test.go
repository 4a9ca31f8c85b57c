package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// update rewrites the golden files of this package's tests.
var update = flag.Bool("update", false, "rewrite testdata/openapi.golden.json from the served document")

// goldenDocument is the OpenAPI document the server serves, as reviewed.
const goldenDocument = "testdata/openapi.golden.json"

// servedDocument returns /openapi.json indented, as the golden file keeps
// it.
func servedDocument(t *testing.T, e *env) []byte {
	t.Helper()
	r := e.must(http.StatusOK, "GET", "/openapi.json", "", nil)
	require.Contains(t, r.header.Get("Content-Type"), "json", "the document's content type")
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, r.body, "", "  "), "the document is not JSON")
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestOpenAPIGolden compares the served OpenAPI document with the reviewed
// one in testdata; go test -run TestOpenAPIGolden -update rewrites it.
func TestOpenAPIGolden(t *testing.T) {
	got := servedDocument(t, newEnv(t, openSQLite(t)))
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenDocument), 0o755))
		require.NoError(t, os.WriteFile(goldenDocument, got, 0o644))
	}
	want, err := os.ReadFile(goldenDocument)
	require.NoError(t, err, "read the golden document (go test ./server/api -run TestOpenAPIGolden -update writes it)")
	if d := firstDifference(string(want), string(got)); d != "" {
		t.Fatalf("the served OpenAPI document differs from %s: review the change, then rerun with -update\n%s", goldenDocument, d)
	}
}

// firstDifference describes where got first differs from want, line by
// line, with a few lines around it; "" when they are equal.
func firstDifference(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	around := func(lines []string) string {
		return strings.Join(lines[max(i-3, 0):min(i+4, len(lines))], "\n")
	}
	return fmt.Sprintf("first difference at line %d (%d lines golden, %d served)\n--- golden:\n%s\n+++ served:\n%s",
		i+1, len(w), len(g), around(w), around(g))
}

// TestNoRouteProblem: unknown routes and wrong methods answer RFC 9457
// problems like every other error, 405 with the path's methods in Allow.
func TestNoRouteProblem(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/nothing", http.StatusNotFound, ""},
		{"GET", "/nothing/at/all", http.StatusNotFound, ""},
		{"POST", "/v1/instances/" + string(ovm.NewID()) + "/nothing", http.StatusNotFound, ""},
		{"GET", "/", http.StatusNotFound, ""},
		{"DELETE", "/v1/tasks", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT", "/v1/instances", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"POST", "/v1/instances/" + string(ovm.NewID()), http.StatusMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/openapi.json", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, e.admin, nil)
			require.Equal(t, tc.status, r.status, "got %s", r)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.Equal(t, tc.allow, r.header.Get("Allow"), "Allow")
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
			}
			r.decode(t, &p)
			assert.Equal(t, "about:blank", p.Type, "the problem's type")
			assert.Equal(t, tc.status, p.Status, "the problem's status")
			assert.Equal(t, http.StatusText(tc.status), p.Title, "the problem's title")
			assert.NotEmpty(t, p.Detail, "the problem's detail")
		})
	}
	long := "/v1/" + strings.Repeat("x", 5000)
	r := e.do("GET", long, "", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	assert.Less(t, len(r.body), 1000, "a long unknown path is not echoed whole: %d bytes", len(r.body))
	metrics := string(e.must(http.StatusOK, "GET", "/metrics", e.admin, nil).body)
	assert.Contains(t, metrics, `ovm_http_requests_total{method="GET",route="unknown",status="404"}`, "unknown routes are counted")
}

// openapiDoc is the part of the OpenAPI document the contract tests read.
type openapiDoc struct {
	Info struct {
		Contact *struct {
			URL string `json:"url"`
		} `json:"contact"`
	} `json:"info"`
	Servers []struct {
		URL string `json:"url"`
	} `json:"servers"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths map[string]map[string]struct {
		OperationID string   `json:"operationId"`
		Description string   `json:"description"`
		Tags        []string `json:"tags"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

// TestOperationsDocumented: every operation has a description and declared
// tags; the document names its server and contact; the streams declare
// their events; list-tokens pages like every list; the console takes no
// Accept parameter.
func TestOperationsDocumented(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	var doc openapiDoc
	e.must(http.StatusOK, "GET", "/openapi.json", "", nil).decode(t, &doc)
	require.NotNil(t, doc.Info.Contact, "info.contact")
	assert.NotEmpty(t, doc.Info.Contact.URL, "info.contact.url")
	require.NotEmpty(t, doc.Servers, "servers")
	declared := map[string]bool{}
	for _, tg := range doc.Tags {
		assert.NotEmpty(t, tg.Description, "tag %s has no description", tg.Name)
		declared[tg.Name] = true
	}
	used := map[string]bool{}
	byID := map[string]string{} // operation id -> "METHOD path"
	for path, methods := range doc.Paths {
		for method, o := range methods {
			byID[o.OperationID] = method + " " + path
			assert.NotEmpty(t, o.Description, "%s %s (%s) has no description", method, path, o.OperationID)
			assert.NotEmpty(t, o.Tags, "%s has no tag", o.OperationID)
			for _, tg := range o.Tags {
				assert.True(t, declared[tg], "%s: tag %q is not declared", o.OperationID, tg)
				used[tg] = true
			}
		}
	}
	for name := range declared {
		assert.True(t, used[name], "tag %q is declared but no operation has it", name)
	}
	for id := range operationDocs {
		assert.Contains(t, byID, id, "operationDocs describes %s, which no route registers", id)
	}

	params := func(path, method string) map[string]string {
		out := map[string]string{}
		for _, p := range doc.Paths[path][method].Parameters {
			out[p.Name] = p.In
		}
		return out
	}
	assert.Equal(t, map[string]string{"cursor": "query", "limit": "query"}, params("/v1/tokens", "get"), "list-tokens pages by cursor and limit")
	assert.NotContains(t, params("/v1/instances/{id}/console", "get"), "Accept", "the console takes no Accept parameter")

	for _, tc := range []struct {
		path   string
		events []string
	}{
		{"/v1/tasks/{id}/events", []string{"task"}},
		{"/v1/instances/{id}/console", []string{"output", "end"}},
	} {
		content := doc.Paths[tc.path]["get"].Responses["200"].Content
		require.Contains(t, content, "text/event-stream", "%s declares text/event-stream", tc.path)
		var s struct {
			Type  string `json:"type"`
			Items struct {
				OneOf []struct {
					Required   []string `json:"required"`
					Properties struct {
						Event struct {
							Enum []string `json:"enum"`
						} `json:"event"`
						Data json.RawMessage `json:"data"`
					} `json:"properties"`
				} `json:"oneOf"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(content["text/event-stream"].Schema, &s))
		assert.Equal(t, "array", s.Type, "%s: a stream is a sequence of events", tc.path)
		var names []string
		for _, ev := range s.Items.OneOf {
			names = append(names, ev.Properties.Event.Enum...)
			assert.NotEmpty(t, ev.Properties.Data, "%s: event %v has no data schema", tc.path, ev.Properties.Event.Enum)
			assert.ElementsMatch(t, []string{"event", "data"}, ev.Required)
		}
		assert.Equal(t, tc.events, names, "%s: the events of the stream", tc.path)
	}
}

// TestListTokensPaged: list-tokens pages by cursor and limit with a Link
// to the next page, like every list.
func TestListTokensPaged(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	want := map[string]bool{}
	for i := range 4 {
		var tok struct {
			ID string `json:"id"`
		}
		e.must(http.StatusCreated, "POST", "/v1/tokens", e.admin, map[string]any{"name": "t" + strconv.Itoa(i)}).decode(t, &tok)
		want[tok.ID] = true
	}
	var me struct {
		ID string `json:"id"`
	}
	e.must(http.StatusOK, "GET", "/v1/me", e.admin, nil).decode(t, &me)
	pages, seen := 0, map[string]bool{}
	path := "/v1/tokens?limit=2"
	for path != "" {
		r := e.must(http.StatusOK, "GET", path, e.admin, nil)
		var pg struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Next string `json:"next"`
		}
		r.decode(t, &pg)
		pages++
		assert.LessOrEqual(t, len(pg.Items), 2, "page %d holds at most limit items", pages)
		for _, it := range pg.Items {
			assert.False(t, seen[it.ID], "token %s on two pages", it.ID)
			seen[it.ID] = true
		}
		path = ""
		if pg.Next != "" {
			assert.Equal(t, `</v1/tokens?cursor=`+pg.Next+`&limit=2>; rel="next"`, r.header.Get("Link"), "the Link to the next page")
			path = "/v1/tokens?limit=2&cursor=" + pg.Next
		} else {
			assert.Empty(t, r.header.Get("Link"), "no Link after the last page")
		}
		require.Less(t, pages, 10, "the pages do not end")
	}
	assert.Equal(t, 3, pages, "4 tokens and the admin's session in pages of 2")
	assert.Len(t, seen, 5, "every token and the session once")
	for id := range want {
		assert.True(t, seen[id], "token %s is on no page", id)
	}
	r := e.do("GET", "/v1/tokens?vdcId="+me.ID, e.admin, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "vdcId does not apply to tokens: got %s", r)
	r = e.do("GET", "/v1/tokens?cursor=not-a-cursor", e.admin, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a cursor this server did not return: got %s", r)
}

// TestProblemsTyped: every problem carries its type, which the document
// gives as a default (generated clients take it as always present).
func TestProblemsTyped(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"no token", "GET", "/v1/me", "", nil, http.StatusUnauthorized},
		{"unknown token", "GET", "/v1/me", "ovm_not-a-token", nil, http.StatusUnauthorized},
		{"bad body", "POST", "/v1/login", "", `{"name": 1}`, http.StatusUnprocessableEntity},
		{"unknown field", "POST", "/v1/datacenters", e.admin, map[string]any{"name": "dc", "nope": 1}, http.StatusUnprocessableEntity},
		{"not found", "GET", "/v1/instances/" + string(ovm.NewID()), e.admin, nil, http.StatusNotFound},
		{"no such task to watch", "GET", "/v1/tasks/" + string(ovm.NewID()) + "/events", e.admin, nil, http.StatusNotFound},
		{"delete of nothing", "DELETE", "/v1/datacenters/" + string(ovm.NewID()), e.admin, nil, http.StatusNotFound},
		{"no route", "GET", "/v2/anything", "", nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			require.Equal(t, tc.status, r.status, "got %s", r)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			r.decode(t, &p)
			assert.Equal(t, problemType, p.Type, "the problem's type")
			assert.Equal(t, tc.status, p.Status, "the problem's status")
		})
	}
}
