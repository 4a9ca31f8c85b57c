package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
)

// configFile is the name of the contexts file in the configuration
// directory.
const configFile = "contexts.yaml"

// Config is the saved contexts: each a server, the user logged in and its
// token. The file is written with mode 0600 as it holds bearer tokens.
type Config struct {
	Current  string    `yaml:"current,omitempty"`
	Contexts []Context `yaml:"contexts"`
}

// Context is one saved login.
type Context struct {
	Name   string `yaml:"name"`
	Server string `yaml:"server"`
	User   string `yaml:"user,omitempty"`
	Token  string `yaml:"token,omitempty"`
	// Fingerprint is the SHA-256 of the server's certificate, pinned when
	// the user accepted it at login; CAFile a PEM file of the CA that
	// verifies the server instead of the system's roots.
	Fingerprint string `yaml:"fingerprint,omitempty"`
	CAFile      string `yaml:"caFile,omitempty"`
}

// LoadConfig reads a contexts file; a missing file is an empty Config.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read contexts: %w", err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read contexts %s: %w", path, err)
	}
	return &c, nil
}

// Save writes the contexts to path (mode 0600, its directory 0700),
// replacing the file at once so that a reader never sees half of it.
func (c *Config) Save(path string) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode contexts: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save contexts: %w", err)
	}
	f, err := os.CreateTemp(dir, ".contexts-*.yaml")
	if err != nil {
		return fmt.Errorf("save contexts: %w", err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("save contexts: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("save contexts: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save contexts: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save contexts: %w", err)
	}
	return nil
}

// Find returns the context called name.
func (c *Config) Find(name string) (Context, bool) {
	for _, x := range c.Contexts {
		if x.Name == name {
			return x, true
		}
	}
	return Context{}, false
}

// Put adds or replaces a context.
func (c *Config) Put(x Context) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == x.Name {
			c.Contexts[i] = x
			return
		}
	}
	c.Contexts = append(c.Contexts, x)
}

// Remove deletes the context called name and reports whether it was there.
func (c *Config) Remove(name string) bool {
	i := slices.IndexFunc(c.Contexts, func(x Context) bool { return x.Name == name })
	if i < 0 {
		return false
	}
	c.Contexts = slices.Delete(c.Contexts, i, i+1)
	if c.Current == name {
		c.Current = ""
	}
	return true
}
