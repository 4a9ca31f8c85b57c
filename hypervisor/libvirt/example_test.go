package libvirt_test

import (
	"fmt"

	"github.com/openovm/ovm/hypervisor/libvirt"
)

// ExampleParseURI shows how a connection URI is understood: the transport
// the driver dials and what the daemon is asked to open.
func ExampleParseURI() {
	for _, uri := range []string{"qemu:///system", "qemu+tcp://127.0.0.2/system", "qemu+ssh://root@kvm1/system"} {
		e, err := libvirt.ParseURI(uri)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(e.Transport, e.Host, e.RemoteURI())
	}
	// Output:
	// unix  qemu:///system
	// tcp 127.0.0.2 qemu:///system
	// ssh kvm1 qemu:///system
}
