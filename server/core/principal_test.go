package core_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// TestServiceMethodsTakeAPrincipal: every operation of the tenant-facing
// Service takes the context and then the principal it acts as; only login
// and token authentication, which make a principal from a credential, take
// none. What the server does on its own behalf is System's.
func TestServiceMethodsTakeAPrincipal(t *testing.T) {
	makePrincipal := map[string]bool{"Login": true, "LoginFrom": true, "Authenticate": true}
	ctxType := reflect.TypeFor[context.Context]()
	principal := reflect.TypeFor[auth.Principal]()
	svc := reflect.TypeFor[*core.Service]()
	for i := range svc.NumMethod() {
		m := svc.Method(i)
		t.Run(m.Name, func(t *testing.T) {
			takes := m.Type.NumIn() >= 3 && m.Type.In(1) == ctxType && m.Type.In(2) == principal
			if makePrincipal[m.Name] {
				assert.False(t, takes, "%s makes a principal", m.Name)
				assert.True(t, m.Type.NumIn() >= 2 && m.Type.In(1) == ctxType, "%s takes a context first", m.Name)
				return
			}
			assert.True(t, takes, "Service.%s%s takes no principal after its context", m.Name, m.Type)
		})
	}
	assert.Greater(t, svc.NumMethod(), 40, "Service's methods")
}
