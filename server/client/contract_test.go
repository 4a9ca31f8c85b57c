package client_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/client/clienttest"
)

// openAPISchema is the part of a JSON schema the contract test reads.
type openAPISchema struct {
	Ref                  string                    `json:"$ref"`
	Type                 any                       `json:"type"`
	Properties           map[string]*openAPISchema `json:"properties"`
	Items                *openAPISchema            `json:"items"`
	AdditionalProperties any                       `json:"additionalProperties"`
}

type openAPIDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		RequestBody *struct {
			Content map[string]struct {
				Schema *openAPISchema `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]*openAPISchema `json:"schemas"`
	} `json:"components"`
}

// servedDoc reads the OpenAPI document of a running API.
func servedDoc(t *testing.T, srv *clienttest.Server) openAPIDoc {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/openapi.json", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc openAPIDoc
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	return doc
}

// conveniences are the request bodies the client builds from plain
// arguments (Login(name, password), ResizeVolume(id, size), ...) rather
// than taking them whole.
var conveniences = []any{apitypes.Login{}, apitypes.TokenCreate{}, apitypes.VolumePatch{}, apitypes.Maintenance{}, apitypes.QuotaChange{}, apitypes.VolumeAttach{}}

// clientBodies returns the request types the client sends by name: the
// apitypes parameters of its methods and the conveniences.
func clientBodies() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	apitypesPkg := reflect.TypeFor[apitypes.Login]().PkgPath()
	ct := reflect.TypeFor[*client.Client]()
	for m := range ct.Methods() {
		for in := range m.Type.Ins() {
			for in.Kind() == reflect.Pointer {
				in = in.Elem()
			}
			if in.PkgPath() == apitypesPkg && in.Kind() == reflect.Struct {
				out[in.Name()] = in
			}
		}
	}
	for _, v := range conveniences {
		t := reflect.TypeOf(v)
		out[t.Name()] = t
	}
	return out
}

// jsonFields returns the JSON names of a struct's fields, with embedded
// structs' fields inlined, and the field of each.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// compare checks that the schema s has exactly the JSON fields of t, at
// every level where both are objects.
func compare(t *testing.T, doc openAPIDoc, path string, s *openAPISchema, typ reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	for s != nil && s.Ref != "" {
		s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if s == nil {
		t.Errorf("%s: no schema", path)
		return
	}
	switch {
	case typ.Kind() == reflect.Slice && s.Items != nil:
		compare(t, doc, path+"[]", s.Items, typ.Elem(), seen)
		return
	case typ.Kind() != reflect.Struct || s.Properties == nil || seen[typ]:
		return
	}
	seen[typ] = true
	fields := jsonFields(typ)
	var goNames, apiNames []string
	for k := range fields {
		goNames = append(goNames, k)
	}
	for k := range s.Properties {
		apiNames = append(apiNames, k)
	}
	sort.Strings(goNames)
	sort.Strings(apiNames)
	if !assert.Equal(t, apiNames, goNames, "%s: the API's fields (want) and the client's (got)", path) {
		return
	}
	for k, ft := range fields {
		compare(t, doc, path+"."+k, s.Properties[k], ft, seen)
	}
}

// TestRequestBodiesMatchAPI walks every request body of the served OpenAPI
// document: the client has a type for it (taken by one of its methods) and
// that type's JSON fields are the API's, at every level.
func TestRequestBodiesMatchAPI(t *testing.T) {
	doc := servedDoc(t, clienttest.Start(t))
	bodies := clientBodies()
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			n++
			if _, raw := op.RequestBody.Content["application/octet-stream"]; raw {
				continue // a file's bytes (an image upload): no type to compare
			}
			mt, ok := op.RequestBody.Content["application/json"]
			if raw, binary := op.RequestBody.Content["application/x-tar"]; !ok && binary {
				// A stream the client sends as it is (an io.Reader).
				assert.Equal(t, "string", raw.Schema.Type, "%s %s: a tar body is a byte string", method, path)
				continue
			}
			require.True(t, ok, "%s %s: no JSON body", method, path)
			name := strings.TrimPrefix(mt.Schema.Ref, "#/components/schemas/")
			typ, ok := bodies[name]
			if !assert.True(t, ok, "%s (%s %s): the client sends no %s; it sends %v", op.OperationID, method, path, name, slices.Sorted(mapsKeys(bodies))) {
				continue
			}
			compare(t, doc, op.OperationID, mt.Schema, typ, map[reflect.Type]bool{})
		}
	}
	assert.GreaterOrEqual(t, n, 20, "operations with a body")
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
