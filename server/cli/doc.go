// Package cli is the ovm command-line client: every ovm command but
// "ovm server". The main package calls Run with the arguments after the
// program name.
//
// A session starts with
//
//	ovm login https://ovm.example.com --user alice
//
// which asks for the password (without echo on a terminal, else the first
// line of stdin; --password-stdin forces stdin), and saves the server and the
// session token as a context in contexts.yaml (mode 0600) under the
// configuration directory ($OVM_CONFIG_DIR, else the user's configuration
// directory/ovm). --context picks a saved context for one command; --server
// and --token (or OVM_SERVER and OVM_TOKEN) bypass the file.
//
// An https:// server whose certificate the system's roots do not verify (a
// self-signed one) is shown at login by its SHA-256 fingerprint, which the
// context pins once the user accepts it (--accept-fingerprint in scripts);
// --ca-file names a CA instead. Without a context, OVM_FINGERPRINT or
// OVM_CA_FILE say how to trust the server.
//
// Commands are nouns then verbs: instance, vapp, volume, network, task,
// discovered, token, context, and for administrators datacenter, pool, host,
// vdc and user. Objects are named by name, id or a unique id prefix. Output
// is a table by default; -o json prints the API's JSON (a list as the API's
// page with every item) and -o yaml the same as YAML. Commands whose change
// runs as a task take --wait, which draws the task's progress on stderr and
// exits 1 when the task does not succeed, printing the end of its log;
// "ovm task watch ID" follows any task.
//
// Errors print one paragraph on stderr, the server's RFC 9457 problem with
// each invalid field named, and exit 1; a wrong command line exits 2.
package cli
