package core

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/store"
)

// The record kinds of Chef automation: registered servers (platform
// scope), instances' enrolments (one per instance, its id the instance's,
// in the instance's VDC) and bulk converge runs (VDC scope).
const (
	kindChefServer store.Kind = "chefserver"
	kindChefNode   store.Kind = "chefnode"
	kindChefRun    store.Kind = "chefrun"
)

// The defaults of a Chef server's converges.
const (
	DefaultConvergeTimeout = 600 * time.Second
	// chefDialTimeout bounds each request OVM makes to a Chef server.
	chefDialTimeout = 30 * time.Second
)

// DefaultConvergeCommand is what converges a guest unless the server says
// otherwise.
var defaultConvergeCommand = []string{"chef-client"}

// ChefServer is a registered Chef server as the API shows it.
type ChefServer = apitypes.ChefServer

// chefServerRecord is a stored Chef server: the API client's private key is
// sealed with the secrets box, bound to the server's id, and never leaves
// the service.
type chefServerRecord struct {
	apitypes.ChefServer
	Sealed []byte `json:"sealed"`
	// version is the record's version when it was read.
	version int64
}

func (r *chefServerRecord) setVersion(v int64) { r.version = v }

// config is the connection of the record with its opened key.
func (s *Service) chefConfig(r chefServerRecord) (chef.Config, error) {
	key, err := s.box.Open(r.Sealed, []byte(r.ID))
	if err != nil {
		return chef.Config{}, fmt.Errorf("core: key of chef server %s: %w", r.Name, err)
	}
	cfg := chef.Config{URL: r.URL, Organization: r.Organization, ClientName: r.ClientName, Key: key, Timeout: chefDialTimeout}
	if r.TLS != nil {
		cfg.InsecureSkipVerify, cfg.CACert = r.TLS.InsecureSkipVerify, r.TLS.CACert
	}
	return cfg, nil
}

// chefClients keeps a client per server record version, so that a key is
// opened once per change of the record, not on every call.
type chefClients struct {
	mu      sync.Mutex
	clients map[ovm.ID]chefClientEntry
}

type chefClientEntry struct {
	version int64
	c       *chef.Client
}

// chefClient returns the client of a stored server.
func (s *Service) chefClient(r chefServerRecord) (*chef.Client, error) {
	s.chefs.mu.Lock()
	e, ok := s.chefs.clients[r.ID]
	s.chefs.mu.Unlock()
	if ok && e.version == r.version && r.version != 0 {
		return e.c, nil
	}
	cfg, err := s.chefConfig(r)
	if err != nil {
		return nil, err
	}
	c, err := chef.Dial(cfg)
	if err != nil {
		return nil, err
	}
	s.chefs.mu.Lock()
	if s.chefs.clients == nil {
		s.chefs.clients = map[ovm.ID]chefClientEntry{}
	}
	s.chefs.clients[r.ID] = chefClientEntry{version: r.version, c: c}
	s.chefs.mu.Unlock()
	return c, nil
}

// chefServerByID reads a server record and its client (no tenancy: servers
// are shared by every VDC).
func (s *Service) chefServerByID(ctx context.Context, id ovm.ID) (chefServerRecord, *chef.Client, error) {
	if !id.Valid() {
		return chefServerRecord{}, nil, ovm.NotFound("chef server", id)
	}
	r, err := viewAs[chefServerRecord](ctx, s, kindChefServer, id)
	if err != nil {
		if ovm.KindOf(err) == ovm.KindNotFound {
			return r, nil, ovm.NotFound("chef server", id)
		}
		return r, nil, err
	}
	c, err := s.chefClient(r)
	return r, c, err
}

// checkConvergeCommand names what is wrong with a converge command.
func checkConvergeCommand(f *ovm.Fields, field string, cmd []string) {
	if len(cmd) > maxExecArgs {
		f.Addf(field, "must have at most %d arguments", maxExecArgs)
	}
	for i, a := range cmd {
		if a == "" && i == 0 || len(a) > maxExecArg || strings.IndexByte(a, 0) >= 0 {
			f.Addf(fmt.Sprintf("%s[%d]", field, i), "must be at most %d bytes without NUL (the first names a program)", maxExecArg)
		}
	}
}

// checkGuestURL names a guest URL that is not an http(s) URL.
func checkGuestURL(f *ovm.Fields, field, u string) {
	if u == "" {
		return
	}
	if r := chef.URLProblem(u); r != "" {
		f.Add(field, r)
	}
}

