// Package image is OVM's image center: VM templates (qcow2, raw, vmdk) kept
// in a library directory every host sees, and container images in a private
// registry, listed side by side as one catalog.
//
// Source is the contract every image source implements, and
// image/imagetest the conformance suite each one passes:
//
//   - image/library: the template library, a directory of template files
//     (atomic checksummed uploads, restartable ones, a qemu-img format
//     check, digests kept beside the files);
//   - image/registry: a container registry over go-containerregistry
//     (catalog and tags, push and pull of `docker save` archives, delete);
//   - image/convert: conversion between VM disks and container images.
//
// A Put's digest is the SHA-256 of the bytes its reader yields
// ("sha256:<hex>"); CheckDigest, Digester and ContextReader are the helpers
// sources share to check it while they stream.
package image
