package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func registryCommands() *command {
	return &command{name: "registry", aliases: []string{"registries"}, summary: "Container image registries: register, browse, push, delete", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List registries", run: listCmd[apitypes.Registry]{noun: "registries",
			list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]apitypes.Registry, error) {
				return cl.ListRegistries(ctx, o)
			},
			head: []any{"NAME", "ID", "ADDRESS", "DEFAULT", "INSECURE"},
			cells: func(r apitypes.Registry, _ time.Time) []any {
				return []any{r.Name, r.ID, r.Address, r.Default, r.Insecure}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a registry", run: registryLeaf("REGISTRY", "Show a registry.",
			func(a *app, cl *client.Client, id ovm.ID, _ []string) error {
				r, err := cl.GetRegistry(a.ctx, id)
				if err != nil {
					return err
				}
				return a.show(r, func(w io.Writer) { registryDetail(w, r) })
			})},
		{name: "add", aliases: []string{"register", "create"}, summary: "Register a registry (administrators)", run: (*app).registryAdd},
		{name: "set", aliases: []string{"update"}, summary: "Change a registry's credentials or settings, or make it the default", run: (*app).registrySet},
		{name: "delete", aliases: []string{"rm"}, summary: "Remove a registry record", run: registryLeaf("REGISTRY",
			"Remove a registry record (its images stay in the registry).", func(a *app, cl *client.Client, id ovm.ID, _ []string) error {
				if err := cl.DeleteRegistry(a.ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "Registry %s deleted.\n", id)
				return nil
			})},
		{name: "repos", aliases: []string{"repositories"}, summary: "List a registry's repositories", run: registryLeaf("REGISTRY",
			"List the repositories of a registry you may browse.", func(a *app, cl *client.Client, id ovm.ID, _ []string) error {
				rs, err := cl.RegistryRepositories(a.ctx, id)
				if err != nil {
					return err
				}
				return a.show(rs, func(w io.Writer) {
					row(w, "REPOSITORY", "VDC")
					for _, r := range rs {
						row(w, r.Name, r.VDCID)
					}
				})
			})},
		{name: "tags", summary: "List a repository's tags", run: registryLeaf("REGISTRY REPOSITORY",
			"List a repository's tags with their references, digests, sizes and platforms.", func(a *app, cl *client.Client, id ovm.ID, rest []string) error {
				imgs, err := cl.RegistryTags(a.ctx, id, rest[0])
				if err != nil {
					return err
				}
				return a.show(imgs, func(w io.Writer) { imageTable(w, imgs) })
			})},
		{name: "images", summary: "List a registry's images you may use", run: registryLeaf("REGISTRY",
			"List every tag of the repositories you may browse.", func(a *app, cl *client.Client, id ovm.ID, _ []string) error {
				imgs, err := cl.RegistryImages(a.ctx, id)
				if err != nil {
					return err
				}
				return a.show(imgs, func(w io.Writer) { imageTable(w, imgs) })
			})},
		{name: "delete-tag", summary: "Delete the image a tag names", run: registryLeaf("REGISTRY REPOSITORY TAG",
			"Delete the image a tag names (the manifest, so every tag of it).", func(a *app, cl *client.Client, id ovm.ID, rest []string) error {
				if err := cl.DeleteRegistryTag(a.ctx, id, rest[0], rest[1]); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "Deleted %s:%s.\n", rest[0], rest[1])
				return nil
			})},
		{name: "push", summary: "Push a docker save archive", run: (*app).registryPush},
	}}
}

// registryLeaf returns the leaf that resolves its first argument (a
// registry's name, id or unique id prefix) and calls do with the others.
func registryLeaf(args, desc string, do func(a *app, cl *client.Client, id ovm.ID, rest []string) error) leaf {
	return func(a *app, path string, argv []string) error {
		f := a.flags(path, args, desc+" The registry is named by its name, id or a unique id prefix.")
		names := strings.Fields(args)
		pos, err := f.parseN(argv, names...)
		if err != nil {
			return err
		}
		cl, err := a.client()
		if err != nil {
			return err
		}
		id, err := a.registryID(cl, pos[0])
		if err != nil {
			return err
		}
		return do(a, cl, id, pos[1:])
	}
}

// registryID resolves a registry's name or id.
func (a *app) registryID(cl *client.Client, ref string) (ovm.ID, error) {
	return resolveIn("registry", ref, func() ([]named, error) {
		rs, err := cl.ListRegistries(a.ctx, client.ListOptions{})
		return namesOf(rs, err, func(r apitypes.Registry) named { return named{r.ID, r.Name} })
	})
}

