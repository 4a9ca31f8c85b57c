package chef

import (
	"fmt"
	"slices"
	"strings"

	gochef "github.com/go-chef/chef"

	"github.com/openovm/ovm/ovm"
)

// Item is one parsed run-list entry: a recipe (cookbook, recipe, optional
// version) or a role.
type Item struct {
	Role     bool
	Name     string // the role, or the cookbook
	Recipe   string // "default" when the entry names the cookbook only
	Version  string
	Original string
}

// String is the entry in its canonical form, recipe[cb::r] or role[r].
func (i Item) String() string {
	if i.Role {
		return "role[" + i.Name + "]"
	}
	s := i.Name
	if i.Recipe != "default" {
		s += "::" + i.Recipe
	}
	if i.Version != "" {
		s += "@" + i.Version
	}
	return "recipe[" + s + "]"
}

// ParseRunList parses run-list entries (recipe[cb], recipe[cb::r],
// recipe[cb@1.2.3], cb::r, role[r]) into canonical items; each bad entry
// is a field field[i].
func ParseRunList(field string, entries []string) ([]Item, error) {
	var f ovm.Fields
	out := make([]Item, 0, len(entries))
	for i, e := range entries {
		rli, err := gochef.NewRunListItem(strings.TrimSpace(e))
		if err != nil || rli.Name == "" {
			f.Addf(fmt.Sprintf("%s[%d]", field, i), "must be recipe[COOKBOOK], recipe[COOKBOOK::RECIPE] or role[ROLE], got %q", e)
			continue
		}
		it := Item{Role: rli.Type == "role", Version: rli.Version, Original: e}
		if it.Role {
			it.Name = rli.Name
		} else {
			it.Name, it.Recipe, _ = strings.Cut(rli.Name, "::")
			if it.Recipe == "" {
				it.Recipe = "default"
			}
		}
		if !validChefName(it.Name) || (!it.Role && !validChefName(it.Recipe)) {
			f.Addf(fmt.Sprintf("%s[%d]", field, i), "names letters, digits, '_', '-' or '.' only, got %q", e)
			continue
		}
		out = append(out, it)
	}
	return out, f.Err("invalid run list")
}

// Strings renders items in canonical form.
func Strings(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.String()
	}
	return out
}

// CheckRunList refuses, as fields field[i], the items the catalog does not
// have: an unknown role, cookbook, recipe or version.
func (cat Catalog) CheckRunList(field string, items []Item) error {
	var f ovm.Fields
	for i, it := range items {
		name := fmt.Sprintf("%s[%d]", field, i)
		if it.Role {
			if !slices.ContainsFunc(cat.Roles, func(r Role) bool { return r.Name == it.Name }) {
				f.Addf(name, "the chef server has no role %q", it.Name)
			}
			continue
		}
		i := slices.IndexFunc(cat.Cookbooks, func(c Cookbook) bool { return c.Name == it.Name })
		if i < 0 {
			f.Addf(name, "the chef server has no cookbook %q", it.Name)
			continue
		}
		found, versionFound := false, it.Version == ""
		for _, v := range cat.Cookbooks[i].Versions {
			if it.Version != "" && v.Version != it.Version {
				continue
			}
			versionFound = true
			if slices.Contains(v.Recipes, it.Recipe) {
				found = true
			}
		}
		switch {
		case !versionFound:
			f.Addf(name, "the chef server has no version %s of cookbook %q", it.Version, it.Name)
		case !found:
			f.Addf(name, "cookbook %q has no recipe %q", it.Name, it.Recipe)
		}
	}
	return f.Err("the run list names what the chef server does not have")
}

// CheckEnvironment refuses an environment the catalog does not have
// ("_default" always exists).
func (cat Catalog) CheckEnvironment(field, env string) error {
	if env == "" || env == "_default" || slices.ContainsFunc(cat.Environments, func(e Environment) bool { return e.Name == env }) {
		return nil
	}
	return ovm.Invalid("the chef server has no such environment", ovm.FieldError{Field: field, Reason: fmt.Sprintf("the chef server has no environment %q", env)})
}

// Merge returns list with the items of add that it lacks appended, in
// canonical form.
func Merge(list []string, add []Item) []string {
	out := slices.Clone(list)
	for _, it := range add {
		if s := it.String(); !slices.Contains(out, s) && !slices.Contains(out, it.Original) {
			out = append(out, s)
		}
	}
	return out
}
