package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

// Repositories returns the registry's catalog: every repository's name.
func (r *Registry) Repositories(ctx context.Context) ([]string, error) {
	repos, err := remote.Catalog(ctx, r.reg, r.options(ctx)...)
	if err != nil {
		return nil, classify(err, "listing the repositories of registry %s", r.Host())
	}
	return repos, nil
}

// Tags returns the images a repository's tags name, in the order the
// registry lists the tags. A tag deleted while listing is left out; a
// missing repository is ovm.ErrNotFound.
func (r *Registry) Tags(ctx context.Context, repo string) ([]image.Image, error) {
	rp, err := name.NewRepository(r.Host()+"/"+repo, r.nameOpts...)
	if err != nil {
		return nil, ovm.Invalid("invalid repository", ovm.FieldError{Field: "repository", Reason: err.Error(), Value: repo})
	}
	tags, err := remote.List(rp, r.options(ctx)...)
	if err != nil {
		return nil, classify(err, "listing the tags of %s", rp)
	}
	out := make([]image.Image, 0, len(tags))
	for _, tag := range tags {
		ref := ovm.ContainerImage(rp.Tag(tag).String())
		img, err := r.Get(ctx, ref)
		if errors.Is(err, ovm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// List returns the image of every tag of every repository. Repositories
// without tags (distribution keeps a repository whose images were all
// deleted) add nothing.
func (r *Registry) List(ctx context.Context) ([]image.Image, error) {
	repos, err := r.Repositories(ctx)
	if err != nil {
		return nil, err
	}
	var out []image.Image
	for _, repo := range repos {
		imgs, err := r.Tags(ctx, repo)
		if errors.Is(err, ovm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// Get returns the image ref names: its manifest's digest, the size of its
// config and layers, and its platform. For an index (a multi-platform
// image) the size sums its images and the platforms are listed, comma
// separated.
func (r *Registry) Get(ctx context.Context, ref ovm.ImageRef) (image.Image, error) {
	n, err := r.parse(ref)
	if err != nil {
		return image.Image{}, err
	}
	desc, err := remote.Get(n, r.options(ctx)...)
	if err != nil {
		return image.Image{}, classify(err, "reading image %s", n)
	}
	img, err := describe(desc)
	if err != nil {
		return image.Image{}, classify(err, "reading image %s", n)
	}
	img.Ref = ref
	return img, nil
}

// describe returns what a manifest tells of an image (without its Ref).
func describe(desc *remote.Descriptor) (image.Image, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return image.Image{}, err
		}
		return describeImage(img)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return image.Image{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return image.Image{}, err
	}
	out := image.Image{Digest: desc.Digest.String()}
	var platforms []string
	for _, m := range im.Manifests {
		if !m.MediaType.IsImage() {
			continue
		}
		child, err := idx.Image(m.Digest)
		if err != nil {
			return image.Image{}, err
		}
		mf, err := child.Manifest()
		if err != nil {
			return image.Image{}, err
		}
		out.Size += manifestSize(mf)
		if p := platform(m.Platform); p != "" && !slices.Contains(platforms, p) {
			platforms = append(platforms, p)
		}
	}
	out.Platform = strings.Join(platforms, ",")
	return out, nil
}

// describeImage returns what a single image tells of itself.
func describeImage(img v1.Image) (image.Image, error) {
	d, err := img.Digest()
	if err != nil {
		return image.Image{}, err
	}
	mf, err := img.Manifest()
	if err != nil {
		return image.Image{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return image.Image{}, err
	}
	return image.Image{Digest: d.String(), Size: manifestSize(mf), Platform: platform(cfg.Platform()),
		UpdatedAt: cfg.Created.UTC()}, nil
}

// manifestSize is the bytes of an image's config and layers.
func manifestSize(mf *v1.Manifest) ovm.Bytes {
	size := mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	return ovm.Bytes(size)
}

// platform renders "os/arch[/variant]", or "" when unknown (as for the
// attestation manifests of an index).
func platform(p *v1.Platform) string {
	if p == nil || p.OS == "" || p.OS == "unknown" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Put pushes the single image of a `docker save` archive as ref, which
// must name a tag of this registry. The digest, when given, is of the
// archive's bytes. The archive is kept in a temporary file while it is
// pushed, since reading it needs random access; a Put that fails before
// the manifest is pushed leaves no tag (the registry's garbage collection
// removes blobs already uploaded).
func (r *Registry) Put(ctx context.Context, ref ovm.ImageRef, rd io.Reader, digest string) (image.Image, error) {
	n, err := r.parse(ref)
	if err != nil {
		return image.Image{}, err
	}
	tag, ok := n.(name.Tag)
	if !ok {
		return image.Image{}, ovm.Invalid("invalid image reference", ovm.FieldError{Field: "name",
			Reason: "must name a tag to push to, not a digest", Value: ref.Name})
	}
	if err := image.CheckDigest(digest); err != nil {
		return image.Image{}, err
	}
	f, err := os.CreateTemp(r.tempDir, "ovm-image-*.tar")
	if err != nil {
		return image.Image{}, ovm.Internal(err, "keeping the archive of %s", tag)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := image.NewDigester()
	if _, err := io.Copy(io.MultiWriter(f, h), image.ContextReader(ctx, rd)); err != nil {
		if ctx.Err() != nil {
			return image.Image{}, ctx.Err()
		}
		return image.Image{}, fmt.Errorf("reading the archive of %s: %w", tag, err)
	}
	if err := h.Verify(digest); err != nil {
		return image.Image{}, err
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(f.Name()) }, nil)
	if err != nil {
		return image.Image{}, ovm.Errorf(ovm.KindInvalid, "reading the docker save archive of %s: %w", tag, err)
	}
	// Reading the manifest and config checks the archive before anything
	// is pushed.
	out, err := describeImage(img)
	if err != nil {
		return image.Image{}, ovm.Errorf(ovm.KindInvalid, "reading the docker save archive of %s: %w", tag, err)
	}
	if err := remote.Write(tag, img, r.options(ctx)...); err != nil {
		return image.Image{}, classify(err, "pushing %s", tag)
	}
	out.Ref = ref
	return out, nil
}

// Open returns the image as a `docker save` archive, written while it is
// read. For an index, the archive holds the image of linux/amd64.
func (r *Registry) Open(ctx context.Context, ref ovm.ImageRef) (io.ReadCloser, image.Image, error) {
	n, err := r.parse(ref)
	if err != nil {
		return nil, image.Image{}, err
	}
	desc, err := remote.Get(n, r.options(ctx)...)
	if err != nil {
		return nil, image.Image{}, classify(err, "reading image %s", n)
	}
	info, err := describe(desc)
	if err != nil {
		return nil, image.Image{}, classify(err, "reading image %s", n)
	}
	info.Ref = ref
	img, err := desc.Image()
	if err != nil {
		err = classify(err, "reading image %s", n)
		if desc.MediaType.IsIndex() && ovm.KindOf(err) == ovm.KindInternal && ctx.Err() == nil {
			return nil, image.Image{}, ovm.Wrap(ovm.KindUnsupported, err, "image %s has no linux/amd64 image to save", n)
		}
		return nil, image.Image{}, err
	}
	pr, pw := io.Pipe()
	go func() {
		err := tarball.Write(n, img, pw)
		pw.CloseWithError(classify(err, "pulling %s", n))
	}()
	return pr, info, nil
}

// Delete deletes the manifest ref names, by digest: every tag of that
// manifest goes with it on a registry that deletes manifests, not tags
// (distribution 2); on one that keeps tags apart, the tag is deleted too. The
// registry must allow deletion (distribution: storage.delete.enabled);
// otherwise it is ovm.ErrUnsupported.
func (r *Registry) Delete(ctx context.Context, ref ovm.ImageRef) error {
	n, err := r.parse(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Head(n, r.options(ctx)...)
	if err != nil {
		return classify(err, "reading image %s", n)
	}
	d := n.Context().Digest(desc.Digest.String())
	if err := remote.Delete(d, r.options(ctx)...); err != nil {
		return classify(err, "deleting image %s", n)
	}
	// A registry that keeps tags apart from manifests (OCI distribution
	// 1.1, such as go-containerregistry's) still has the tag: delete it.
	tag, ok := n.(name.Tag)
	if !ok {
		return nil
	}
	if _, err := remote.Head(tag, r.options(ctx)...); err != nil {
		if err := classify(err, "reading image %s", n); !errors.Is(err, ovm.ErrNotFound) {
			return err
		}
		return nil
	}
	if err := remote.Delete(tag, r.options(ctx)...); err != nil {
		return classify(err, "deleting tag %s", n)
	}
	return nil
}
