package core

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// kindRegistry is a registered container image registry (platform scope).
const kindRegistry store.Kind = "registry"

// Registry is a registered registry as the API shows it.
type Registry = apitypes.Registry

// registryRecord is a stored registry: its password is sealed with the
// secrets box, bound to the registry's id, and never leaves the service.
type registryRecord struct {
	apitypes.Registry
	Sealed []byte `json:"sealed,omitempty"`
}

// conn opens the record's password and returns its connection.
func (s *Service) registryConn(r registryRecord) (*registryConn, error) {
	cfg := registryConfig{Address: r.Address, Username: r.Username, Insecure: r.Insecure}
	if len(r.Sealed) > 0 {
		pw, err := s.box.Open(r.Sealed, []byte(r.ID))
		if err != nil {
			return nil, fmt.Errorf("core: password of registry %s: %w", r.Name, err)
		}
		cfg.Password = string(pw)
	}
	return dialRegistry(cfg)
}

// checkRegistry lists the registry's catalog with cfg: a registry that does
// not answer or refuses the credentials is ovm.ErrUnavailable with its own
// text.
func (s *Service) checkRegistry(ctx context.Context, name string, cfg registryConfig) error {
	c, err := dialRegistry(cfg)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	if _, err := c.Repositories(cctx); err != nil {
		if ovm.KindOf(err) == ovm.KindUnavailable {
			return err
		}
		return ovm.Wrap(ovm.KindUnavailable, err, "registry %s at %s could not list its catalog", name, cfg.Address)
	}
	return nil
}

// RegisterRegistry checks that a registry answers with the credentials
// (it lists the catalog) and records it (administrators). The first
// registry, or one registered with default, is the platform's default.
func (s *Service) RegisterRegistry(ctx context.Context, p auth.Principal, in apitypes.RegistryCreate) (Registry, error) {
	if err := requireAdmin(p, "registering registries"); err != nil {
		return Registry{}, err
	}
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	if _, err := dialRegistry(registryConfig{Address: in.Address, Insecure: in.Insecure}); err != nil || in.Address == "" {
		f.Add("address", "must be host[:port], such as registry.example.com or 127.0.0.1:5000")
	}
	if in.Password != "" && in.Username == "" {
		f.Add("username", "is required with a password")
	}
	if err := f.Err("invalid registry"); err != nil {
		return Registry{}, err
	}
	cfg := registryConfig{Address: in.Address, Username: in.Username, Password: in.Password, Insecure: in.Insecure}
	if err := s.checkRegistry(ctx, in.Name, cfg); err != nil {
		return Registry{}, err
	}
	reg := Registry{ID: ovm.NewID(), Name: in.Name, Address: in.Address, Username: in.Username, Insecure: in.Insecure,
		Default: in.Default, CreatedAt: s.now()}
	var sealed []byte
	if in.Password != "" {
		var err error
		if sealed, err = s.box.Seal([]byte(in.Password), []byte(reg.ID)); err != nil {
			return Registry{}, err
		}
	}
	req := in
	req.Password = fmt.Sprintf("%x", sha256.Sum256([]byte(in.Password)))
	var out Registry
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "registry.register", in.IdempotencyKey, req, &out, func() error {
			if err := nameFree(ctx, tx, kindRegistry, "", in.Name, "name"); err != nil {
				return err
			}
			n, err := tx.Count(ctx, store.Filter{Kind: kindRegistry})
			if err != nil {
				return err
			}
			if n == 0 {
				reg.Default = true
			}
			if reg.Default {
				if err := clearDefaultRegistry(ctx, tx, reg.ID); err != nil {
					return err
				}
			}
			rec := store.Record{Kind: kindRegistry, ID: reg.ID, Name: reg.Name}
			if err := setData(&rec, registryRecord{Registry: reg, Sealed: sealed}); err != nil {
				return err
			}
			out = reg
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// clearDefaultRegistry makes every registry but keep not the default.
func clearDefaultRegistry(ctx context.Context, tx store.Tx, keep ovm.ID) error {
	rs, err := listAll(ctx, tx, store.Filter{Kind: kindRegistry})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.ID == keep {
			continue
		}
		v, err := decode[registryRecord](r)
		if err != nil {
			return err
		}
		if v.Default {
			v.Default = false
			if err := save(ctx, tx, &r, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// tenantRegistry is what a tenant sees of a registry: no user name.
func tenantRegistry(p auth.Principal, r Registry) Registry {
	if !p.Admin() {
		r.Username = ""
	}
	return r
}

// registryByID reads a registry (every principal: tenants browse their
// namespace in it) and its connection.
func (s *Service) registryByID(ctx context.Context, id ovm.ID) (registryRecord, *registryConn, error) {
	if !id.Valid() {
		return registryRecord{}, nil, ovm.NotFound("registry", id)
	}
	r, err := viewAs[registryRecord](ctx, s, kindRegistry, id)
	if err != nil {
		return r, nil, err
	}
	c, err := s.registryConn(r)
	return r, c, err
}

// defaultRegistry reads the platform's default registry; none registered
// is ovm.ErrNotFound.
func (s *Service) defaultRegistry(ctx context.Context) (registryRecord, error) {
	var out registryRecord
	found := false
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		rs, err := listAll(ctx, tx, store.Filter{Kind: kindRegistry})
		if err != nil {
			return err
		}
		found = false
		for _, r := range rs {
			v, err := decode[registryRecord](r)
			if err != nil {
				return err
			}
			if v.Default {
				out, found = v, true
			}
		}
		return nil
	})
	if err == nil && !found {
		err = ovm.Errorf(ovm.KindNotFound, "no default registry: an administrator registers one first")
	}
	return out, err
}

// GetRegistry returns a registry and its version.
func (s *Service) GetRegistry(ctx context.Context, p auth.Principal, id ovm.ID) (Registry, int64, error) {
	if !id.Valid() {
		return Registry{}, 0, ovm.NotFound("registry", id)
	}
	var out Registry
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, rec, err := getAs[registryRecord](ctx, tx, kindRegistry, id)
		out, ver = tenantRegistry(p, r.Registry), rec.Version
		return err
	})
	return out, ver, err
}

// ListRegistries lists the registries (every principal: tenants reference
// their images by address).
func (s *Service) ListRegistries(ctx context.Context, p auth.Principal, o ListOptions) (Page[Registry], error) {
	var out Page[Registry]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, store.Filter{Kind: kindRegistry}, o, func(r store.Record) (Registry, error) {
			v, err := decode[registryRecord](r)
			return tenantRegistry(p, v.Registry), err
		})
		return err
	})
	return out, err
}

