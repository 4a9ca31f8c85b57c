package chef

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	gochef "github.com/go-chef/chef"

	"github.com/openovm/ovm/ovm"
)

// Catalog is what a Chef server offers to run on nodes.
type Catalog struct {
	Cookbooks    []Cookbook
	Roles        []Role
	Environments []Environment
}

// Cookbook is a cookbook with its versions, newest first.
type Cookbook struct {
	Name     string
	Versions []CookbookVersion
}

// CookbookVersion is one version of a cookbook and the recipes it has
// ("default", "server"...; run as recipe[cookbook::recipe]).
type CookbookVersion struct {
	Version string
	Recipes []string
}

// Role is a role and its run list.
type Role struct {
	Name        string
	Description string
	RunList     []string
}

// Environment is an environment.
type Environment struct {
	Name        string
	Description string
}

// catalogFetches bounds the requests Catalog makes at once.
const catalogFetches = 8

// Catalog reads the server's cookbooks (every version, with its recipes),
// roles and environments, sorted by name.
func (c *Client) Catalog(ctx context.Context) (Catalog, error) {
	var books gochef.CookbookListResult
	if err := c.do(ctx, http.MethodGet, "cookbooks?num_versions=all", nil, &books); err != nil {
		return Catalog{}, fmt.Errorf("chef: list cookbooks: %w", err)
	}
	var roles, envs map[string]string
	if err := c.do(ctx, http.MethodGet, "roles", nil, &roles); err != nil {
		return Catalog{}, fmt.Errorf("chef: list roles: %w", err)
	}
	if err := c.do(ctx, http.MethodGet, "environments", nil, &envs); err != nil {
		return Catalog{}, fmt.Errorf("chef: list environments: %w", err)
	}
	var out Catalog
	for name, vs := range books {
		cb := Cookbook{Name: name}
		for _, v := range vs.Versions {
			cb.Versions = append(cb.Versions, CookbookVersion{Version: v.Version})
		}
		slices.SortFunc(cb.Versions, func(a, b CookbookVersion) int { return compareVersions(b.Version, a.Version) })
		out.Cookbooks = append(out.Cookbooks, cb)
	}
	slices.SortFunc(out.Cookbooks, func(a, b Cookbook) int { return strings.Compare(a.Name, b.Name) })
	for name := range roles {
		out.Roles = append(out.Roles, Role{Name: name})
	}
	slices.SortFunc(out.Roles, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	for name := range envs {
		out.Environments = append(out.Environments, Environment{Name: name})
	}
	slices.SortFunc(out.Environments, func(a, b Environment) int { return strings.Compare(a.Name, b.Name) })

	// The details, a bounded number of requests at a time.
	var jobs []func(context.Context) error
	for i := range out.Cookbooks {
		cb := &out.Cookbooks[i]
		for j := range cb.Versions {
			v := &cb.Versions[j]
			jobs = append(jobs, func(ctx context.Context) error {
				recipes, err := c.recipes(ctx, cb.Name, v.Version)
				v.Recipes = recipes
				return err
			})
		}
	}
	for i := range out.Roles {
		r := &out.Roles[i]
		jobs = append(jobs, func(ctx context.Context) error {
			var role gochef.Role
			if err := c.do(ctx, http.MethodGet, "roles/"+url.PathEscape(r.Name), nil, &role); err != nil {
				return fmt.Errorf("chef: role %s: %w", r.Name, err)
			}
			r.Description, r.RunList = role.Description, append([]string{}, role.RunList...)
			return nil
		})
	}
	for i := range out.Environments {
		e := &out.Environments[i]
		jobs = append(jobs, func(ctx context.Context) error {
			var env gochef.Environment
			if err := c.do(ctx, http.MethodGet, "environments/"+url.PathEscape(e.Name), nil, &env); err != nil {
				return fmt.Errorf("chef: environment %s: %w", e.Name, err)
			}
			e.Description = env.Description
			return nil
		})
	}
	return out, runBounded(ctx, catalogFetches, jobs)
}

// recipes returns the recipe names of one cookbook version.
func (c *Client) recipes(ctx context.Context, name, version string) ([]string, error) {
	var cb gochef.Cookbook
	if err := c.do(ctx, http.MethodGet, "cookbooks/"+url.PathEscape(name)+"/"+url.PathEscape(version), nil, &cb); err != nil {
		return nil, fmt.Errorf("chef: cookbook %s %s: %w", name, version, err)
	}
	out := []string{}
	for _, r := range cb.Recipes {
		n := r.Name
		if i := strings.LastIndexByte(n, '/'); i >= 0 {
			n = n[i+1:]
		}
		if n, ok := strings.CutSuffix(n, ".rb"); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// runBounded runs jobs, at most n at a time, and returns the first error;
// after one, the jobs not started yet are not run.
func runBounded(ctx context.Context, n int, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := job(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ovm.Wrap(ovm.KindUnavailable, ctx.Err(), "chef: reading the catalog was interrupted")
	}
	return first
}

// compareVersions orders dotted versions numerically ("1.10.0" after
// "1.9.2").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			fmt.Sscan(as[i], &x)
		}
		if i < len(bs) {
			fmt.Sscan(bs[i], &y)
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
