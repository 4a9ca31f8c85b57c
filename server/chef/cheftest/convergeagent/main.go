// Command convergeagent is a TEST STAND-IN for chef-client, used only by
// OVM's integration tests: chef-client (Ruby) cannot be installed on the
// test machines, so the tests put this static binary in their container
// images and configure it as a Chef server's converge command.
//
// It speaks the real Chef server protocol with the node's own key (signed
// requests through go-chef), as chef-client does for the part OVM relies
// on: it reads /etc/chef/client.rb (chef_server_url, node_name,
// client_key) that OVM delivered, reads its node's run list, expands roles,
// fetches each recipe's file from the server's cookbook store, runs it as
// a shell script (the test cookbooks' recipes are sh, not Ruby), and saves
// the node with its automatic attributes (ohai_time, hostname, recipes,
// roles). A failing recipe fails the run (exit 1) and the node is not
// saved, as with chef-client.
//
// With -cloud-config FILE it first stands in for cloud-init's chef module
// at a VM's first boot (the libvirt test guest has no cloud-init): it
// reads the NoCloud seed's user-data OVM wrote (a #cloud-config in JSON's
// syntax), writes its write_files (the node's key) and /etc/chef/client.rb
// from its chef settings (server_url, node_name, client_key, environment),
// and converges when the settings say exec.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gochef "github.com/go-chef/chef"
)

