package ovm

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// AddrRange is an inclusive range of addresses that IPAM may hand out.
type AddrRange struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
}

// Contains reports whether a is in the range.
func (r AddrRange) Contains(a netip.Addr) bool {
	return r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Network is an L2 segment with a VLAN id, a subnet, a gateway and the
// address ranges OVM's IPAM allocates from. Each hypervisor kind realises it
// its own way: a Linux bridge on a VLAN (KVM), a port group with the VLAN id
// (ESXi), a bridge or macvlan network (Docker).
type Network struct {
	ID      ID           `json:"id"`
	Name    string       `json:"name"`
	VDCID   ID           `json:"vdcId,omitempty"` // empty for a shared network
	VLAN    int          `json:"vlan"`            // 0 = untagged
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	// Ranges are the allocatable addresses; none means the whole subnet
	// less the network, broadcast (IPv4) and gateway addresses.
	Ranges    []AddrRange  `json:"ranges,omitempty"`
	DNS       []netip.Addr `json:"dns,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
}

// Validate checks the network's shape: VLAN 0-4094, a canonical subnet, a
// gateway and ranges inside it, ranges in order and not overlapping.
func (n Network) Validate() error {
	var f Fields
	if r := ValidateName(n.Name); r != "" {
		f.Add("name", r)
	}
	if n.VLAN < 0 || n.VLAN > 4094 {
		f.Add("vlan", "must be between 0 (untagged) and 4094")
	}
	switch {
	case !n.Subnet.IsValid():
		f.Add("subnet", "must be a CIDR such as 10.0.0.0/24 or fd00::/64")
	case n.Subnet.Masked() != n.Subnet:
		f.Addf("subnet", "has host bits set; did you mean %s?", n.Subnet.Masked())
	case n.Subnet.Addr().Is4() && n.Subnet.Bits() > 30:
		f.Add("subnet", "an IPv4 subnet must be /30 or larger")
	case n.Subnet.Addr().Is6() && n.Subnet.Bits() > 126:
		f.Add("subnet", "an IPv6 subnet must be /126 or larger")
	}
	if n.Subnet.IsValid() {
		if n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway) {
			f.Addf("gateway", "%s is outside subnet %s", n.Gateway, n.Subnet)
		}
		for i, r := range n.Ranges {
			p := fmt.Sprintf("ranges[%d]", i)
			switch {
			case !r.Start.IsValid() || !n.Subnet.Contains(r.Start):
				f.Addf(p+".start", "must be inside subnet %s", n.Subnet)
			case !r.End.IsValid() || !n.Subnet.Contains(r.End):
				f.Addf(p+".end", "must be inside subnet %s", n.Subnet)
			case r.End.Less(r.Start):
				f.Add(p+".end", "must not be before start")
			}
			for j := range i {
				o := n.Ranges[j]
				if o.Start.IsValid() && o.End.IsValid() && r.Start.IsValid() && r.End.IsValid() &&
					!(r.End.Less(o.Start) || o.End.Less(r.Start)) {
					f.Addf(p, "overlaps ranges[%d]", j)
				}
			}
		}
	}
	for i, d := range n.DNS {
		if !d.IsValid() {
			f.Addf(fmt.Sprintf("dns[%d]", i), "must be an IP address")
		}
	}
	return f.Err("invalid network")
}

// ParseMAC parses a unicast EUI-48 MAC address in colon or hyphen form and
// returns it in lower-case colon form.
func ParseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", Invalid("invalid mac", FieldError{Field: "mac", Reason: "must be an EUI-48 address like 52:54:00:12:34:56", Value: s})
	}
	if hw[0]&1 == 1 {
		return "", Invalid("invalid mac", FieldError{Field: "mac", Reason: "must be unicast (lowest bit of the first octet clear)", Value: s})
	}
	return hw.String(), nil
}
