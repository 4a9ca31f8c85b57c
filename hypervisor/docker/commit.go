package docker

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/docker/docker/api/types/container"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.ImageCommitter = (*Driver)(nil)

// CommitImage commits a container (paused meanwhile) as ref, pushes it and
// removes the host's tag of it again.
func (d *Driver) CommitImage(ctx context.Context, r hypervisor.Ref, ref string, auth hypervisor.RegistryAuth) (string, error) {
	c, err := d.inspect(ctx, r, "commit")
	if err != nil {
		return "", err
	}
	if _, err := d.c.cli.ContainerCommit(ctx, c.ID, container.CommitOptions{Reference: ref, Pause: true,
		Comment: "committed by OVM from instance " + string(r.ID)}); err != nil {
		return "", d.c.engineError(ctx, err, "", "commit %s as %s", r, ref)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = d.c.cli.ImageRemove(cctx, ref, dimage.RemoveOptions{})
	}()
	opts := dimage.PushOptions{}
	if auth.Username != "" {
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: auth.Username, Password: auth.Password})
		if err != nil {
			return "", ovm.Internal(err, "docker host %s: encode registry credentials", d.c.name)
		}
		opts.RegistryAuth = enc
	} else {
		// The engine wants an auth header on every push, even empty.
		opts.RegistryAuth = "e30="
	}
	rc, err := d.c.cli.ImagePush(ctx, ref, opts)
	if err != nil {
		return "", d.c.engineError(ctx, err, "", "push %s", ref)
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { _ = rc.Close() })
	defer stop()
	digest, err := readPush(rc)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", ovm.Wrap(ovm.KindUnavailable, err, "docker host %s: push %s", d.c.name, ref)
	}
	return digest, nil
}

// readPush reads the engine's push messages: an error message ends it, the
// last aux message carries the pushed digest.
func readPush(r io.Reader) (string, error) {
	var digest string
	dec := json.NewDecoder(r)
	for {
		var msg jsonmessage.JSONMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				if digest == "" {
					return "", errors.New("the engine reported no digest for the push")
				}
				return digest, nil
			}
			return "", err
		}
		if msg.Error != nil && msg.Error.Message != "" {
			return "", errors.New(msg.Error.Message)
		}
		if msg.Aux != nil {
			var aux struct {
				Digest string `json:"Digest"`
			}
			if json.Unmarshal(*msg.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
		}
	}
}
