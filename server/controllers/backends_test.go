//go:build !integration

package controllers_test

// integrationBackends is empty without the integration tag.
func integrationBackends() []backend { return nil }