// RegisterChefServer checks that a Chef server answers and accepts the
// client's key, and records it (administrators). A server that does not
// answer, or refuses the client, is ovm.ErrUnavailable with its own text.
func (s *Service) RegisterChefServer(ctx context.Context, p auth.Principal, in apitypes.ChefServerCreate) (ChefServer, error) {
	if err := requireAdmin(p, "registering chef servers"); err != nil {
		return ChefServer{}, err
	}
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	cfg := chef.Config{URL: in.URL, Organization: in.Organization, ClientName: in.ClientName, Key: []byte(in.Key),
		InsecureSkipVerify: in.TLS.InsecureSkipVerify, CACert: in.TLS.CACert, Timeout: chefDialTimeout}
	f.Merge("", cfg.Validate(""))
	checkGuestURL(&f, "guestUrl", in.GuestURL)
	checkConvergeCommand(&f, "convergeCommand", in.ConvergeCommand)
	if in.ConvergeTimeoutSeconds < 0 || in.ConvergeTimeoutSeconds > 3600 {
		f.Add("convergeTimeoutSeconds", "must be between 0 and 3600")
	}
	if err := f.Err("invalid chef server"); err != nil {
		return ChefServer{}, err
	}
	c, err := chef.Dial(cfg)
	if err != nil {
		return ChefServer{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	if err := c.Check(cctx); err != nil {
		return ChefServer{}, ovm.Wrap(ovm.KindUnavailable, err, "chef server %s at %s did not accept OVM's client %s", in.Name, in.URL, in.ClientName)
	}
	srv := ChefServer{ID: ovm.NewID(), Name: in.Name, Organization: in.Organization, URL: in.URL, ClientName: in.ClientName,
		GuestURL: in.GuestURL, ConvergeCommand: slices.Clone(in.ConvergeCommand), ConvergeTimeoutSeconds: in.ConvergeTimeoutSeconds, CreatedAt: s.now()}
	if in.TLS != (apitypes.ChefTLS{}) {
		tls := in.TLS
		srv.TLS = &tls
	}
	fillChefDefaults(&srv)
	sealed, err := s.box.Seal([]byte(in.Key), []byte(srv.ID))
	if err != nil {
		return ChefServer{}, err
	}
	req := in
	req.Key = fmt.Sprintf("%x", sha256.Sum256([]byte(in.Key)))
	var out ChefServer
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "chefserver.register", in.IdempotencyKey, req, &out, func() error {
			if _, err := tx.GetByName(ctx, kindChefServer, "", in.Name); err == nil {
				return nameTaken(kindChefServer, in.Name, "name")
			} else if ovm.KindOf(err) != ovm.KindNotFound {
				return err
			}
			rec := store.Record{Kind: kindChefServer, ID: srv.ID, Name: srv.Name}
			if err := setData(&rec, chefServerRecord{ChefServer: srv, Sealed: sealed}); err != nil {
				return err
			}
			out = srv
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// fillChefDefaults sets the converge command and timeout a server left
// out.
func fillChefDefaults(srv *ChefServer) {
	if len(srv.ConvergeCommand) == 0 {
		srv.ConvergeCommand = slices.Clone(defaultConvergeCommand)
	}
	if srv.ConvergeTimeoutSeconds == 0 {
		srv.ConvergeTimeoutSeconds = int(DefaultConvergeTimeout / time.Second)
	}
}

// tenantChefServer is what a tenant sees of a server: its id, name and
// organisation.
func tenantChefServer(p auth.Principal, srv ChefServer) ChefServer {
	if p.Admin() {
		return srv
	}
	return ChefServer{ID: srv.ID, Name: srv.Name, Organization: srv.Organization, CreatedAt: srv.CreatedAt}
}

// GetChefServer returns a Chef server and its version; tenants read its
// id, name and organisation.
func (s *Service) GetChefServer(ctx context.Context, p auth.Principal, id ovm.ID) (ChefServer, int64, error) {
	if !id.Valid() {
		return ChefServer{}, 0, ovm.NotFound("chef server", id)
	}
	var out ChefServer
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, rec, err := getAs[chefServerRecord](ctx, tx, kindChefServer, id)
		out, ver = tenantChefServer(p, r.ChefServer), rec.Version
		return err
	})
	return out, ver, err
}

// ListChefServers lists the Chef servers (every principal: tenants pick
// one to enrol their instances in).
func (s *Service) ListChefServers(ctx context.Context, p auth.Principal, o ListOptions) (Page[ChefServer], error) {
	var out Page[ChefServer]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, store.Filter{Kind: kindChefServer}, o, func(r store.Record) (ChefServer, error) {
			v, err := decode[chefServerRecord](r)
			return tenantChefServer(p, v.ChefServer), err
		})
		return err
	})
	return out, err
}

