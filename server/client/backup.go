package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Backup asks the server for an online backup of its embedded store and
// secret key (administrators) and writes the archive (gzip-compressed tar)
// to w, returning its size. The archive holds the secret key.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := c.newRequest(ctx, Request{Method: http.MethodPost, Path: "/v1/backup", Accept: "application/gzip, application/problem+json"})
	if err != nil {
		return 0, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST /v1/backup: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return 0, problemOf(res.StatusCode, res.Header, b)
	}
	n, err := io.Copy(w, res.Body)
	if err != nil {
		return n, fmt.Errorf("POST /v1/backup: read the archive: %w", err)
	}
	return n, nil
}
