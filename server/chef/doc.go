// Package chef is the server's client of a Chef Infra Server, over
// github.com/go-chef/chef: every call takes a context, and every error
// carries an ovm kind with the Chef server's own text (an unreachable
// server is ovm.ErrUnavailable, a missing object ovm.ErrNotFound, a refused
// request ovm.ErrInvalid).
//
// It does what OVM needs of a Chef server and nothing else: check a
// connection, read the catalog (cookbooks with their versions and recipes,
// roles, environments), enrol a node (its API client with a public key OVM
// made, and the node with its run list), change a node's run list, read a
// node back, and unenrol it. The private key of an enrolled node is made
// here (NewKeyPair) and handed to the caller, which delivers it to the
// guest only; nothing in this package keeps or logs it.
package chef
