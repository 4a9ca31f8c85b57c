// Package fake is an in-memory storage driver that keeps real state: pools
// with a capacity, volumes that use it, attachments and snapshots. It
// implements storage.Driver, storage.Attacher and storage.Snapshotter,
// passes the whole storagetest conformance suite with no exception, and is
// safe for concurrent use.
//
// Fault knobs let tests of the layers above (tasks, HA) see failures:
// SetUnreachable makes every call fail with ovm.ErrUnavailable until it is
// cleared, and FailNext makes the next call of one method return a chosen
// error. The fake reads no clock: timestamps come from Options.Now.
package fake
