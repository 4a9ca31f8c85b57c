package ovm

import "time"

// HostBMC is a host's baseboard management controller as OVM reaches it
// over IPMI 2.0 (lanplus) to fence the host: power it off when it failed,
// and on again when asked. Its password is kept encrypted by the server
// and never shown.
type HostBMC struct {
	Address  string `json:"address" doc:"The BMC's host name or IP address."`
	Port     int    `json:"port" doc:"The BMC's UDP port (IPMI: 623)."`
	Username string `json:"username" doc:"The BMC user (an administrator of the BMC)."`
	// Power is the chassis power the BMC read when the settings were
	// checked: "on" or "off".
	Power ChassisPower `json:"power" doc:"The chassis power the BMC read at the connection check."`
	// CheckedAt is when the settings were checked against the BMC.
	CheckedAt time.Time `json:"checkedAt"`
}

// ChassisPower is a machine's power as its BMC reads it.
type ChassisPower string

// The chassis power states.
const (
	ChassisOn  ChassisPower = "on"
	ChassisOff ChassisPower = "off"
)
