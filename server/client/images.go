package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ImageQuery filters the image catalog; zero fields do not filter.
type ImageQuery struct {
	Kind   apitypes.ImageKind
	Format ovm.ImageFormat
}

// ListImages returns the catalog's images the caller sees: the platform's
// and its VDC's (administrators: every VDC's, or one VDC's and the
// platform's).
func (c *Client) ListImages(ctx context.Context, q ImageQuery, o ListOptions) ([]apitypes.Image, error) {
	v := url.Values{}
	if q.Kind != "" {
		v.Set("kind", string(q.Kind))
	}
	if q.Format != "" {
		v.Set("format", string(q.Format))
	}
	path := "/v1/images"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return All[apitypes.Image](ctx, c, path, o)
}

// GetImage returns a catalog image; an uploading one says how many bytes
// the server has (UploadedBytes).
func (c *Client) GetImage(ctx context.Context, id ovm.ID) (apitypes.Image, error) {
	return get[apitypes.Image](ctx, c, idPath("images", id))
}

// CreateImage records a VM template whose bytes UploadImage sends next.
func (c *Client) CreateImage(ctx context.Context, in apitypes.ImageCreate) (apitypes.Image, error) {
	return post[apitypes.Image](ctx, c, "/v1/images", in, in.IdempotencyKey)
}

// ImportImage registers a template file of a template library storage pool
// the server sees (administrators).
func (c *Client) ImportImage(ctx context.Context, in apitypes.ImageImport) (apitypes.Image, error) {
	return post[apitypes.Image](ctx, c, "/v1/images/import", in, in.IdempotencyKey)
}

// UpdateImage changes a template's OS hint.
func (c *Client) UpdateImage(ctx context.Context, id ovm.ID, patch apitypes.ImagePatch) (apitypes.Image, error) {
	return Call[apitypes.Image](ctx, c, Request{Method: http.MethodPatch, Path: idPath("images", id), Body: patch})
}

// DeleteImage removes a template from the catalog and the library.
func (c *Client) DeleteImage(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("images", id)}, nil)
	return err
}

// UploadImage streams n bytes of r as the part of the image's file that
// starts at offset (the bytes the server has, GetImage's UploadedBytes);
// total is the image's size. The answer is the image: still uploading, or
// ready after its last byte. A start the server does not have is a 409
// problem.
func (c *Client) UploadImage(ctx context.Context, id ovm.ID, offset, n, total int64, r io.Reader) (apitypes.Image, error) {
	path := idPath("images", id) + "/content"
	req, err := c.newRequest(ctx, Request{Method: http.MethodPut, Path: path})
	if err != nil {
		return apitypes.Image{}, err
	}
	req.Body, req.ContentLength = io.NopCloser(io.LimitReader(r, n)), n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if n > 0 {
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, offset+n-1, total))
	} else {
		req.URL.RawQuery = url.Values{"offset": {fmt.Sprint(offset)}}.Encode()
	}
	var img apitypes.Image
	err = c.send(req, &img)
	return img, err
}

// DownloadImage writes a ready template's bytes to w and returns how many
// it wrote.
func (c *Client) DownloadImage(ctx context.Context, id ovm.ID, w io.Writer) (int64, error) {
	path := idPath("images", id) + "/content"
	req, err := c.newRequest(ctx, Request{Method: http.MethodGet, Path: path, Accept: "application/octet-stream, application/problem+json"})
	if err != nil {
		return 0, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return 0, problemOf(res.StatusCode, res.Header, b)
	}
	got, err := io.Copy(w, res.Body)
	if err != nil {
		return got, fmt.Errorf("GET %s: read the file: %w", path, err)
	}
	if res.ContentLength >= 0 && got != res.ContentLength {
		return got, fmt.Errorf("GET %s: the file ended after %d of %d bytes", path, got, res.ContentLength)
	}
	return got, nil
}

// send sends a request built by hand and decodes its JSON answer into out.
func (c *Client) send(req *http.Request, out any) error {
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", req.Method, req.URL.Path, err)
	}
	if res.StatusCode >= 400 {
		return problemOf(res.StatusCode, res.Header, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
