package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// kindRegistryImage is a VDC's private image pushed through OVM: one per
// registry, repository and tag, in the VDC, holding the disk quota its size
// takes.
const kindRegistryImage store.Kind = "registryimage"

// registryImageRecord is what a VDC's pushed tag holds of its quota.
type registryImageRecord struct {
	RegistryID ovm.ID    `json:"registryId"`
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	Reserved   ovm.Usage `json:"reserved"`
}

// registryImageID is the record id of a registry's repo:tag, the same on
// every push of it.
func registryImageID(reg ovm.ID, repo, tag string) ovm.ID {
	b := sha256.Sum256([]byte("registryimage\x00" + string(reg) + "\x00" + repo + ":" + tag))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return ovm.ID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// vdcNamespace is the first path component of a VDC's private repositories.
func vdcNamespace(vdc ovm.ID) string { return "vdc-" + vdc.Short() }

// namespaceOf returns the vdc- namespace a repository is in ("" for a
// platform repository).
func namespaceOf(repo string) string {
	first, _, ok := strings.Cut(repo, "/")
	if ok && strings.HasPrefix(first, "vdc-") {
		return first
	}
	return ""
}

// canRead reports whether p may browse repo: its own namespace and the
// platform repositories (administrators: all).
func canRead(p auth.Principal, repo string) bool {
	ns := namespaceOf(repo)
	return p.Admin() || ns == "" || ns == vdcNamespace(p.VDCID)
}

// writableRepository is the repository a principal's push or delete acts
// on: a tenant's goes under its VDC's namespace (prefixed when not there),
// another VDC's namespace is not found. It returns the VDC whose quota the
// image counts against ("" for administrators).
func writableRepository(p auth.Principal, repo string) (string, ovm.ID, error) {
	if repo == "" || len(repo) > 255 {
		return "", "", invalid("invalid repository", "repository", "is required (at most 255 characters)")
	}
	if p.Admin() {
		return repo, "", nil
	}
	own := vdcNamespace(p.VDCID)
	switch ns := namespaceOf(repo); ns {
	case own:
		return repo, p.VDCID, nil
	case "":
		return own + "/" + repo, p.VDCID, nil
	}
	return "", "", ovm.NotFound("repository", repo)
}

// inQuery names the fields of an invalid error as query parameters.
func inQuery(err error) error {
	var e *ovm.Error
	if !errors.As(err, &e) || e.Kind != ovm.KindInvalid || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = slices.Clone(e.Fields)
	for i := range out.Fields {
		if !strings.HasPrefix(out.Fields[i].Field, "query.") {
			out.Fields[i].Field = "query." + out.Fields[i].Field
		}
	}
	return &out
}

// RegistryRepositories lists the repositories of a registry the principal
// may browse: a tenant's VDC namespace and the platform repositories.
func (s *Service) RegistryRepositories(ctx context.Context, p auth.Principal, id ovm.ID) ([]apitypes.RegistryRepository, error) {
	_, c, err := s.registryByID(ctx, id)
	if err != nil {
		return nil, err
	}
	repos, err := c.Repositories(ctx)
	if err != nil {
		return nil, err
	}
	vdcs, err := s.namespaceVDCs(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []apitypes.RegistryRepository{}
	for _, r := range repos {
		if canRead(p, r) {
			out = append(out, apitypes.RegistryRepository{Name: r, VDCID: vdcs[namespaceOf(r)]})
		}
	}
	return out, nil
}

// namespaceVDCs maps the namespaces the principal may see to their VDCs.
func (s *Service) namespaceVDCs(ctx context.Context, p auth.Principal) (map[string]ovm.ID, error) {
	if !p.Admin() {
		return map[string]ovm.ID{vdcNamespace(p.VDCID): p.VDCID}, nil
	}
	out := map[string]ovm.ID{}
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindVDC, AllVDCs: true})
		for _, r := range rs {
			out[vdcNamespace(r.ID)] = r.ID
		}
		return err
	})
	return out, err
}

// RegistryTags lists a repository's tags as catalog images (kind
// container). A repository of another VDC's namespace is not found.
func (s *Service) RegistryTags(ctx context.Context, p auth.Principal, id ovm.ID, repo string) ([]apitypes.Image, error) {
	imgs, err := s.registryTags(ctx, p, id, repo)
	return imgs, inQuery(err)
}

func (s *Service) registryTags(ctx context.Context, p auth.Principal, id ovm.ID, repo string) ([]apitypes.Image, error) {
	reg, c, err := s.registryByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if repo == "" {
		return nil, invalid("invalid repository", "repository", "is required")
	}
	if !canRead(p, repo) {
		return nil, ovm.NotFound("repository", repo)
	}
	if err := c.repository(repo); err != nil {
		return nil, err
	}
	vdcs, err := s.namespaceVDCs(ctx, p)
	if err != nil {
		return nil, err
	}
	return s.repositoryImages(ctx, reg, c, repo, vdcs[namespaceOf(repo)])
}