// UpdateChefServer changes a server's key, guest URL, TLS settings or
// converge command (administrators). A new key or TLS setting is checked
// against the server first.
func (s *Service) UpdateChefServer(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.ChefServerPatch, ifVersion int64) (ChefServer, int64, error) {
	cur, _, err := getPlatformAs[chefServerRecord](ctx, s, p, kindChefServer, id)
	if err != nil {
		return ChefServer{}, 0, err
	}
	var f ovm.Fields
	if in.GuestURL != nil {
		checkGuestURL(&f, "guestUrl", *in.GuestURL)
	}
	if in.ConvergeCommand != nil {
		checkConvergeCommand(&f, "convergeCommand", *in.ConvergeCommand)
	}
	if in.ConvergeTimeoutSeconds != nil && (*in.ConvergeTimeoutSeconds < 0 || *in.ConvergeTimeoutSeconds > 3600) {
		f.Add("convergeTimeoutSeconds", "must be between 0 and 3600")
	}
	var sealed []byte
	if in.Key != nil || in.TLS != nil {
		cfg, err := s.chefConfig(cur)
		if err != nil {
			return ChefServer{}, 0, err
		}
		if in.Key != nil {
			cfg.Key = []byte(*in.Key)
		}
		if in.TLS != nil {
			cfg.InsecureSkipVerify, cfg.CACert = in.TLS.InsecureSkipVerify, in.TLS.CACert
		}
		f.Merge("", cfg.Validate(""))
		if err := f.Err("invalid chef server"); err != nil {
			return ChefServer{}, 0, err
		}
		c, err := chef.Dial(cfg)
		if err != nil {
			return ChefServer{}, 0, err
		}
		cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
		defer cancel()
		if err := c.Check(cctx); err != nil {
			return ChefServer{}, 0, ovm.Wrap(ovm.KindUnavailable, err, "chef server %s did not accept the new settings", cur.Name)
		}
		if sealed, err = s.box.Seal(cfg.Key, []byte(id)); err != nil {
			return ChefServer{}, 0, err
		}
	}
	if err := f.Err("invalid chef server"); err != nil {
		return ChefServer{}, 0, err
	}
	out, ver, err := updatePlatform(ctx, s, p, kindChefServer, id, ifVersion, func(r *chefServerRecord) error {
		if sealed != nil {
			r.Sealed = sealed
		}
		if in.GuestURL != nil {
			r.GuestURL = *in.GuestURL
		}
		if in.TLS != nil {
			tls := *in.TLS
			r.TLS = &tls
			if tls == (apitypes.ChefTLS{}) {
				r.TLS = nil
			}
		}
		if in.ConvergeCommand != nil {
			r.ConvergeCommand = slices.Clone(*in.ConvergeCommand)
		}
		if in.ConvergeTimeoutSeconds != nil {
			r.ConvergeTimeoutSeconds = *in.ConvergeTimeoutSeconds
		}
		fillChefDefaults(&r.ChefServer)
		return nil
	})
	return out.ChefServer, ver, err
}

// DeleteChefServer removes a server no instance is enrolled in.
func (s *Service) DeleteChefServer(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, kindChefServer, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		n, err := tx.Count(ctx, store.Filter{Kind: kindChefNode, AllVDCs: true, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("chef server %s still has %d enrolled instances: unenrol them first", r.Name, n)
		}
		return tx.Delete(ctx, kindChefServer, id, r.Version)
	})
	if err == nil {
		s.chefs.mu.Lock()
		delete(s.chefs.clients, id)
		s.chefs.mu.Unlock()
	}
	return err
}

// ChefCatalog reads a server's cookbooks, roles and environments (every
// principal). A server that does not answer is ovm.ErrUnavailable with its
// text.
func (s *Service) ChefCatalog(ctx context.Context, p auth.Principal, id ovm.ID) (apitypes.ChefCatalog, error) {
	_, c, err := s.chefServerByID(ctx, id)
	if err != nil {
		return apitypes.ChefCatalog{}, err
	}
	cat, err := c.Catalog(ctx)
	if err != nil {
		return apitypes.ChefCatalog{}, chefUnavailable(err)
	}
	out := apitypes.ChefCatalog{Cookbooks: []apitypes.ChefCookbook{}, Roles: []apitypes.ChefRole{}, Environments: []apitypes.ChefEnvironment{}}
	for _, cb := range cat.Cookbooks {
		c := apitypes.ChefCookbook{Name: cb.Name, Versions: []apitypes.ChefCookbookVersion{}}
		for _, v := range cb.Versions {
			c.Versions = append(c.Versions, apitypes.ChefCookbookVersion{Version: v.Version, Recipes: v.Recipes})
		}
		out.Cookbooks = append(out.Cookbooks, c)
	}
	for _, r := range cat.Roles {
		out.Roles = append(out.Roles, apitypes.ChefRole{Name: r.Name, Description: r.Description, RunList: r.RunList})
	}
	for _, e := range cat.Environments {
		out.Environments = append(out.Environments, apitypes.ChefEnvironment{Name: e.Name, Description: e.Description})
	}
	return out, nil
}

// chefUnavailable turns an error of a Chef server that is not a refusal of
// the request (a bad run list) into ovm.ErrUnavailable with its text.
func chefUnavailable(err error) error {
	switch ovm.KindOf(err) {
	case ovm.KindInvalid, ovm.KindUnavailable:
		return err
	}
	return ovm.Wrap(ovm.KindUnavailable, err, "the chef server could not be read")
}
