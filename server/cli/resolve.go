package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

// named is an object the CLI can find by name.
type named struct {
	id   ovm.ID
	name string
}

// resolveIn finds ref (an id, a name or a unique id prefix of at least
// four characters) among the objects list returns.
func resolveIn(kind, ref string, list func() ([]named, error)) (ovm.ID, error) {
	if ref == "" {
		return "", fmt.Errorf("no %s named", kind)
	}
	if id := ovm.ID(ref); id.Valid() {
		return id, nil
	}
	objs, err := list()
	if err != nil {
		return "", err
	}
	var byName, byPrefix []ovm.ID
	for _, o := range objs {
		if o.name == ref {
			byName = append(byName, o.id)
		}
		if len(ref) >= 4 && strings.HasPrefix(string(o.id), ref) {
			byPrefix = append(byPrefix, o.id)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return "", fmt.Errorf("%d %ss are named %q (%s): name one by id", len(byName), kind, ref, joinIDs(byName))
	case len(byPrefix) == 1:
		return byPrefix[0], nil
	case len(byPrefix) > 1:
		return "", fmt.Errorf("%d %ss have ids starting with %q: give more of the id", len(byPrefix), kind, ref)
	}
	return "", fmt.Errorf("no %s named %q", kind, ref)
}

func joinIDs(ids []ovm.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// namesOf maps a list to named objects.
func namesOf[T any](items []T, err error, f func(T) named) ([]named, error) {
	if err != nil {
		return nil, err
	}
	out := make([]named, len(items))
	for i, it := range items {
		out[i] = f(it)
	}
	return out, nil
}

// resolve finds an object of a kind by name or id. vdc limits instance,
// network, volume and vApp lookups to one VDC (administrators).
func (a *app) resolve(kind, ref string, vdc ovm.ID) (ovm.ID, error) {
	cl, err := a.client()
	if err != nil {
		return "", err
	}
	ctx := a.ctx
	o := client.ListOptions{VDCID: string(vdc)}
	var list func() ([]named, error)
	switch kind {
	case "instance":
		list = func() ([]named, error) {
			is, err := cl.ListInstances(ctx, o)
			return namesOf(is, err, func(i ovm.Instance) named { return named{i.ID, i.Name} })
		}
	case "scaling group":
		list = func() ([]named, error) {
			gs, err := cl.ListScalingGroups(ctx, o)
			return namesOf(gs, err, func(g apitypes.ScalingGroup) named { return named{g.ID, g.Name} })
		}
	case "alert rule":
		list = func() ([]named, error) {
			rs, err := cl.ListAlertRules(ctx, o)
			return namesOf(rs, err, func(r apitypes.AlertRule) named { return named{r.ID, r.Name} })
		}
	case "network":
		list = func() ([]named, error) {
			ns, err := cl.ListNetworks(ctx, o)
			return namesOf(ns, err, func(n ovm.Network) named { return named{n.ID, n.Name} })
		}
	case "volume":
		list = func() ([]named, error) {
			vs, err := cl.ListVolumes(ctx, o)
			return namesOf(vs, err, func(v apitypes.VolumeInfo) named { return named{v.ID, v.Name} })
		}
	case "vapp":
		list = func() ([]named, error) {
			vs, err := cl.ListVApps(ctx, o)
			return namesOf(vs, err, func(v apitypes.VAppInfo) named { return named{v.ID, v.Name} })
		}
	case "task":
		list = func() ([]named, error) {
			ts, err := cl.ListTasks(ctx, o)
			return namesOf(ts, err, func(t ovm.Task) named { return named{t.ID, ""} })
		}
	case "discovered object":
		list = func() ([]named, error) {
			ds, err := cl.ListDiscovered(ctx, o)
			return namesOf(ds, err, func(d apitypes.Discovered) named { return named{d.ID, d.Name} })
		}
	case "datacenter":
		list = func() ([]named, error) {
			ds, err := cl.ListDatacenters(ctx)
			return namesOf(ds, err, func(d ovm.Datacenter) named { return named{d.ID, d.Name} })
		}
	case "pool":
		list = func() ([]named, error) {
			ps, err := cl.ListPools(ctx)
			return namesOf(ps, err, func(p ovm.ResourcePool) named { return named{p.ID, p.Name} })
		}
	case "host":
		list = func() ([]named, error) {
			hs, err := cl.ListHosts(ctx)
			return namesOf(hs, err, func(h ovm.Host) named { return named{h.ID, h.Name} })
		}
	case "storage pool":
		list = func() ([]named, error) {
			ps, err := cl.ListStoragePools(ctx, o)
			return namesOf(ps, err, func(p apitypes.StoragePoolInfo) named { return named{p.ID, p.Name} })
		}
	case "image":
		list = func() ([]named, error) {
			is, err := cl.ListImages(ctx, client.ImageQuery{}, o)
			return namesOf(is, err, func(i apitypes.Image) named { return named{i.ID, i.Name} })
		}
	case "vdc":
		list = func() ([]named, error) {
			vs, err := cl.ListVDCs(ctx)
			return namesOf(vs, err, func(v ovm.VDC) named { return named{v.ID, v.Name} })
		}
	case "user":
		list = func() ([]named, error) {
			us, err := cl.ListUsers(ctx)
			return namesOf(us, err, func(u apitypes.User) named { return named{u.ID, u.Name} })
		}
	case "token":
		list = func() ([]named, error) {
			ts, err := cl.ListTokens(ctx)
			return namesOf(ts, err, func(t apitypes.TokenInfo) named { return named{t.ID, t.Name} })
		}
	default:
		return "", fmt.Errorf("cannot look up a %s by name", kind)
	}
	return resolveIn(kind, ref, list)
}

// resolveVDC resolves an optional --vdc flag.
func (a *app) resolveVDC(ref string) (ovm.ID, error) {
	if ref == "" {
		return "", nil
	}
	return a.resolve("vdc", ref, "")
}

// parseCPU reads "500m" (millicpu), "1" or "0.5" (vCPUs).
func parseCPU(s string) (ovm.MilliCPU, error) {
	t := strings.TrimSpace(s)
	if m, ok := strings.CutSuffix(t, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n <= 0 || n > 1e12 {
			return 0, fmt.Errorf("%q is not a CPU amount such as 500m, 1 or 0.5", s)
		}
		return ovm.MilliCPU(n), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	// !(f > 0) also refuses NaN, which no comparison holds for.
	if err != nil || !(f > 0) || math.IsInf(f, 0) || f > 1e9 {
		return 0, fmt.Errorf("%q is not a CPU amount such as 500m, 1 or 0.5", s)
	}
	c := ovm.MilliCPU(math.Round(f * 1000))
	if c <= 0 { // below half a millicpu
		return 0, fmt.Errorf("%q is not a CPU amount such as 500m, 1 or 0.5", s)
	}
	return c, nil
}

// parseSize reads a size such as "256Mi", "1Gi" or "10G" (binary units).
func parseSize(s string) (ovm.Bytes, error) {
	b, err := ovm.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 256Mi or 10Gi", s)
	}
	return b, nil
}

// parsePairs reads KEY=VALUE flags into a map.
func parsePairs(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, v)
		}
		out[k] = val
	}
	return out, nil
}

// newKey returns a random idempotency key for one create.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
