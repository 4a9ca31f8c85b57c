// Package network defines the network contract (L2 segments with a VLAN id,
// realised as a Linux bridge on KVM, a port group on ESXi, a bridge or
// macvlan network on Docker, and the attachments of instances to them) and
// OVM's IPAM: allocation, static reservation and release of IPv4 and IPv6
// addresses within a network's subnet and ranges, pure and deterministic.
//
// The conformance suite every implementation passes is in package networktest.
package network
