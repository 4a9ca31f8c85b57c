package esxi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"
)

// dsPath returns "[ds] p".
func dsPath(ds, p string) string {
	if p == "" {
		return "[" + ds + "]"
	}
	return fmt.Sprintf("[%s] %s", ds, p)
}

// splitDSPath splits "[ds] p" into ds and p.
func splitDSPath(s string) (ds, p string) {
	var dp object.DatastorePath
	if !dp.FromString(s) {
		return "", s
	}
	return dp.Datastore, dp.Path
}

// search lists the files of the datastore directory dir (one level, or its
// sub-folders too) whose names match pattern.
func (c *conn) search(ctx context.Context, browser types.ManagedObjectReference, dir string, sub bool,
	query types.BaseFileQuery, pattern ...string) ([]types.HostDatastoreBrowserSearchResults, error) {
	spec := &types.HostDatastoreBrowserSearchSpec{
		MatchPattern: pattern,
		Details:      &types.FileQueryFlags{FileType: true, FileSize: true, Modification: true},
	}
	if query != nil {
		spec.Query = []types.BaseFileQuery{query}
	}
	b := object.NewHostDatastoreBrowser(c.client, browser)
	var task *object.Task
	var err error
	if sub {
		task, err = b.SearchDatastoreSubFolders(ctx, dir, spec)
	} else {
		task, err = b.SearchDatastore(ctx, dir, spec)
	}
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, err
	}
	switch r := info.Result.(type) {
	case types.HostDatastoreBrowserSearchResults:
		return []types.HostDatastoreBrowserSearchResults{r}, nil
	case types.ArrayOfHostDatastoreBrowserSearchResults:
		return r.HostDatastoreBrowserSearchResults, nil
	}
	return nil, nil
}

// download reads a datastore file over HTTP.
func (c *conn) download(ctx context.Context, ds, p string) ([]byte, error) {
	u := object.NewDatastoreURL(*c.soap.URL(), strings.TrimPrefix(c.dc.InventoryPath, "/"), ds, p)
	rc, _, err := c.soap.Download(ctx, u, &soap.DefaultDownload)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 1<<20))
}

// upload writes a datastore file over HTTP.
func (c *conn) upload(ctx context.Context, ds, p string, data []byte) error {
	u := object.NewDatastoreURL(*c.soap.URL(), strings.TrimPrefix(c.dc.InventoryPath, "/"), ds, p)
	param := soap.DefaultUpload
	param.ContentLength = int64(len(data))
	return c.soap.Upload(ctx, bytes.NewReader(data), u, &param)
}

// mkdir makes a datastore directory and its parents; one that exists is fine.
func (c *conn) mkdir(ctx context.Context, path string) error {
	err := object.NewFileManager(c.client).MakeDirectory(ctx, path, c.dc, true)
	if err != nil && isFault[*types.FileAlreadyExists](err) {
		return nil
	}
	return err
}

// remove deletes a datastore file or directory (with what is in it).
func (c *conn) remove(ctx context.Context, path string) error {
	t, err := object.NewFileManager(c.client).DeleteDatastoreFile(ctx, path, c.dc)
	if err != nil {
		return err
	}
	return t.Wait(ctx)
}

// diskCapacity reads the capacity of a VMDK from its descriptor.
func (c *conn) diskCapacity(ctx context.Context, path string) (int64, error) {
	ds, p := splitDSPath(path)
	b, err := c.download(ctx, ds, p)
	if err != nil {
		return 0, err
	}
	d, err := vmdk.ParseDescriptor(bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("descriptor of %s: %w", path, err)
	}
	return d.Capacity(), nil
}
