// Package imagetest is the conformance suite every image.Source runs: the
// template library on a temporary directory, and the registry source
// against the real registry of the test environment. A source's test gives
// a Harness (how to make a source, and sample images it can store) and
// calls Run:
//
//	func TestConformance(t *testing.T) {
//		imagetest.Run(t, imagetest.Harness{
//			New:    func(t *testing.T) image.Source { return library.New(t.TempDir()) },
//			Sample: func(t *testing.T, i int) (ovm.ImageRef, []byte) { ... },
//		})
//	}
//
// Each test is a named sub-test (the constants such as PutGetList) with a
// fresh source from Harness.New; every image it puts is deleted in
// t.Cleanup.
//
// The suite knows nothing of an image's inside: it checks what a source
// reports through the contract. A Put's digest is the SHA-256 of the bytes
// the reader yields; what Open returns is checked by putting it again under
// another reference and comparing the image's Digest and Size, so a source
// whose Open re-encodes an image (a registry writing a `docker save`
// archive) passes as long as the content is the same.
//
// A source that cannot meet a test names it in Harness.Exceptions with a
// justification; an exception without one, or naming no test of the suite,
// fails the suite before any test runs.
package imagetest
