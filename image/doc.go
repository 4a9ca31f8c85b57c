// Package image is OVM's image center: VM templates (qcow2, raw, vmdk) kept
// in a library directory every host sees, and container images in a private
// registry, listed side by side as one catalog.
package image
