// Package storagetest is the conformance suite every storage driver runs:
// the in-memory fake, and libvirt storage pools, ESXi datastores and Docker
// volumes against real engines. A driver's test gives a Harness (how to make
// a driver, a pool spec, an image, an instance to attach to) and calls Run:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Harness{
//			New:  func(t *testing.T) storage.Driver { return fake.New(fake.Options{}) },
//			Pool: func(t *testing.T, name string) storage.PoolSpec { ... },
//			...
//		})
//	}
//
// Each test is a named sub-test (the constants such as CreateBlankVolume)
// with a fresh driver from Harness.New; everything it makes is removed in
// t.Cleanup. Tests of a facet the driver does not announce in its
// Capabilities (Attach, Snapshots, FromImage) are skipped, and the
// Capabilities test checks that what is announced is what is implemented.
//
// A driver that cannot meet a test names it in Harness.Exceptions with a
// justification; the test is then skipped and the justification logged. An
// exception without a justification, or naming no test of the suite, fails
// the suite before any test runs, so exceptions cannot rot silently.
//
// The suite cannot write data into a volume generically, so snapshot revert
// is observed through the volume's size: the Snapshots test grows a volume
// after a snapshot and expects the revert to bring the size back.
package storagetest
