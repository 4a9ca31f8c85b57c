// Package storage defines the contract of storage drivers: storage pools
// (local, or shared by every host of a resource pool, as an NFS export is),
// volumes (blank or made from an image; attached, resized, deleted) and
// volume snapshots. Each hypervisor realises it its own way (libvirt storage
// pools, ESXi datastores and VMDKs, Docker volumes); the conformance suite
// every implementation passes is in package storagetest.
package storage
