package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// convertDoc describes the conversion route.
const convertDoc = "Converts between container images and VM templates in a task (`image.to-template` or " +
	"`image.to-container`), whose progress follows the conversion's steps. " +
	"**to-template**: `source` is a container image reference in a registry OVM knows (404 for another), pulled with that " +
	"registry's credentials; its layers become an ext4 root filesystem on a qcow2 disk that boots by direct kernel boot into " +
	"the image's entrypoint. The new ready template `target.name` (`<name>.qcow2` in the template library, its kernel and " +
	"initramfs `<name>.vmlinuz` and `<name>.initrd` beside it, recorded as `boot`) is platform-wide, or private to " +
	"`target.vdcId` (a tenant's is always its own VDC's) and then counts against the VDC's disk quota with the disk's size " +
	"(the task fails and rolls back beyond the quota). 409 when the server has no kernel for converted disks " +
	"(`--convert-kernel`) or the name is taken. " +
	"**to-container**: `source` is the id of a ready template the caller sees (404 otherwise) whose whole disk is an ext2/3/4 " +
	"filesystem; its files become a one-layer image pushed to `target.registryId` (default: the default registry) as " +
	"`target.repository:target.tag`; a tenant's repository is under its VDC's namespace `vdc-<short id>/`. The task's " +
	"`result` has the pushed reference and digest. " +
	"What cannot convert fails the task with the reason in words: an image for another architecture, a disk with no " +
	"filesystem OVM reads (partitioned, or not ext). A failed conversion leaves nothing: no scratch files, no template, no quota held."

// imageConversionRoutes are the routes of image conversions.
func (s *server) imageConversionRoutes() {
	register(s, op{id: "convert-image", method: http.MethodPost, path: "/v1/image-conversions",
		summary: "Convert a container image into a VM template, or a VM template into a container image, in a task",
		desc:    convertDoc, more: createDoc, tags: []string{"images"}, status: http.StatusAccepted, errors: []int{403, 404, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ImageConversion
		}) (*Accepted[core.ConversionTask], error) {
			in.Body.IdempotencyKey = in.Key
			return accepted(s.svc.ConvertImage(ctx, p, in.Body))
		})
}
