package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// ImageListParams select a page of the image catalog.
type ImageListParams struct {
	ListParams
	Kind   apitypes.ImageKind `query:"kind" doc:"Only templates or only container images."`
	Format ovm.ImageFormat    `query:"format" doc:"Only images of this format."`
}

// ImageUpload is a part of a template's file: the raw request body,
// streamed to the library by the handler (huma does not read it).
type ImageUpload struct {
	IDPath
	ContentRange string `header:"Content-Range" doc:"bytes START-END/TOTAL: where the body goes (START: the bytes the server has; TOTAL: the image's size). Without it the body starts at offset, or at 0."`
	Offset       int64  `query:"offset" minimum:"0" doc:"Where the body starts, when no Content-Range is given (the bytes the server has)."`
	body         io.Reader
	length       int64
}

// Resolve takes the request body as a stream and lifts the server's read
// deadline: an upload lasts as long as its bytes take.
func (in *ImageUpload) Resolve(ctx huma.Context) []error {
	in.body, in.length = ctx.BodyReader(), -1
	if r, _ := humago.Unwrap(ctx); r != nil && r.ContentLength >= 0 {
		in.length = r.ContentLength
	}
	_ = ctx.SetReadDeadline(time.Time{})
	return nil
}

// contentRange is "bytes START-END/TOTAL" (END and TOTAL may be "*").
var contentRange = regexp.MustCompile(`^bytes (\d{1,19})-(\d{1,19}|\*)/(\d{1,19}|\*)$`)

// upload turns the request's range into core's Upload.
func (in *ImageUpload) upload() (core.Upload, error) {
	up := core.Upload{Start: 0, StartField: "query.offset", Total: -1, TotalField: "header.Content-Range", Length: in.length, Body: in.body}
	if in.ContentRange == "" {
		up.Start = ovm.Bytes(in.Offset)
		return up, nil
	}
	up.StartField = "header.Content-Range"
	bad := func(reason string) (core.Upload, error) {
		return core.Upload{}, ovm.Invalid("invalid Content-Range", ovm.FieldError{Field: "header.Content-Range", Reason: reason})
	}
	m := contentRange.FindStringSubmatch(in.ContentRange)
	if m == nil {
		return bad("must be bytes START-END/TOTAL")
	}
	start, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return bad("START is out of range")
	}
	up.Start = ovm.Bytes(start)
	if m[3] != "*" {
		total, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			return bad("TOTAL is out of range")
		}
		up.Total = ovm.Bytes(total)
	}
	if m[2] != "*" {
		end, err := strconv.ParseInt(m[2], 10, 64)
		switch {
		case err != nil || end < start:
			return bad("END must not be before START")
		case up.Total >= 0 && ovm.Bytes(end) >= up.Total:
			return bad("END must be before TOTAL")
		case in.length >= 0 && in.length != end-start+1:
			return bad("END-START+1 must be the body's length")
		}
		if in.length < 0 {
			up.Length = end - start + 1
			up.Body = io.LimitReader(in.body, up.Length+1)
		}
	}
	return up, nil
}