// repositoryImages describes every tag of a repository, by tag.
func (s *Service) repositoryImages(ctx context.Context, reg registryRecord, c *registryConn, repo string, vdc ovm.ID) ([]apitypes.Image, error) {
	imgs, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, containerImage(reg, img, vdc))
	}
	slices.SortFunc(out, func(a, b apitypes.Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// containerImage is a registry's tag as a catalog entry.
func containerImage(reg registryRecord, img image.Image, vdc ovm.ID) apitypes.Image {
	return apitypes.Image{Name: img.Ref.Name, Kind: apitypes.ImageContainer, Format: ovm.FormatOCI, VDCID: vdc,
		Phase: apitypes.ImageReady, Size: img.Size, Digest: img.Digest, Platform: img.Platform,
		HostKinds: ovm.ContainerImage(img.Ref.Name).HostKinds(), RegistryID: reg.ID, UpdatedAt: img.UpdatedAt}
}

// ContainerImageOptions select the container images of the catalog.
type ContainerImageOptions struct {
	// RegistryID lists one registry; empty lists the default registry, or
	// every registry with AllRegistries.
	RegistryID    ovm.ID
	AllRegistries bool
}

// ContainerImages lists the container images the principal may see: every
// tag of the repositories it may browse (a tenant's VDC namespace and the
// platform repositories).
func (s *Service) ContainerImages(ctx context.Context, p auth.Principal, o ContainerImageOptions) ([]apitypes.Image, error) {
	var regs []registryRecord
	switch {
	case o.RegistryID != "":
		r, _, err := s.registryByID(ctx, o.RegistryID)
		if err != nil {
			return nil, err
		}
		regs = []registryRecord{r}
	case o.AllRegistries:
		err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
			rs, err := listAll(ctx, tx, store.Filter{Kind: kindRegistry})
			regs = regs[:0]
			for _, r := range rs {
				v, err := decode[registryRecord](r)
				if err != nil {
					return err
				}
				regs = append(regs, v)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	default:
		r, err := s.defaultRegistry(ctx)
		if ovm.KindOf(err) == ovm.KindNotFound {
			return []apitypes.Image{}, nil
		}
		if err != nil {
			return nil, err
		}
		regs = []registryRecord{r}
	}
	vdcs, err := s.namespaceVDCs(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []apitypes.Image{}
	for _, reg := range regs {
		c, err := s.registryConn(reg)
		if err != nil {
			return nil, err
		}
		repos, err := c.Repositories(ctx)
		if err != nil {
			return nil, err
		}
		for _, repo := range repos {
			if !canRead(p, repo) {
				continue
			}
			imgs, err := s.repositoryImages(ctx, reg, c, repo, vdcs[namespaceOf(repo)])
			if err != nil {
				return nil, err
			}
			out = append(out, imgs...)
		}
	}
	return out, nil
}

// PushArchive pushes the `docker save` archive r yields to a registry as
// repo:tag. The archive is kept in a temporary file while it is pushed,
// never in memory. A tenant's image goes under its VDC's namespace; an
// image in a VDC's namespace counts against the VDC's disk quota: the archive's size is reserved
// before the push (over quota refuses it) and set to the pushed size
// after.
func (s *Service) PushArchive(ctx context.Context, p auth.Principal, id ovm.ID, repo, tag string, r io.Reader) (apitypes.Image, error) {
	reg, c, err := s.registryByID(ctx, id)
	if err != nil {
		return apitypes.Image{}, err
	}
	repo, vdc, err := writableRepository(p, repo)
	if err != nil {
		return apitypes.Image{}, inQuery(err)
	}
	if err := c.tag(repo, tag); err != nil {
		return apitypes.Image{}, inQuery(err)
	}
	if vdc == "" {
		// An administrator's push into a VDC's namespace is that VDC's.
		vdc = s.namespaceVDC(ctx, repo)
	}
	f, err := os.CreateTemp("", "ovm-push-*.tar")
	if err != nil {
		return apitypes.Image{}, fmt.Errorf("core: archive file: %w", err)
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	// A tenant's archive is read no further than its VDC's disk quota left.
	left := ovm.Bytes(-1)
	if vdc != "" {
		if left, err = s.diskLeft(ctx, vdc); err != nil {
			return apitypes.Image{}, err
		}
		r = io.LimitReader(r, int64(left)+1)
	}
	n, err := io.Copy(f, r)
	if err != nil {
		return apitypes.Image{}, ovm.Wrap(ovm.KindInvalid, err, "the archive could not be read to its end")
	}
	if left >= 0 && ovm.Bytes(n) > left {
		return apitypes.Image{}, ovm.Errorf(ovm.KindQuotaExceeded, "the archive is larger than the %s of disk quota the vdc has left", left)
	}
	if err := f.Close(); err != nil {
		return apitypes.Image{}, fmt.Errorf("core: archive file: %w", err)
	}
	if n == 0 {
		return apitypes.Image{}, ovm.Errorf(ovm.KindInvalid, "the body is empty: send a docker save archive")
	}
	if vdc != "" {
		if err := s.reserveImage(ctx, vdc, reg.ID, repo, tag, "", ovm.Bytes(n)); err != nil {
			return apitypes.Image{}, err
		}
	}
	d, err := c.PushArchive(ctx, f.Name(), repo, tag)
	if vdc != "" {
		// On failure give the reservation back; else hold the pushed size.
		size, digest := d.Size, d.Digest
		if err != nil {
			size = 0
		}
		if rerr := s.reserveImage(context.WithoutCancel(ctx), vdc, reg.ID, repo, tag, digest, size); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return apitypes.Image{}, err
	}
	return containerImage(reg, d, vdc), nil
}

// diskLeft is the disk quota a VDC has left.
func (s *Service) diskLeft(ctx context.Context, vdc ovm.ID) (ovm.Bytes, error) {
	var left ovm.Bytes
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		q, used, err := tx.Quota(ctx, vdc)
		left = max(q.Disk-used.Disk, 0)
		return err
	})
	return left, err
}

// reserveImage sets the disk quota a VDC's repo:tag holds to size (zero
// removes its record), in one transaction with a guarded update.
func (s *Service) reserveImage(ctx context.Context, vdc, reg ovm.ID, repo, tag, digest string, size ovm.Bytes) error {
	id := registryImageID(reg, repo, tag)
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, kindRegistryImage, id)
		var cur registryImageRecord
		switch {
		case err == nil:
			if cur, err = decode[registryImageRecord](rec); err != nil {
				return err
			}
		case ovm.KindOf(err) == ovm.KindNotFound:
			rec = store.Record{Kind: kindRegistryImage, ID: id, VDCID: vdc, ParentID: reg, Name: string(reg) + "/" + repo + ":" + tag}
		default:
			return err
		}
		want := ovm.Usage{Disk: size}
		if err := tx.Reserve(ctx, vdc, want.Sub(cur.Reserved)); err != nil {
			return err
		}
		if size == 0 {
			if rec.Version == 0 {
				return nil
			}
			return tx.Delete(ctx, kindRegistryImage, id, rec.Version)
		}
		v := registryImageRecord{RegistryID: reg, Repository: repo, Tag: tag, Digest: digest, Reserved: want}
		if digest == "" {
			v.Digest = cur.Digest
		}
		if rec.Version == 0 {
			if err := setData(&rec, v); err != nil {
				return err
			}
			return tx.Insert(ctx, &rec)
		}
		return save(ctx, tx, &rec, v)
	})
	if errors.Is(err, ovm.ErrQuotaExceeded) {
		return ovm.Wrap(ovm.KindQuotaExceeded, err, "the image of %s takes %s, more disk than the vdc's quota has left", repo+":"+tag, size)
	}
	return err
}

