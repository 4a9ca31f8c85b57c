// Package networktest is the conformance suite every network driver runs:
// the in-memory fake, and Linux bridges through libvirt, ESXi port groups
// and Docker networks against real engines. A driver's test gives a Harness
// (how to make a driver, a network for it, an instance to attach) and calls
// Run:
//
//	func TestConformance(t *testing.T) {
//		networktest.Run(t, networktest.Harness{
//			New:      func(t *testing.T) network.Driver { return fake.New(fake.Options{}) },
//			Network:  func(t *testing.T, name string) ovm.Network { ... },
//			Instance: func(t *testing.T) ovm.ID { return ovm.NewID() },
//		})
//	}
//
// Each test is a named sub-test (the constants such as CreateIdempotent)
// with a driver from Harness.New; everything it makes is removed in
// t.Cleanup. Addresses come from the package network IPAM, rebuilt from the
// driver's Attachments, so the suite also checks that a driver reports back
// the addresses it was given. Tests of a capability the driver does not
// announce (VLAN, IPv6) check instead that it refuses with
// ovm.ErrUnsupported and makes nothing.
//
// A driver that cannot meet a test names it in Harness.Exceptions with a
// justification; Run then does not run it and logs the justification. An
// exception without a justification, or naming no test of the suite, fails
// the suite before any test runs, so exceptions cannot rot silently.
package networktest
