// Package ipmi powers hosts off and on through their baseboard management
// controller over IPMI 2.0 (RMCP+, "lanplus"), the out-of-band controller
// that fences a failed host before its instances restart elsewhere.
//
// A [BMC] reads the chassis power state, powers the machine off and
// confirms it off by reading the state back until it says off (bounded),
// and powers a returning machine on. Errors carry kinds from package ovm:
// a BMC that does not answer is ovm.ErrUnavailable, refused credentials are
// ovm.ErrInvalid naming the field (username or password), with the BMC's
// own words kept.
package ipmi
