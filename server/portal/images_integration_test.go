//go:build integration

package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert/converttest"
)

// qcow2 makes a qcow2 file of virtual size virt with qemu-img; data bytes
// of random content are written into it first (0: an empty disk).
func qcow2(t *testing.T, dir, file string, virt string, data int64) string {
	t.Helper()
	out := filepath.Join(dir, file)
	if data == 0 {
		b, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", out, virt).CombinedOutput()
		require.NoError(t, err, "qemu-img create: %s", b)
		return out
	}
	raw := filepath.Join(dir, file+".raw")
	f, err := os.Create(raw)
	require.NoError(t, err)
	_, err = io.CopyN(f, randomReader{}, data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	b, err := exec.Command("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out).CombinedOutput()
	require.NoError(t, err, "qemu-img convert: %s", b)
	return out
}

// randomReader is bytes that do not compress (a counter mixed by sha256).
type randomReader struct{}

func (randomReader) Read(p []byte) (int, error) {
	var n uint64
	for i := 0; i < len(p); i += sha256.Size {
		n++
		s := sha256.Sum256([]byte(fmt.Sprint(n, i)))
		copy(p[i:], s[:])
	}
	return len(p), nil
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type imageRec struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Phase         string `json:"phase"`
	Digest        string `json:"digest"`
	Size          int64  `json:"size"`
	UploadedBytes int64  `json:"uploadedBytes"`
}

// putRange sends body as the bytes START-END of the template's TOTAL.
func (s *server) putRange(t *testing.T, token, id string, body []byte, start, total int64) imageRec {
	t.Helper()
	req, err := http.NewRequest("PUT", s.url+"/v1/images/"+id+"/content", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(body))-1, total))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	var img imageRec
	require.NoError(t, json.Unmarshal(b, &img))
	return img
}

// pushRandom pushes a small random image to repo:tag of the registry and
// removes it when the test ends (gone already is fine).
func pushRandom(t *testing.T, registry, repo, tag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(registry + "/" + repo + ":" + tag)
	require.NoError(t, err)
	img, err := random.Image(2048, 1)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, remote.Write(ref, img, remote.WithContext(ctx)), "push %s", ref)
	t.Cleanup(func() { converttest.DeleteImage(ref.String()) })
	return ref
}

