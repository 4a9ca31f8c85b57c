package docker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	dimage "github.com/docker/docker/api/types/image"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

// Images is a host's image store: an image.Catalog of the images on the
// host, and pulls from registries.
type Images struct {
	c *conn
}

var _ image.Catalog = (*Images)(nil)

// Images returns the host's image store, sharing the driver's connection.
func (d *Driver) Images() *Images { return &Images{c: d.c} }

// List returns the host's images, one entry per tag (an untagged image by
// its id).
func (m *Images) List(ctx context.Context) ([]image.Image, error) {
	if err := m.c.ctxErr(ctx, "list images"); err != nil {
		return nil, err
	}
	sums, err := m.c.cli.ImageList(ctx, dimage.ListOptions{})
	if err != nil {
		return nil, m.c.engineError(ctx, err, "", "list images")
	}
	var out []image.Image
	for _, s := range sums {
		names := s.RepoTags
		if len(names) == 0 {
			names = []string{s.ID}
		}
		for _, n := range names {
			out = append(out, image.Image{
				Ref:       ovm.ContainerImage(n),
				Size:      ovm.Bytes(s.Size),
				Digest:    s.ID,
				UpdatedAt: time.Unix(s.Created, 0).UTC(),
			})
		}
	}
	slices.SortFunc(out, func(a, b image.Image) int { return strings.Compare(a.Ref.Name, b.Ref.Name) })
	return out, nil
}

// Get returns one image of the host, or ovm.ErrNotFound.
func (m *Images) Get(ctx context.Context, ref ovm.ImageRef) (image.Image, error) {
	if err := m.c.ctxErr(ctx, "get image "+ref.Name); err != nil {
		return image.Image{}, err
	}
	if ref.Format != ovm.FormatOCI {
		return image.Image{}, ovm.Errorf(ovm.KindNotFound, "docker host %s: image %s not found: a docker host holds only oci images", m.c.name, ref)
	}
	insp, err := m.c.cli.ImageInspect(ctx, ref.Name)
	if err != nil {
		if classify(ctx, err) == ovm.KindNotFound {
			return image.Image{}, ovm.Wrap(ovm.KindNotFound, err, "docker host %s: image %s not found", m.c.name, ref.Name)
		}
		return image.Image{}, m.c.engineError(ctx, err, "name", "get image %s", ref.Name)
	}
	img := image.Image{Ref: ref, Size: ovm.Bytes(insp.Size), Digest: insp.ID}
	if t, err := time.Parse(time.RFC3339Nano, insp.Created); err == nil {
		img.UpdatedAt = t
	}
	return img, nil
}

// Pull fetches an image (such as "127.0.0.1:5000/busybox:1") from its
// registry onto the host, reporting progress from 0 to 100 (bytes
// downloaded over the bytes announced, never going back) when progress is
// not nil. An image the registry does not have is ovm.ErrNotFound; a
// registry that does not answer is ovm.ErrUnavailable.
func (m *Images) Pull(ctx context.Context, ref string, progress hypervisor.Progress) error {
	if err := m.c.ctxErr(ctx, "pull "+ref); err != nil {
		return err
	}
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return ovm.Invalid("invalid image reference", ovm.FieldError{Field: "ref", Reason: "must be an image reference such as registry:5000/name:tag", Value: ref})
	}
	rc, err := m.c.cli.ImagePull(ctx, ref, dimage.PullOptions{})
	if err != nil {
		return m.c.engineError(ctx, err, "ref", "pull %s", ref)
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { _ = rc.Close() })
	defer stop()
	report := progress
	if report == nil {
		report = func(int, string) {}
	}
	report(0, "pulling "+ref)
	if err := readPull(rc, report); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return m.c.engineError(ctx, err, "ref", "pull %s", ref)
	}
	report(100, "pulled "+ref)
	return nil
}

// pullMessage is one message of the engine's pull stream.
type pullMessage struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Progress *struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	ErrorText string `json:"error"`
}

// readPull reads the engine's pull messages and reports progress: the
// bytes of all layers downloaded over the bytes announced so far, capped at
// 99 until the pull ends, never going back. An error message ends it.
func readPull(r io.Reader, report hypervisor.Progress) error {
	type layer struct{ current, total int64 }
	layers := map[string]*layer{}
	last := 0
	dec := json.NewDecoder(r)
	for {
		var msg pullMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch {
		case msg.Error != nil && msg.Error.Message != "":
			return errors.New(msg.Error.Message)
		case msg.ErrorText != "":
			return errors.New(msg.ErrorText)
		}
		if msg.ID == "" || msg.Progress == nil {
			continue
		}
		l := layers[msg.ID]
		if l == nil {
			l = &layer{}
			layers[msg.ID] = l
		}
		switch msg.Status {
		case "Downloading":
			l.current, l.total = msg.Progress.Current, max(msg.Progress.Total, l.total)
		default:
			continue
		}
		var cur, tot int64
		for _, x := range layers {
			cur += min(x.current, x.total)
			tot += x.total
		}
		if tot <= 0 {
			continue
		}
		p := min(int(cur*100/tot), 99)
		if p > last {
			last = p
			report(p, msg.Status+" "+msg.ID)
		}
	}
}
