//go:build !integration

package tasks

// integrationBackends adds no engine without the integration build tag.
func integrationBackends() []backend { return nil }
