// Package client is a small Go client of the OVM REST API.
//
// A Client holds a base URL, a bearer token and an http.Client. Typed
// methods cover the resources the ovm CLI works with; they send and decode
// the API's own types (packages ovm and server/apitypes, which the server
// serves), and the client imports nothing else of the server. Do and Call
// reach any other route. Every failure the server answers is an RFC 9457 problem,
// returned as a *Problem whose message names each invalid field:
//
//	c, err := client.New("https://ovm.example.com", token, nil)
//	...
//	it, err := c.CreateInstance(ctx, apitypes.InstanceCreate{Name: "web", Spec: spec, Start: true})
//	var p *client.Problem
//	if errors.As(err, &p) && p.Status == http.StatusUnprocessableEntity {
//		fmt.Println(p) // invalid instance spec (422): spec.memoryBytes: must be at least 4MiB (got 1024)
//	}
//	task, err := c.WatchTask(ctx, it.Task.ID, func(t ovm.Task) { fmt.Println(t.Progress) })
//
// Lists are cursor-paginated: List returns one page, All follows each page's
// next cursor to the end. WatchTask follows a task's Server-Sent Events and
// falls back to polling when the stream is unavailable.
//
// A server whose certificate the system's roots do not verify (the
// self-signed certificate an OVM server makes for itself) is trusted by the
// SHA-256 fingerprint of its certificate, pinned once (Inspect shows it), or
// by a CA:
//
//	hc, err := client.TLS{Fingerprint: "9f86d0…"}.HTTPClient()
//	c, err := client.New("https://ovm.example.com:8443", token, hc)
package client
