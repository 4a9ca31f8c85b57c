package ovm

// AlertKind says what an HA alert is about; package ha names the kinds.
type AlertKind string
