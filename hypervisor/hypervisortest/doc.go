// Package hypervisortest is the conformance suite every hypervisor driver
// runs: the in-memory fake in its unit tests, and the Docker, libvirt and
// ESXi drivers against real engines. A driver's test builds a Harness (how
// to connect, what a small valid instance looks like on that host, how to
// make an instance out of band) and calls Run:
//
//	func TestConformance(t *testing.T) {
//		hypervisortest.Run(t, hypervisortest.Harness{
//			New:           func(t *testing.T) hypervisor.Driver { return connect(t) },
//			Spec:          smallBusybox,
//			MakeUnmanaged: dockerRun,
//			Exceptions: map[string]string{
//				hypervisortest.TestMigrate: "containers do not migrate",
//			},
//		})
//	}
//
// Each sub-test has a stable name, listed as an exported constant (TestInfo,
// TestPowerCycle, ...), so that Exceptions can name the ones a driver
// cannot pass, each with its reason; the suite logs the reason and does not
// run the sub-test. An exception without a reason, or naming a test the
// suite does not have, fails the suite.
//
// Sub-tests use names unique to the run (a random suffix), since real
// engines keep state between runs, and every instance a sub-test makes is
// force-stopped and deleted in t.Cleanup. Sub-tests run one after the
// other; the concurrency sub-test is where calls overlap.
//
// Facets: a facet announced in Capabilities must be implemented (type
// assertion), and a facet implemented must work, whether announced or not.
// Migration kinds are announced one by one: an announced kind must work, and
// a Migrator asked for a kind it does not announce must refuse with
// ovm.ErrUnsupported.
package hypervisortest
