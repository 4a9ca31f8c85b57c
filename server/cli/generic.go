package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/client"
)

// The shapes most leaves share: list a collection, show, delete or act on
// one object named by its argument. A client call is passed as a method
// expression such as (*client.Client).GetVolume.

// leaf is what a leaf command runs: path is its command path (such as
// "volume list"), args the words after it.
type leaf = func(a *app, path string, args []string) error

// lookup returns the API client and the id of the object of kind that ref
// names (a name, an id or a unique id prefix).
func (a *app) lookup(kind, ref string) (*client.Client, ovm.ID, error) {
	cl, err := a.client()
	if err != nil {
		return nil, "", err
	}
	id, err := a.resolve(kind, ref, "")
	if err != nil {
		return nil, "", err
	}
	return cl, id, nil
}

// clientIn returns the API client and the VDC that an optional --vdc
// flag names ("" without one).
func (a *app) clientIn(vdcRef string) (*client.Client, ovm.ID, error) {
	cl, err := a.client()
	if err != nil {
		return nil, "", err
	}
	vdc, err := a.resolveVDC(vdcRef)
	if err != nil {
		return nil, "", err
	}
	return cl, vdc, nil
}

// vdcScoped are the kinds whose objects live in a VDC: a leaf on one of
// them takes --vdc like their list does.
var vdcScoped = map[string]bool{"instance": true, "network": true, "volume": true, "vapp": true, "task": true, "image": true}

// inVDC adds --vdc VDC to a leaf on one object of kind when objects of kind
// live in a VDC: an administrator names the VDC the name is looked up in,
// as with list. Platform kinds take no --vdc.
func (f *flags) inVDC(kind string) {
	if !vdcScoped[kind] || f.Lookup("vdc") != nil {
		return
	}
	f.vdc = f.String("vdc", "", "look the "+kind+" up in this `VDC` (administrators)")
	f.synopsis += " [--vdc VDC]"
}

// lookup returns the API client and the id of the object of kind that ref
// names, in the VDC of the leaf's --vdc when inVDC added it.
func (f *flags) lookup(kind, ref string) (*client.Client, ovm.ID, error) {
	vdcRef := ""
	if f.vdc != nil {
		vdcRef = *f.vdc
	}
	cl, vdc, err := f.a.clientIn(vdcRef)
	if err != nil {
		return nil, "", err
	}
	id, err := f.a.resolve(kind, ref, vdc)
	if err != nil {
		return nil, "", err
	}
	return cl, id, nil
}

// object parses the arguments of a leaf on one object of kind, named by
// its only positional argument arg ("NAME|ID" or "ID"), with --vdc for the
// kinds of a VDC, and looks the object up.
func (f *flags) object(args []string, arg, kind string) (*client.Client, ovm.ID, error) {
	f.inVDC(kind)
	pos, err := f.parseN(args, arg)
	if err != nil {
		return nil, "", err
	}
	return f.lookup(kind, pos[0])
}

// listCmd is a leaf that lists a collection: a table, or with -o json or
// yaml the API's page of items.
type listCmd[T any] struct {
	noun string // the plural, as in "List volumes."
	desc string // the description; default "List <noun>."
	// vdc adds --vdc VDC (administrators: one VDC's objects), limit adds
	// --limit N; list receives them as o.VDCID and (when above 0) o.Limit.
	vdc, limit bool
	list       func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]T, error)
	// The table is head and a row of cells per item, or what table writes.
	head  []any
	cells func(it T, now time.Time) []any
	table func(w io.Writer, items []T, now time.Time)
}