func (a *app) registryAdd(path string, args []string) error {
	f := a.flags(path, "NAME --address HOST[:PORT] [--username USER --password-stdin] [--insecure] [--default]",
		"Register a container image registry: the server lists its catalog with the credentials and records it.\n"+
			"The password is encrypted at rest and never shown again.")
	address := f.String("address", "", "the registry's `HOST[:PORT]`")
	user := f.String("username", "", "the `user` OVM signs in as")
	pwStdin := f.Bool("password-stdin", false, "read the password or token from the first line of stdin")
	insecure := f.Bool("insecure", false, "plain HTTP, or HTTPS without verifying the certificate")
	def := f.Bool("default", false, "make it the platform's default registry")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *address == "" {
		return f.fail("--address is required")
	}
	in := apitypes.RegistryCreate{Name: pos[0], Address: *address, Username: *user, Insecure: *insecure, Default: *def, IdempotencyKey: newKey()}
	if *pwStdin {
		if in.Password, err = a.stdinSecret(); err != nil {
			return err
		}
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	r, err := cl.RegisterRegistry(a.ctx, in)
	if err != nil {
		return err
	}
	return a.show(r, func(w io.Writer) { registryDetail(w, r) })
}

func (a *app) registrySet(path string, args []string) error {
	f := a.flags(path, "REGISTRY [--username USER] [--password-stdin] [--insecure=true|false] [--default]",
		"Change a registry's credentials or insecure setting (checked against the registry first), or make it the default.")
	user := f.String("username", "", "a new `user`")
	pwStdin := f.Bool("password-stdin", false, "read a new password or token from the first line of stdin")
	insecure := f.Bool("insecure", false, "plain HTTP, or HTTPS without verifying the certificate")
	def := f.Bool("default", false, "make it the platform's default registry")
	pos, err := f.parseN(args, "REGISTRY")
	if err != nil {
		return err
	}
	var patch apitypes.RegistryPatch
	f.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "username":
			patch.Username = user
		case "insecure":
			patch.Insecure = insecure
		case "default":
			patch.Default = def
		}
	})
	if *pwStdin {
		pw, err := a.stdinSecret()
		if err != nil {
			return err
		}
		patch.Password = &pw
	}
	if patch == (apitypes.RegistryPatch{}) {
		return f.fail("nothing to change: give --username, --password-stdin, --insecure or --default")
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	id, err := a.registryID(cl, pos[0])
	if err != nil {
		return err
	}
	r, err := cl.UpdateRegistry(a.ctx, id, patch)
	if err != nil {
		return err
	}
	return a.show(r, func(w io.Writer) { registryDetail(w, r) })
}

func (a *app) registryPush(path string, args []string) error {
	f := a.flags(path, "ARCHIVE --repository REPO --tag TAG [--registry REGISTRY]",
		"Push a docker save archive (streamed from the file) as REPO:TAG to a registry (default: the platform's default).\n"+
			"A tenant's image goes under its VDC's namespace and counts against its disk quota.")
	im := newPushFlags(f)
	pos, err := f.parseN(args, "ARCHIVE")
	if err != nil {
		return err
	}
	if err := im.check(f); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	id, err := a.registryOrDefault(cl, *im.registry)
	if err != nil {
		return err
	}
	file, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("open %s: %w", pos[0], err)
	}
	defer file.Close()
	img, err := cl.PushArchive(a.ctx, id, *im.repo, *im.tag, file)
	if err != nil {
		return err
	}
	return a.show(img, func(w io.Writer) { imageTable(w, []apitypes.Image{img}) })
}

// registryOrDefault resolves a registry, or finds the default one.
func (a *app) registryOrDefault(cl *client.Client, ref string) (ovm.ID, error) {
	if ref != "" {
		return a.registryID(cl, ref)
	}
	rs, err := cl.ListRegistries(a.ctx, client.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if r.Default {
			return r.ID, nil
		}
	}
	return "", fmt.Errorf("no default registry: name one with --registry")
}

// instanceCommit commits a container instance as an image.
func (a *app) instanceCommit(path string, args []string) error {
	f := a.flags(path, "INSTANCE --repository REPO --tag TAG [--registry REGISTRY] [--wait]",
		"Commit a container instance's filesystem as REPO:TAG and push it to a registry (default: the platform's default).\n"+
			"A tenant's image goes under its VDC's namespace and counts against its disk quota.")
	im := newPushFlags(f)
	wait := f.Bool("wait", false, "wait until the image is pushed")
	f.inVDC("instance")
	pos, err := f.parseN(args, "INSTANCE")
	if err != nil {
		return err
	}
	if err := im.check(f); err != nil {
		return err
	}
	cl, id, err := f.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	in := apitypes.InstanceCommit{Repository: *im.repo, Tag: *im.tag}
	if *im.registry != "" {
		if in.RegistryID, err = a.registryID(cl, *im.registry); err != nil {
			return err
		}
	}
	out, err := cl.CommitInstance(a.ctx, id, in)
	if err != nil {
		return err
	}
	if *wait {
		if _, err := a.watch(a.env.Stderr, out.Task.ID); err != nil {
			return err
		}
	}
	return a.show(out, func(w io.Writer) {
		fmt.Fprintf(w, "Committing instance %s as %s (task %s).\n", id, out.Reference, out.Task.ID)
	})
}

// stdinSecret reads a password from the first line of stdin.
func (a *app) stdinSecret() (string, error) {
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

// pushFlags are the flags naming where an image is pushed.
type pushFlags struct{ repo, tag, registry *string }

func newPushFlags(f *flags) pushFlags {
	return pushFlags{repo: f.String("repository", "", "the `repository`"), tag: f.String("tag", "", "the `tag`"),
		registry: f.String("registry", "", "the `REGISTRY` (name or id; default: the default registry)")}
}

// check requires the repository and the tag.
func (i pushFlags) check(f *flags) error {
	if *i.repo == "" || *i.tag == "" {
		return f.fail("--repository and --tag are required")
	}
	return nil
}

func registryDetail(w io.Writer, r apitypes.Registry) {
	field(w, "Name", r.Name)
	field(w, "ID", r.ID)
	field(w, "Address", r.Address)
	if r.Username != "" {
		field(w, "Username", r.Username)
	}
	field(w, "Insecure", r.Insecure)
	field(w, "Default", r.Default)
	field(w, "Created", r.CreatedAt.Format(time.RFC3339))
}

// imageTable lists container images.
func imageTable(w io.Writer, imgs []apitypes.Image) {
	row(w, "REFERENCE", "DIGEST", "SIZE", "PLATFORM")
	for _, i := range imgs {
		row(w, i.Name, i.Digest, i.Size, i.Platform)
	}
}