// UpdateRegistry changes a registry's credentials, its insecure setting or
// makes it the default (administrators). New credentials or settings are
// checked against the registry first.
func (s *Service) UpdateRegistry(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.RegistryPatch, ifVersion int64) (Registry, int64, error) {
	cur, _, err := getPlatformAs[registryRecord](ctx, s, p, kindRegistry, id)
	if err != nil {
		return Registry{}, 0, err
	}
	if in.Default != nil && !*in.Default && cur.Default {
		return Registry{}, 0, invalid("invalid registry", "default", "make another registry the default instead")
	}
	var sealed []byte
	changed := in.Username != nil || in.Password != nil || in.Insecure != nil
	if changed {
		c, err := s.registryConn(cur)
		if err != nil {
			return Registry{}, 0, err
		}
		cfg := c.cfg
		if in.Username != nil {
			cfg.Username = *in.Username
		}
		if in.Password != nil {
			cfg.Password = *in.Password
		}
		if in.Insecure != nil {
			cfg.Insecure = *in.Insecure
		}
		if cfg.Password != "" && cfg.Username == "" {
			return Registry{}, 0, invalid("invalid registry", "username", "is required with a password")
		}
		if err := s.checkRegistry(ctx, cur.Name, cfg); err != nil {
			return Registry{}, 0, err
		}
		if cfg.Password != "" {
			if sealed, err = s.box.Seal([]byte(cfg.Password), []byte(id)); err != nil {
				return Registry{}, 0, err
			}
		}
	}
	out, ver, err := updatePlatform(ctx, s, p, kindRegistry, id, ifVersion, func(r *registryRecord) error {
		if changed {
			r.Sealed = sealed
		}
		if in.Username != nil {
			r.Username = *in.Username
		}
		if in.Insecure != nil {
			r.Insecure = *in.Insecure
		}
		if in.Default != nil && *in.Default {
			r.Default = true
		}
		return nil
	}, func(ctx context.Context, tx store.Tx) error {
		if in.Default != nil && *in.Default {
			return clearDefaultRegistry(ctx, tx, id)
		}
		return nil
	})
	return out.Registry, ver, err
}

// DeleteRegistry removes a registry record (the registry's images stay in
// it). The default registry goes only when it is the last one.
func (s *Service) DeleteRegistry(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, kindRegistry, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		v, err := decode[registryRecord](r)
		if err != nil {
			return err
		}
		if v.Default {
			n, err := tx.Count(ctx, store.Filter{Kind: kindRegistry})
			if err != nil {
				return err
			}
			if n > 1 {
				return conflictf("registry %s is the default: make another registry the default first", v.Name)
			}
		}
		n, err := tx.Count(ctx, store.Filter{Kind: kindRegistryImage, AllVDCs: true, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("registry %s still holds %d private images of vdcs: delete their tags first", v.Name, n)
		}
		return tx.Delete(ctx, kindRegistry, id, r.Version)
	})
}
