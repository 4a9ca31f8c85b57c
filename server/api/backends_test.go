//go:build !integration

package api

// integrationBackends is empty without the integration build tag.
func integrationBackends() []backend { return nil }