// DeleteRegistryTag deletes the manifest repo:tag points at. A tenant
// deletes only in its VDC's namespace; the disk quota of the VDC's tags of
// that manifest is given back.
func (s *Service) DeleteRegistryTag(ctx context.Context, p auth.Principal, id ovm.ID, repo, tag string) error {
	reg, c, err := s.registryByID(ctx, id)
	if err != nil {
		return err
	}
	repo, vdc, err := writableRepository(p, repo)
	if err != nil {
		return inQuery(err)
	}
	d, err := c.Describe(ctx, repo, tag)
	if err != nil {
		return inQuery(err)
	}
	if err := c.DeleteTag(ctx, repo, tag); err != nil {
		return err
	}
	if vdc == "" {
		vdc = s.namespaceVDC(ctx, repo)
	}
	if vdc == "" {
		return nil
	}
	var tags []string
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		rs, err := listAll(ctx, tx, store.Filter{Kind: kindRegistryImage, VDCID: vdc, ParentID: reg.ID})
		tags = tags[:0]
		for _, r := range rs {
			v, err := decode[registryImageRecord](r)
			if err != nil {
				return err
			}
			if v.Repository == repo && (v.Tag == tag || v.Digest == d.Digest) {
				tags = append(tags, v.Tag)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := s.reserveImage(ctx, vdc, reg.ID, repo, t, "", 0); err != nil {
			return err
		}
	}
	return nil
}

// namespaceVDC returns the VDC whose namespace holds repo, or "".
func (s *Service) namespaceVDC(ctx context.Context, repo string) ovm.ID {
	ns := namespaceOf(repo)
	if ns == "" {
		return ""
	}
	m, err := s.namespaceVDCs(ctx, auth.Principal{Role: auth.RoleAdmin})
	if err != nil {
		return ""
	}
	return m[ns]
}
