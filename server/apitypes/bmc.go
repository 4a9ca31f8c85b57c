package apitypes

// HostBMCSet sets a host's BMC (IPMI 2.0 lanplus), the out-of-band
// controller that fences the host. The server checks it by reading the
// chassis power before it keeps it; the password is stored encrypted and
// never returned.
type HostBMCSet struct {
	Address  string `json:"address" maxLength:"255" doc:"The BMC's host name or IP address."`
	Port     int    `json:"port,omitempty" minimum:"0" maximum:"65535" doc:"The BMC's UDP port (default 623)."`
	Username string `json:"username" maxLength:"16" doc:"A BMC user with the administrator privilege."`
	Password string `json:"password" maxLength:"20" writeOnly:"true" doc:"The BMC user's password (write-only; stored encrypted)."`
}