// TestPortalImagesAndRegistry: a tenant uploads a qcow2 made by qemu-img
// through the image view (its digest is the file's), deletes it, and
// resumes an upload the server holds the first chunk of with the same
// file; an administrator registers the real registry of the test
// environment (a bad address shows the API's message beside the field),
// browses its repositories and a repository's tags, deletes a tag (gone
// from the registry) and sees the registry's container images beside the
// templates. Screenshots in both languages, axe on each view.
func TestPortalImagesAndRegistry(t *testing.T) {
	check := newViewCheck(t)
	address := testEnv(t, "OVM_TEST_REGISTRY")
	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	ann := s.login(t, "ann", "tenant-password-1")
	dir := t.TempDir()
	tiny := qcow2(t, dir, "tiny.qcow2", "16M", 0)
	big := qcow2(t, dir, "big.qcow2", "32M", 6<<20)

	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/images")
	row := `table.images tr[data-name="tiny.qcow2"]`
	tb.do(chromedp.SetUploadFiles(chromedp.CSS("#img-file"), []string{tiny}))
	assert.Equal(t, "tiny.qcow2", run(tb, jsValue[string](`document.querySelector("#img-name").value`)), "the name follows the file")
	upload := `form[aria-labelledby="img-upload"] button[type="submit"]`
	tb.do(js(`const e = document.querySelector("#img-name"); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true}))`),
		click(upload), visible(`.field-error[data-field="img-name"]`))
	assert.NotEmpty(t, tb.text(`.field-error[data-field="img-name"]`), "the API's message beside the name")
	tb.do(fill("#img-name", "tiny.qcow2"), fill("#img-os", "linux"), click(upload))
	tb.doFor(2*time.Minute, visible(row+`[data-phase="ready"]`))
	var page struct {
		Items []imageRec `json:"items"`
	}
	s.must(t, http.StatusOK, "GET", "/v1/images", ann, nil, &page)
	require.Len(t, page.Items, 1)
	assert.Equal(t, sha256File(t, tiny), page.Items[0].Digest, "the uploaded bytes are the file's")
	assert.Contains(t, tb.text(row+" td.phase"), "Ready")
	tb.shot("tenant-images-en")
	check.accessible(tb, "en images")
	// The create wizard offers the catalog's ready templates for a VM.
	tb.goTo("/instances")
	tb.do(click("a.wizard-link"), visible("#wiz-image"), waitFor(`document.querySelector('#wiz-catalog option[value="tiny.qcow2"]') !== null`))
	tb.goTo("/images")
	tb.do(visible(row))

	// An upload that stopped after its first chunk resumes from the bytes
	// the server has with the same file.
	data, err := os.ReadFile(big)
	require.NoError(t, err)
	require.Greater(t, len(data), 4<<20, "the file is more than one chunk")
	var rec imageRec
	s.must(t, http.StatusCreated, "POST", "/v1/images", ann, map[string]any{"name": "big.qcow2", "format": "qcow2", "size": len(data)}, &rec)
	part := s.putRange(t, ann, rec.ID, data[:1<<20], 0, int64(len(data)))
	require.Equal(t, "uploading", part.Phase)
	require.EqualValues(t, 1<<20, part.UploadedBytes)
	bigRow := `table.images tr[data-name="big.qcow2"]`
	tb.do(click(`main .page-head button`), visible(bigRow+`[data-phase="uploading"] progress`))
	tb.shot("tenant-images-resume-en")
	// The answer to the last chunk is lost on the way: the page asks
	// the server where it is and finds the template ready.
	tb.do(js(`const f = window.fetch; window.puts = 0; window.fetch = (u, o) => (o && o.method === "PUT" && ++window.puts === 2) ? f(u, o).then(() => { throw new TypeError("answer lost") }) : f(u, o)`))
	tb.do(chromedp.SetUploadFiles(chromedp.CSS(bigRow+" input.resume-file"), []string{big}))
	tb.doFor(2*time.Minute, visible(bigRow+`[data-phase="ready"]`))
	s.must(t, http.StatusOK, "GET", "/v1/images/"+rec.ID, ann, nil, &rec)
	assert.Equal(t, sha256File(t, big), rec.Digest, "the resumed upload's bytes are the file's")
	assert.Equal(t, 2, run(tb, jsValue[int](`window.puts`)), "two chunks after the first MiB, the last answer lost")
	assert.False(t, run(tb, jsValue[bool](`document.querySelector("main .problem") !== null`)), "no problem shown: the upload ended")

	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] `+row))
	tb.shot("tenant-images-zh")
	check.accessible(tb, "zh images")
	tb.setLang("en")
	// The download brings the file's bytes (the blob the page saves).
	tiny0, err := os.Stat(tiny)
	require.NoError(t, err)
	tb.do(js(`window.savedBytes = -1; const mk = URL.createObjectURL; URL.createObjectURL = (b) => { window.savedBytes = b.size; return mk(b) }`),
		click(row+" button.download"), waitFor(fmt.Sprintf(`window.savedBytes === %d`, tiny0.Size())))
	tb.do(click(row + " button.danger"))
	tb.doFor(time.Minute, gone(row))
	s.must(t, http.StatusNotFound, "GET", "/v1/images/"+page.Items[0].ID, ann, nil, nil)

	// An administrator registers the real registry and browses it.
	suffix := strings.ToLower(fmt.Sprintf("%x", time.Now().UnixNano()))
	repo := "ovm-portal-" + suffix
	pushRandom(t, address, repo, "1")
	ab := newBrowser(t)
	ab.login(s.url, "admin", s.AdminPassword())
	ab.goTo("/registries")
	submit := `form[aria-labelledby="reg-create"] button[type="submit"]`
	ab.do(fill("#reg-name", "local"), fill("#reg-address", "not an address/"), click(submit), visible(`.field-error[data-field="reg-address"]`))
	assert.NotEmpty(t, ab.text(`.field-error[data-field="reg-address"]`), "the API's message beside the address")
	ab.shot("admin-registries-bad-address-en")
	ab.do(fill("#reg-address", address), click(submit))
	regRow := `table.registries tr[data-name="local"]`
	ab.doFor(time.Minute, visible(regRow+" li.default"))
	ab.do(click(regRow+" button.browse"), visible(fmt.Sprintf(`ul.repositories li[data-name=%q]`, repo)), fill("#repo-filter", "ovm-portal-"),
		visible(fmt.Sprintf(`ul.repositories li[data-name=%q]`, repo)), gone(`ul.repositories li[data-name="ovm-busybox"]`))
	ab.do(click(fmt.Sprintf(`ul.repositories li[data-name=%q] button`, repo)))
	tagRow := fmt.Sprintf(`table.registry-tags tr[data-name=%q]`, address+"/"+repo+":1")
	ab.doFor(time.Minute, visible(tagRow))
	ab.shot("admin-registries-en")
	check.accessible(ab, "en registries")
	ab.setLang("zh")
	ab.do(visible(`html[lang="zh-CN"] ` + tagRow))
	ab.shot("admin-registries-zh")
	ab.do(click(tagRow + " button.danger"))
	ab.doFor(time.Minute, gone(tagRow))
	ref, err := name.NewTag(address + "/" + repo + ":1")
	require.NoError(t, err)
	_, err = remote.Head(ref, remote.WithContext(t.Context()))
	assert.Error(t, err, "the tag is gone from the registry")

	// The administrator imports a file of a template library pool (a
	// missing file is named beside the path).
	var host idName
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "rack1", "kind": "fake", "endpoint": "fake://rack1", "poolId": pool}, &host)
	libDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(libDir, "os"), 0o755))
	qcow2(t, filepath.Join(libDir, "os"), "alpine.qcow2", "8M", 0)
	var sp struct {
		Task taskState `json:"task"`
	}
	s.must(t, http.StatusAccepted, "POST", "/v1/storage-pools", s.admin, map[string]any{"name": "templates", "kind": "shared", "path": libDir,
		"hostIds": []string{host.ID}, "templateLibrary": true}, &sp)
	require.Equal(t, "succeeded", s.waitTask(t, s.admin, sp.Task.ID, time.Minute).State)
	ab.setLang("en")
	ab.goTo("/images")
	importBtn := `form[aria-labelledby="img-import"] button[type="submit"]`
	ab.do(chooseText("#imp-pool", "templates"), fill("#imp-path", "os/missing.qcow2"), click(importBtn), visible(`.field-error[data-field="imp-path"]`))
	ab.shot("admin-images-import-missing-en")
	ab.do(fill("#imp-path", "os/alpine.qcow2"), fill("#imp-os", "linux"), click(importBtn))
	ab.doFor(time.Minute, visible(`table.images tr[data-name="alpine.qcow2"][data-phase="ready"]`))
	assert.Contains(t, ab.text(`table.images tr[data-name="alpine.qcow2"]`), "Platform-wide")
	ab.setLang("zh")

	// The catalog: the registry's container images beside the templates.
	ab.goTo("/images")
	ab.doFor(2*time.Minute, visible(`table.images tr[data-kind="container"]`), visible(`table.images tr[data-name="big.qcow2"]`))
	ab.shot("admin-images-zh")
	check.accessible(ab, "zh images of an administrator")
	ab.setLang("en")
	ab.do(choose("#img-kind", "container"), gone(`table.images tr[data-kind="template"]`), visible(`table.images tr[data-kind="container"]`))
	ab.shot("admin-images-containers-en")

	// The tenant converts an uploaded template into a container image in
	// its VDC's namespace, follows the task, and the image runs on the
	// real dockerd with the VM's file; converting a container image into a
	// template without the server's kernel shows the API's refusal.
	marker := "m" + suffix
	vmDisk := converttest.Disk(t, t.TempDir(), marker)
	converted := address + "/vdc-" + vdc[:8] + "/conv-" + marker + ":v1"
	t.Cleanup(func() { converttest.DeleteImage(converted) })
	tb.goTo("/registries")
	tb.goTo("/images")
	vmRow := `table.images tr[data-name="vm.qcow2"]`
	tb.do(chromedp.SetUploadFiles(chromedp.CSS("#img-file"), []string{vmDisk}), click(`form[aria-labelledby="img-upload"] button[type="submit"]`))
	tb.doFor(2*time.Minute, visible(vmRow+`[data-phase="ready"]`))
	tb.do(click(vmRow+" button.convert"), fill("tr.convert-row input.conv-repository", "conv-"+marker), fill("tr.convert-row input.conv-tag", "v1"),
		fill("tr.convert-row input.conv-cmd", "cat /etc/ovm-marker"), click(`tr.convert-row .convert-form button[type="submit"]`))
	tb.doFor(3*time.Minute, visible(`.followed[data-kind="image.to-container"][data-state="succeeded"]`))
	tb.shot("tenant-images-converted-en")
	assert.Equal(t, marker, strings.TrimSpace(converttest.RunImage(t, converted)), "the VM's file, read in the container made in the portal")

	cRow := fmt.Sprintf(`table.images tr[data-name=%q]`, converted)
	tb.doFor(time.Minute, visible(cRow))
	tb.do(click(cRow+" button.convert"), fill("tr.convert-row input.conv-name", "back-"+marker), click(`tr.convert-row .convert-form button[type="submit"]`),
		visible("tr.convert-row .convert-form .problem"))
	assert.NotEmpty(t, tb.text("tr.convert-row .convert-form .problem"), "the API's refusal in words")
	tb.setLang("zh")
	tb.shot("tenant-images-convert-refused-zh")
	check.accessible(tb, "zh images with a conversion")
	noneOf(t, "the tenant's image view", tb.html(), host.Name, host.ID, "fake://rack1")
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, host.Name, host.ID, "fake://rack1")
	}
}
