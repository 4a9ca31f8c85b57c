package registry_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/image/imagetest"
	"github.com/openovm/ovm/image/registry"
	"github.com/openovm/ovm/ovm"
)

// archive returns a `docker save` archive of a random image of one small
// layer, tagged ref.
func archive(t *testing.T, ref string) []byte {
	t.Helper()
	img, err := random.Image(2048, 1)
	require.NoError(t, err, "random.Image")
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err, "mutate.ConfigFile")
	tag, err := name.NewTag(ref)
	require.NoError(t, err, "name.NewTag(%s)", ref)
	var buf bytes.Buffer
	require.NoError(t, tarball.Write(tag, img, &buf), "tarball.Write")
	return buf.Bytes()
}

// samples makes each test's sample images once: tags s0..s7 of a
// repository of the test's own.
type samples struct {
	host string
	mu   sync.Mutex
	repo map[string]string
	data map[string][]byte
}

func newSamples(host string) *samples {
	return &samples{host: host, repo: map[string]string{}, data: map[string][]byte{}}
}

func (s *samples) sample(t *testing.T, i int) (ovm.ImageRef, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.repo[t.Name()]
	if !ok {
		repo = "ovm-imagetest-" + ovm.NewID().Short()
		s.repo[t.Name()] = repo
	}
	ref := fmt.Sprintf("%s/%s:s%d", s.host, repo, i)
	data, ok := s.data[ref]
	if !ok {
		data = archive(t, ref)
		s.data[ref] = data
	}
	return ovm.ContainerImage(ref), data
}

// harness runs the conformance suite on the registry at host.
func harness(host string) imagetest.Harness {
	s := newSamples(host)
	return imagetest.Harness{
		New: func(t *testing.T) image.Source {
			r, err := registry.New(registry.Config{Host: host})
			require.NoError(t, err, "registry.New(%s)", host)
			return r
		},
		Sample: s.sample,
		Foreign: []ovm.ImageRef{
			ovm.Template("debian-12.qcow2"),
			ovm.ContainerImage("busybox:1.36"),
			ovm.ContainerImage("registry.example:5000/team/app:1"),
		},
	}
}
