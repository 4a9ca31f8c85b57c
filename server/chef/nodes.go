package chef

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	gochef "github.com/go-chef/chef"

	"github.com/openovm/ovm/ovm"
)

// KeyPair is a node's key pair: the private key (PEM, PKCS #1) goes to the
// guest only, the public one (PEM, PKIX) to the Chef server.
type KeyPair struct {
	Private []byte
	Public  []byte
}

// NewKeyPair makes a 2048-bit RSA key pair, the size chef-client makes.
func NewKeyPair() (KeyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return KeyPair{}, fmt.Errorf("chef: make a key pair: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("chef: encode a public key: %w", err)
	}
	return KeyPair{
		Private: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
		Public:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}, nil
}

// Node is a node as the Chef server keeps it.
type Node struct {
	Name        string
	Environment string
	RunList     []string
	// OhaiTime is when the node's last converge collected its automatic
	// attributes (zero: never).
	OhaiTime time.Time
	// Automatic holds the top-level automatic attributes that are plain
	// values (hostname, platform, ohai_time...).
	Automatic map[string]any
}

// NodeFrom converts a node of the Chef API.
func NodeFrom(n gochef.Node) Node {
	out := Node{Name: n.Name, Environment: n.Environment, RunList: append([]string{}, n.RunList...), Automatic: map[string]any{}}
	for k, v := range n.AutomaticAttributes {
		switch v.(type) {
		case string, float64, bool, int, int64:
			out.Automatic[k] = v
		}
	}
	if t, ok := n.AutomaticAttributes["ohai_time"].(float64); ok && t > 0 {
		out.OhaiTime = time.Unix(0, int64(t*float64(time.Second))).UTC()
	}
	return out
}

// Enrol makes (or makes again) the API client name with the public key
// pub, and the node name with runList and env, keeping what else a node
// that exists already has (its attributes from earlier converges). A
// client of that name is replaced, so that only the new key signs.
func (c *Client) Enrol(ctx context.Context, name string, pub []byte, runList []string, env string) error {
	if err := c.deleteIgnoringMissing(ctx, "clients/"+url.PathEscape(name)); err != nil {
		return fmt.Errorf("chef: replace client %s: %w", name, err)
	}
	var made map[string]any
	if err := c.do(ctx, http.MethodPost, "clients", map[string]any{"name": name, "public_key": string(pub)}, &made); err != nil {
		return fmt.Errorf("chef: create client %s: %w", name, err)
	}
	if _, err := c.SetRunList(ctx, name, runList, env, true); err != nil {
		return err
	}
	return nil
}

// SetRunList sets the run list (and the environment, when env is not
// empty) of node name and returns it as saved. A missing node is made when
// create is set, otherwise it is ovm.ErrNotFound.
func (c *Client) SetRunList(ctx context.Context, name string, runList []string, env string, create bool) (Node, error) {
	var n gochef.Node
	err := c.do(ctx, http.MethodGet, "nodes/"+url.PathEscape(name), nil, &n)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound && create:
		n = gochef.NewNode(name)
		n.RunList = append([]string{}, runList...)
		if env != "" {
			n.Environment = env
		}
		if err := c.do(ctx, http.MethodPost, "nodes", n, nil); err != nil {
			return Node{}, fmt.Errorf("chef: create node %s: %w", name, err)
		}
		return NodeFrom(n), nil
	case err != nil:
		return Node{}, fmt.Errorf("chef: read node %s: %w", name, err)
	}
	n.RunList = append([]string{}, runList...)
	if env != "" {
		n.Environment = env
	}
	if err := c.do(ctx, http.MethodPut, "nodes/"+url.PathEscape(name), n, nil); err != nil {
		return Node{}, fmt.Errorf("chef: save node %s: %w", name, err)
	}
	return NodeFrom(n), nil
}

// Node reads node name; a missing one is ovm.ErrNotFound.
func (c *Client) Node(ctx context.Context, name string) (Node, error) {
	var n gochef.Node
	if err := c.do(ctx, http.MethodGet, "nodes/"+url.PathEscape(name), nil, &n); err != nil {
		return Node{}, fmt.Errorf("chef: read node %s: %w", name, err)
	}
	return NodeFrom(n), nil
}

// Unenrol removes node name and its API client; either one missing
// already is success.
func (c *Client) Unenrol(ctx context.Context, name string) error {
	if err := c.deleteIgnoringMissing(ctx, "nodes/"+url.PathEscape(name)); err != nil {
		return fmt.Errorf("chef: delete node %s: %w", name, err)
	}
	if err := c.deleteIgnoringMissing(ctx, "clients/"+url.PathEscape(name)); err != nil {
		return fmt.Errorf("chef: delete client %s: %w", name, err)
	}
	return nil
}

func (c *Client) deleteIgnoringMissing(ctx context.Context, path string) error {
	err := c.do(ctx, http.MethodDelete, path, nil, nil)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return nil
	}
	return err
}

// Nodes lists the names of the server's nodes.
func (c *Client) Nodes(ctx context.Context) ([]string, error) {
	var m map[string]string
	if err := c.do(ctx, http.MethodGet, "nodes", nil, &m); err != nil {
		return nil, fmt.Errorf("chef: list nodes: %w", err)
	}
	return sortedKeys(m), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