// imageRoutes are the image catalog's VM templates: records, streamed and
// resumable uploads, downloads.
func (s *server) imageRoutes() {
	tags := []string{"images"}
	register(s, op{id: "list-images", method: http.MethodGet, path: "/v1/images", summary: "List the image catalog",
		desc: "VM templates of the catalog: the platform's and the caller's VDC's (administrators: every VDC's, or one VDC's " +
			"and the platform's with vdcId). " + pageDoc, tags: tags},
		func(ctx context.Context, p auth.Principal, in *ImageListParams) (*List[core.Image], error) {
			pg, err := s.svc.ListImages(ctx, p, core.ImageFilter{ListOptions: in.options(),
				Kind: in.Kind, Format: in.Format})
			q := in.query()
			for k, v := range map[string]string{"kind": string(in.Kind), "format": string(in.Format)} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return list("/v1/images", q, pg), err
		})
	register(s, op{id: "create-image", method: http.MethodPost, path: "/v1/images",
		summary: "Record a VM template whose file is uploaded next",
		desc: "Records the template in phase uploading; PUT its bytes to /v1/images/{id}/content. Administrators publish " +
			"platform-wide images (no vdcId) or into a VDC; tenants into their own VDC. A VDC's image reserves its size on " +
			"the VDC's disk quota (403 naming the quota when it does not fit); a platform image counts against nothing. " + createDoc,
		tags: tags, status: http.StatusCreated, errors: []int{409, 501}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ImageCreate
		}) (*Out[core.Image], error) {
			in.Body.IdempotencyKey = in.Key
			img, err := s.svc.CreateImage(ctx, p, in.Body)
			return &Out[core.Image]{Body: img}, err
		})
	getRoute(s, op{id: "get-image", method: http.MethodGet, path: "/v1/images/{id}", summary: "Get a catalog image",
		desc: "One image; an uploading one says how many bytes the server has (uploadedBytes).", tags: tags}, s.svc.GetImage)
	register(s, op{id: "update-image", method: http.MethodPatch, path: "/v1/images/{id}", summary: "Change a template's OS hint",
		desc: "Tenants change their VDC's images only. " + ifMatchDoc, tags: tags, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.ImagePatch
		}) (*Object[core.Image], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateImage(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-image", method: http.MethodDelete, path: "/v1/images/{id}",
		summary: "Delete a template from the catalog and the library",
		desc: "Gives a VDC's image's quota back. 409 while another request uploads it, or while an instance boots from it " +
			"(of its VDC; of any VDC for a platform image).",
		tags: tags, status: http.StatusNoContent, errors: []int{409, 412, 501}}, s.svc.DeleteImage)
	register(s, op{id: "upload-image", method: http.MethodPut, path: "/v1/images/{id}/content",
		summary: "Upload a template's bytes (streamed, resumable)",
		desc: "The raw request body is written to the template library as it arrives. Content-Range (bytes START-END/TOTAL) " +
			"or offset says where it starts, which must be the bytes the server has: otherwise 409 with uploadedBytes, the " +
			"offset to resume from. TOTAL must be the image's size (422 naming the header). A body that would pass the size " +
			"is refused and the upload starts over. When the last byte arrives the file's digest is checked: the image " +
			"becomes ready (200), or failed with the reason (422; its partial file removed). Until then 200 answers the " +
			"image still uploading, with uploadedBytes.",
		tags: tags, errors: []int{409, 501},
		body: &huma.RequestBody{Required: true, Description: "The bytes of the template's file from START on.",
			Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}},
		func(ctx context.Context, p auth.Principal, in *ImageUpload) (*Out[core.Image], error) {
			up, err := in.upload()
			if err != nil {
				return nil, err
			}
			img, err := s.svc.UploadImage(ctx, p, ovm.ID(in.ID), up)
			return &Out[core.Image]{Body: img}, err
		})
	register(s, op{id: "import-image", method: http.MethodPost, path: "/v1/images/import",
		summary: "Import a template file from a template library storage pool (administrators)",
		desc: "Registers a file that sits in a template library storage pool whose path this server sees (a shared path or " +
			"an NFS mount) as a ready image: taken as it is when the pool's path is the server's library, copied into the " +
			"library (hashed on the way) otherwise. 422 naming storagePoolId when the server does not see the pool's path " +
			"or the pool is no template library, 404 naming path when the file is not there. " + createDoc,
		tags: tags, status: http.StatusCreated, errors: []int{409, 501}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ImageImport
		}) (*Out[core.Image], error) {
			in.Body.IdempotencyKey = in.Key
			img, err := s.svc.ImportImage(ctx, p, in.Body)
			return &Out[core.Image]{Body: img}, err
		})
	s.downloadImageRoute(tags)
}

// downloadImageRoute serves a ready template's bytes, streamed.
func (s *server) downloadImageRoute(tags []string) {
	hop := huma.Operation{
		OperationID: "download-image",
		Method:      http.MethodGet,
		Path:        "/v1/images/{id}/content",
		Summary:     "Download a template's file",
		Description: "The ready template's bytes, streamed (its digest is the image's). 409 while the image is not ready.",
		Tags:        tags,
		Security:    bearer,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
			http.StatusConflict, http.StatusUnprocessableEntity, http.StatusNotImplemented},
		Responses: map[string]*huma.Response{"200": {
			Description: "The template's file.",
			Content:     map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}},
		}},
	}
	huma.Register(s.api, hop, func(ctx context.Context, in *IDPath) (*huma.StreamResponse, error) {
		rc, img, err := s.svc.OpenImage(ctx, principal(ctx), ovm.ID(in.ID))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer rc.Close()
			hctx.SetHeader("Content-Type", "application/octet-stream")
			hctx.SetHeader("Content-Length", strconv.FormatInt(int64(img.Size), 10))
			hctx.SetHeader("Content-Disposition", `attachment; filename="`+img.Name+`"`)
			hctx.SetStatus(http.StatusOK)
			if _, err := io.Copy(hctx.BodyWriter(), rc); err != nil && !errors.Is(err, context.Canceled) {
				// The status is out: the client finds the file cut short.
				s.log.WarnContext(ctx, "api: stream a template", "err", err, "requestId", requestID(ctx))
			}
		}}, nil
	})
}

// uploadProblem is the conflict of an upload that does not start at the
// bytes the server has, saying where to resume.
type uploadProblem struct {
	*huma.ErrorModel
	UploadedBytes int64 `json:"uploadedBytes"`
}

// offsetProblem returns the problem of an UploadOffsetError in err's
// chain, or nil.
func offsetProblem(err error) huma.StatusError {
	var oe *core.UploadOffsetError
	if !errors.As(err, &oe) {
		return nil
	}
	return &uploadProblem{UploadedBytes: int64(oe.Uploaded), ErrorModel: &huma.ErrorModel{Status: http.StatusConflict,
		Title: http.StatusText(http.StatusConflict), Detail: oe.Error(), Errors: []*huma.ErrorDetail{{Location: oe.Field,
			Message: "must start at " + strconv.FormatInt(int64(oe.Uploaded), 10) + ", the bytes the server has"}}}}
}
