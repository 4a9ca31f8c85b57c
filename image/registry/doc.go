// Package registry is a container registry as an image.Source, over
// go-containerregistry: List is the registry's catalog times each
// repository's tags, each with its manifest digest, the size of its config
// and layers and its platform ("os/arch"; an index lists its images'
// platforms); Put pushes the single image of a `docker save` archive; Open
// returns one; Delete deletes a manifest by digest (the registry must
// allow deletion). Repositories and Tags browse the registry.
//
// References are ovm.ImageRef of format oci whose name is an image of this
// registry ("127.0.0.1:5000/team/app:1"); VM templates and images of
// another registry are ovm.ErrInvalid. Registry errors get their ovm kind
// from the HTTP status where they arise: not found, unavailable (refused
// credentials, throttling, server errors, an unreachable registry),
// unsupported (a disabled operation), invalid (a refused request), keeping
// the registry's text.
//
// Plain HTTP is used only for a registry on loopback or one configured
// Insecure: go-containerregistry would otherwise fall back to plain HTTP
// for private addresses too.
package registry
