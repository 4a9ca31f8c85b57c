//go:build integration

package api

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/pgtest"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// bareSelectHandler answers GET /v1/instances/{id} with a bare net/http
// handler that runs the same single-row SELECT of the record on the same
// database and writes its JSON: the fair floor of a stateless replica.
func bareSelectHandler(db *sql.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data []byte
		var ver int64
		err := db.QueryRowContext(r.Context(), `SELECT data, version FROM records WHERE kind = $1 AND id = $2`,
			string(store.KindInstance), r.PathValue("id")).Scan(&data, &ver)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	})
}

// BenchmarkGetInstancePostgres GETs one instance through the full stack on
// PostgreSQL and, interleaved, from a bare net/http handler running the
// same single-row SELECT on the same database, over loopback TCP, and
// reports both medians and their ratio (the goal at most 1.3).
func BenchmarkGetInstancePostgres(b *testing.B) {
	url := pgtest.Schema(b)
	e, inst, token := benchInstance(b, func(t testing.TB) store.Store {
		st, err := sqlstore.OpenPostgres(b.Context(), url, sqlstore.WithMaxConns(32))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
	db, err := sql.Open("pgx", url)
	require.NoError(b, err)
	b.Cleanup(func() { _ = db.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /v1/instances/{id}", bareSelectHandler(db))
	full := httptest.NewServer(e.h)
	defer full.Close()
	bare := httptest.NewServer(mux)
	defer bare.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	fullURL, bareURL := full.URL+"/v1/instances/"+string(inst.ID), bare.URL+"/v1/instances/"+string(inst.ID)
	interleaved(b, c, fullURL, token, bareURL, 20)
}