func (c listCmd[T]) run(a *app, path string, args []string) error {
	var synopsis []string
	if c.vdc {
		synopsis = append(synopsis, "[--vdc VDC]")
	}
	if c.limit {
		synopsis = append(synopsis, "[--limit N]")
	}
	desc := c.desc
	if desc == "" {
		desc = "List " + c.noun + "."
	}
	f := a.flags(path, strings.Join(synopsis, " "), desc)
	vdcRef, limit := new(string), new(int)
	if c.vdc {
		f.StringVar(vdcRef, "vdc", "", "list the "+c.noun+" of one `VDC` (administrators)")
	}
	if c.limit {
		f.IntVar(limit, "limit", 0, "show at most N "+c.noun+" (0: all)")
	}
	if _, err := f.parseN(args); err != nil {
		return err
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	o := client.ListOptions{VDCID: string(vdc)}
	if *limit > 0 {
		o.Limit = *limit
	}
	items, err := c.list(cl, a.ctx, o)
	if err != nil {
		return err
	}
	now := time.Now()
	return a.show(page(items), func(w io.Writer) {
		if c.table != nil {
			c.table(w, items, now)
			return
		}
		row(w, c.head...)
		for _, it := range items {
			row(w, c.cells(it, now)...)
		}
	})
}

// all adapts a list call that takes no options to listCmd.list.
func all[T any](list func(*client.Client, context.Context) ([]T, error)) func(*client.Client, context.Context, client.ListOptions) ([]T, error) {
	return func(cl *client.Client, ctx context.Context, _ client.ListOptions) ([]T, error) { return list(cl, ctx) }
}

// showCmd returns the leaf that shows the object of kind named by its one
// argument arg ("NAME|ID" or "ID"): as detail prints it, or with -o json
// or yaml as the API has it.
func showCmd[T any](kind, arg, desc string, get func(*client.Client, context.Context, ovm.ID) (T, error), detail func(io.Writer, T)) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, arg, desc)
		cl, id, err := f.object(args, arg, kind)
		if err != nil {
			return err
		}
		v, err := get(cl, a.ctx, id)
		if err != nil {
			return err
		}
		return a.show(v, func(w io.Writer) { detail(w, v) })
	}
}

// deleteCmd returns the leaf that deletes (or revokes) the object of kind
// named by its one argument with del, then prints the line done makes of
// the argument as given and the object's id.
func deleteCmd(kind, desc string, del func(*client.Client, context.Context, ovm.ID) error, done func(ref string, id ovm.ID) string) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "NAME|ID", desc)
		f.inVDC(kind)
		pos, err := f.parseN(args, "NAME|ID")
		if err != nil {
			return err
		}
		cl, id, err := f.lookup(kind, pos[0])
		if err != nil {
			return err
		}
		if err := del(cl, a.ctx, id); err != nil {
			return err
		}
		fmt.Fprintln(a.env.Stdout, done(pos[0], id))
		return nil
	}
}

// deleteFrom returns the leaf that deletes an object of kind from
// collection (answering 204) and names it as it was given.
func deleteFrom(kind, collection string) leaf {
	return deleteCmd(kind, "Delete a "+kind+".",
		func(cl *client.Client, ctx context.Context, id ovm.ID) error { return cl.Delete(ctx, collection, id) },
		func(ref string, id ovm.ID) string { return deletedText(kind, ref, id) })
}

// deletedText says that the object of kind named ref (as given) with id
// was deleted.
func deletedText(kind, ref string, id ovm.ID) string {
	what := strings.ToUpper(kind[:1]) + kind[1:] + " " + ref
	if ref != string(id) {
		what += " (" + string(id) + ")"
	}
	return what + " deleted."
}

// taskCmd returns the leaf that starts a task (or tasks) on the object of
// kind named by its one argument with do, and prints its outcome with
// after, which follows the tasks to their end with --wait (help waitHelp).
func taskCmd[T any](kind, desc, waitHelp string, do func(*client.Client, context.Context, ovm.ID) (T, error), after func(a *app, out T, wait bool) error) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "NAME|ID [--wait]", desc)
		wait := f.Bool("wait", false, waitHelp)
		cl, id, err := f.object(args, "NAME|ID", kind)
		if err != nil {
			return err
		}
		out, err := do(cl, a.ctx, id)
		if err != nil {
			return err
		}
		return after(a, out, *wait)
	}
}
