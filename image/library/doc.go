// Package library is the VM template library: an image.Source over a
// directory every host sees (an NFS export in production, a plain
// directory in tests). A template is a file named by its ovm.ImageRef name
// ("debian-12.qcow2", "team/web.vmdk"), whose extension gives its format;
// names are resolved through os.Root, so no name reaches outside the
// directory, and container images are not held here (ovm.ErrInvalid).
//
// Put streams into a hidden file beside the template, hashing the bytes
// as they are written; it checks the digest, checks with `qemu-img info`
// that the bytes are a self-contained image of the name's format (no
// backing file, no external data file, no VMDK extent in another file),
// syncs and renames the file over the template. A failed or refused Put
// leaves no file behind.
//
// Each template has a hidden metadata file beside it (".<name>.meta": its
// digest and virtual size, and the size and modification time of the file
// they were computed for), so List reads no template's bytes; a template
// whose size or time changed since (an operator copied a new file in) is
// hashed and inspected again on the next Get or List.
//
// Uploads that may break off go through Partial, Append and Commit: the
// bytes accumulate in a hidden ".<name>.partial" file, synced after every
// Append, and an interrupted upload resumes at the offset Partial reports.
// Commit hashes the whole upload again, so no hash state has to survive a
// restart.
//
// Reading templates needs qemu-img (Debian package qemu-utils); without it
// Get, List and Put are ovm.ErrUnavailable.
package library
