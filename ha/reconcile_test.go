package ha_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
)

func found(name string, p ovm.PowerState) ha.Found {
	return ha.Found{NativeID: "native-" + name, ID: idOf(name), Name: name, Power: p}
}

func record(name, host string) ha.Record {
	r := ha.Record{Instance: idOf(name)}
	if host != "" {
		r.HostID = idOf(host)
	}
	return r
}

func TestReconcile(t *testing.T) {
	b := idOf("b")
	tests := []struct {
		name          string
		found         []ha.Found
		records       []ha.Record
		wantStops     []ha.Stop
		wantStale     []string
		wantRecovered []string
		wantMissing   []ovm.ID
		wantOrphans   []string
	}{
		{
			name:    "a copy restarted elsewhere is stopped",
			found:   []ha.Found{found("web-1", ovm.PowerRunning)},
			records: []ha.Record{record("web-1", "a")},
			wantStops: []ha.Stop{{Instance: idOf("web-1"), NativeID: "native-web-1", Name: "web-1", RunsOn: idOf("a"),
				Reason: "restarted on " + string(idOf("a")) + " while " + string(b) + " was down"}},
		},
		{
			name:      "a paused copy is stopped too",
			found:     []ha.Found{found("web-1", ovm.PowerPaused)},
			records:   []ha.Record{record("web-1", "a")},
			wantStops: []ha.Stop{{Instance: idOf("web-1"), NativeID: "native-web-1", Name: "web-1", RunsOn: idOf("a"), Reason: "restarted on " + string(idOf("a")) + " while " + string(b) + " was down"}},
		},
		{
			name:    "a copy of an instance the platform runs nowhere is stopped",
			found:   []ha.Found{found("web-1", ovm.PowerRunning)},
			records: []ha.Record{record("web-1", "")},
			wantStops: []ha.Stop{{Instance: idOf("web-1"), NativeID: "native-web-1", Name: "web-1",
				Reason: "the platform runs it nowhere since " + string(b) + " failed"}},
		},
		{
			name:      "a stopped stale copy is only reported",
			found:     []ha.Found{found("web-1", ovm.PowerStopped)},
			records:   []ha.Record{record("web-1", "a")},
			wantStale: []string{"web-1"},
		},
		{
			name:          "instances still recorded on the host are recovered or missing",
			found:         []ha.Found{found("db-2", ovm.PowerStopped), found("db-1", ovm.PowerRunning)},
			records:       []ha.Record{record("db-1", "b"), record("db-2", "b"), record("db-3", "b")},
			wantRecovered: []string{"db-1", "db-2"},
			wantMissing:   []ovm.ID{idOf("db-3")},
		},
		{
			name:        "unmanaged instances are left alone, unknown ids are orphans",
			found:       []ha.Found{{NativeID: "c0ffee", Name: "hand-made", Power: ovm.PowerRunning}, found("gone", ovm.PowerRunning)},
			wantOrphans: []string{"gone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ha.Reconcile(ha.Return{Host: b, Found: tt.found, Records: tt.records, At: epoch})
			require.NoError(t, err)
			namesOf := func(fs []ha.Found) []string {
				var out []string
				for _, f := range fs {
					out = append(out, f.Name)
				}
				return out
			}
			assert.Equal(t, tt.wantStops, got.Stops, "stops: got %+v, want %+v", got.Stops, tt.wantStops)
			assert.Equal(t, tt.wantStale, namesOf(got.Stale), "stale: got %v, want %v", namesOf(got.Stale), tt.wantStale)
			assert.Equal(t, tt.wantRecovered, namesOf(got.Recovered), "recovered: got %v, want %v", namesOf(got.Recovered), tt.wantRecovered)
			assert.Equal(t, tt.wantMissing, got.Missing, "missing: got %v, want %v", got.Missing, tt.wantMissing)
			assert.Equal(t, tt.wantOrphans, namesOf(got.Orphans), "orphans: got %v, want %v", namesOf(got.Orphans), tt.wantOrphans)
			assert.Equal(t, len(tt.wantStops) == 0, got.MayMarkUp, "may mark up: got %v with %d stops", got.MayMarkUp, len(got.Stops))
			if len(tt.wantStops) > 0 {
				require.Len(t, got.Alerts, 1, "alerts: got %v, want one", got.Alerts)
				assert.Equal(t, ha.AlertStaleCopies, got.Alerts[0].Kind, "alert: got %s", got.Alerts[0].Kind)
			} else {
				assert.Empty(t, got.Alerts, "alerts: got %v, want none", got.Alerts)
			}
		})
	}
}

func TestReconcileRefuses(t *testing.T) {
	_, err := ha.Reconcile(ha.Return{
		Found:   []ha.Found{{Name: "x"}},
		Records: []ha.Record{record("web-1", "a"), record("web-1", "b"), {}},
	})
	require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want an invalid error", err)
	want := []string{"host", "found[0].nativeId", "records[1].instance", "records[2].instance"}
	assert.Equal(t, want, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), want)
}
