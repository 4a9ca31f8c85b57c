package ovm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
)

func TestImageNames(t *testing.T) {
	tests := []struct {
		name string
		ref  ovm.ImageRef
		ok   bool
	}{
		{"short container name", ovm.ContainerImage("busybox:1"), true},
		{"registry with a port", ovm.ContainerImage("127.0.0.1:5000/ovm-busybox:1"), true},
		{"digest", ovm.ContainerImage("alpine@sha256:" + strings.Repeat("a", 64)), true},
		{"container path traversal", ovm.ContainerImage("../../../../etc/passwd"), false},
		{"container shell characters", ovm.ContainerImage("busybox;rm -rf /"), false},
		{"container terminal escape", ovm.ContainerImage("busybox\x1b[2J"), false},
		{"container upper case", ovm.ContainerImage("BusyBox"), false},
		{"container empty", ovm.ContainerImage(""), false},
		{"template", ovm.Template("debian-12.qcow2"), true},
		{"template in a folder", ovm.Template("linux/Alpine_3.raw"), true},
		{"vmdk", ovm.Template("tiny.vmdk"), true},
		{"template path traversal", ovm.Template("../../../../etc/passwd"), false},
		{"template hidden traversal", ovm.Template("linux/../../x.qcow2"), false},
		{"template absolute", ovm.Template("/etc/shadow"), false},
		{"template shell characters", ovm.Template("x.qcow2;reboot"), false},
		{"template terminal escape", ovm.Template("x\x1b]0;pwned\x07.qcow2"), false},
		{"template NUL", ovm.Template("x\x00.qcow2"), false},
		{"template too long", ovm.Template(strings.Repeat("a", 256)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ref.Validate()
			if tc.ok {
				assert.NoError(t, err, "Validate(%q)", tc.ref.Name)
				return
			}
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Validate(%q)", tc.ref.Name)
			assert.Contains(t, fields(err), "name", "Validate(%q): %v", tc.ref.Name, err)
		})
	}
}

func TestLabelsAndEnv(t *testing.T) {
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name   string
		labels map[string]string
		env    map[string]string
		want   string // the field refused, "" for none
	}{
		{"ordinary", map[string]string{"app": "web", "tier": "front"}, map[string]string{"PATH": "/bin", "EMPTY": ""}, ""},
		{"as many labels as allowed", many(ovm.MaxLabels), many(ovm.MaxEnv), ""},
		{"empty label key", map[string]string{"": "x"}, nil, "labels"},
		{"NUL in a label key", map[string]string{"a\x00b": "x"}, nil, "labels"},
		{"escape in a label key", map[string]string{"a\x1b[31m": "x"}, nil, "labels"},
		{"70,000 character label key", map[string]string{strings.Repeat("k", 70000): "x"}, nil, "labels"},
		{"NUL in a label value", map[string]string{"k": "a\x00"}, nil, "labels"},
		{"long label value", map[string]string{"k": strings.Repeat("v", ovm.MaxLabelValueLen+1)}, nil, "labels"},
		{"50,000 labels", many(50000), nil, "labels"},
		{"labels too big in all", func() map[string]string {
			m := map[string]string{}
			for i := range 20 {
				m[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1000)
			}
			return m
		}(), nil, "labels"},
		{"OVM's own label", map[string]string{"org.openovm.id": "x"}, nil, "labels"},
		{"empty env key", nil, map[string]string{"": "x"}, "env"},
		{"env key with =", nil, map[string]string{"A=B": "x"}, "env"},
		{"NUL in an env key", nil, map[string]string{"A\x00": "x"}, "env"},
		{"70,000 character env key", nil, map[string]string{strings.Repeat("K", 70000): "x"}, "env"},
		{"too many variables", nil, many(ovm.MaxEnv + 1), "env"},
		{"NUL in an env value", nil, map[string]string{"A": "x\x00y"}, "env"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1"),
				Labels: tc.labels, Env: tc.env}
			err := spec.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ovm.ErrInvalid)
			assert.Equal(t, []string{tc.want}, fields(err), "fields refused: %v", err)
			assert.Less(t, len(err.Error()), 400, "the error does not repeat the input")
		})
	}
}