func main() {
	seed := flag.String("cloud-config", "", "apply the chef settings of this cloud-init user-data first, as cloud-init's chef module does")
	flag.Parse()
	run := true
	if *seed != "" {
		var err error
		if run, err = applyCloudConfig(*seed); err != nil {
			fmt.Fprintln(os.Stderr, "ERROR: cloud-config:", err)
			os.Exit(1)
		}
	}
	if !run {
		return
	}
	if err := converge(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

// cloudConfig is the part of a #cloud-config this stand-in reads.
type cloudConfig struct {
	WriteFiles []struct {
		Path        string `json:"path"`
		Content     string `json:"content"`
		Permissions string `json:"permissions"`
	} `json:"write_files"`
	Chef *struct {
		ServerURL   string `json:"server_url"`
		NodeName    string `json:"node_name"`
		ClientKey   string `json:"client_key"`
		Environment string `json:"environment"`
		Exec        bool   `json:"exec"`
	} `json:"chef"`
}

// applyCloudConfig writes the files and client.rb of the user-data at path
// and reports whether its chef settings ask for a converge.
func applyCloudConfig(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	b = bytes.TrimPrefix(b, []byte("#cloud-config\n"))
	var cc cloudConfig
	if err := json.Unmarshal(b, &cc); err != nil {
		return false, fmt.Errorf("user-data is not the JSON-syntax cloud-config OVM writes: %w", err)
	}
	if cc.Chef == nil {
		return false, fmt.Errorf("user-data has no chef settings")
	}
	for _, f := range cc.WriteFiles {
		mode, err := strconv.ParseUint(cmp.Or(f.Permissions, "0644"), 8, 32)
		if err != nil {
			return false, fmt.Errorf("%s: permissions %q: %w", f.Path, f.Permissions, err)
		}
		if err := writeFile(f.Path, []byte(f.Content), os.FileMode(mode)); err != nil {
			return false, err
		}
	}
	c := cc.Chef
	rb := fmt.Sprintf("chef_server_url %q\nnode_name %q\nclient_key %q\nenvironment %q\n",
		c.ServerURL, c.NodeName, cmp.Or(c.ClientKey, "/etc/chef/client.pem"), c.Environment)
	if err := writeFile("/etc/chef/client.rb", []byte(rb), 0o644); err != nil {
		return false, err
	}
	fmt.Printf("cloud-config: node %s of %s configured\n", c.NodeName, c.ServerURL)
	return c.Exec, nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func readClientRB(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok {
			out[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out, sc.Err()
}

type recipe struct{ cookbook, name, version string }

func converge() error {
	cfg, err := readClientRB("/etc/chef/client.rb")
	if err != nil {
		return err
	}
	key, err := os.ReadFile(cfg["client_key"])
	if err != nil {
		return err
	}
	c, err := gochef.NewClient(&gochef.Config{Name: cfg["node_name"], Key: string(key), BaseURL: cfg["chef_server_url"], Timeout: 30})
	if err != nil {
		return err
	}
	fmt.Printf("Starting converge of node %s\n", cfg["node_name"])
	node, err := c.Nodes.Get(cfg["node_name"])
	if err != nil {
		return fmt.Errorf("read node: %w", err)
	}
	var recipes []recipe
	var roles []string
	if err := expand(c, node.RunList, &recipes, &roles, 0); err != nil {
		return err
	}
	fmt.Printf("Run List expands to [%s]\n", strings.Join(node.RunList, ", "))
	var names []string
	for _, r := range recipes {
		script, err := fetch(c, r)
		if err != nil {
			return err
		}
		fmt.Printf("Recipe: %s::%s\n", r.cookbook, r.name)
		cmd := exec.Command("/bin/sh", "-e", "-c", script)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("recipe %s::%s failed: %w", r.cookbook, r.name, err)
		}
		names = append(names, r.cookbook+"::"+r.name)
	}
	host, _ := os.Hostname()
	if node.AutomaticAttributes == nil {
		node.AutomaticAttributes = map[string]any{}
	}
	node.AutomaticAttributes["ohai_time"] = float64(time.Now().UnixNano()) / 1e9
	node.AutomaticAttributes["hostname"] = host
	node.AutomaticAttributes["platform"] = "busybox"
	node.AutomaticAttributes["recipes"] = names
	node.AutomaticAttributes["roles"] = roles
	if _, err := c.Nodes.Put(node); err != nil {
		return fmt.Errorf("save node: %w", err)
	}
	fmt.Printf("Chef Client finished, %d recipes run\n", len(names))
	return nil
}

func expand(c *gochef.Client, list []string, out *[]recipe, roles *[]string, depth int) error {
	if depth > 10 {
		return fmt.Errorf("roles nest too deep")
	}
	for _, e := range list {
		it, err := gochef.NewRunListItem(e)
		if err != nil {
			return err
		}
		if it.Type == "role" {
			r, err := c.Roles.Get(it.Name)
			if err != nil {
				return fmt.Errorf("role %s: %w", it.Name, err)
			}
			*roles = append(*roles, it.Name)
			if err := expand(c, r.RunList, out, roles, depth+1); err != nil {
				return err
			}
			continue
		}
		cb, name, _ := strings.Cut(it.Name, "::")
		if name == "" {
			name = "default"
		}
		*out = append(*out, recipe{cookbook: cb, name: name, version: it.Version})
	}
	return nil
}

// fetch downloads a recipe's file. The file's URL is the server's own
// (its host name as it knows itself); the request goes to the host this
// guest reaches the server at.
func fetch(c *gochef.Client, r recipe) (string, error) {
	v := r.version
	if v == "" {
		v = "_latest"
	}
	cb, err := c.Cookbooks.GetVersion(r.cookbook, v)
	if err != nil {
		return "", fmt.Errorf("cookbook %s: %w", r.cookbook, err)
	}
	for _, item := range cb.Recipes {
		if item.Name != r.name+".rb" && item.Path != "recipes/"+r.name+".rb" {
			continue
		}
		u, err := url.Parse(item.Url)
		if err != nil {
			return "", err
		}
		u.Scheme, u.Host = c.BaseURL.Scheme, c.BaseURL.Host
		req, err := c.NewRequest("GET", u.String(), nil)
		if err != nil {
			return "", err
		}
		res, err := c.Client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 {
			return "", fmt.Errorf("download %s: %d %v", item.Path, res.StatusCode, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("cookbook %s has no recipe %s", r.cookbook, r.name)
}
