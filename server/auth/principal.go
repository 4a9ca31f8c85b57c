package auth

import (
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// Role is what a user may do (the API's type).
type Role = apitypes.Role

// The roles.
const (
	RoleAdmin     = apitypes.RoleAdmin
	RoleVDCAdmin  = apitypes.RoleVDCAdmin
	RoleVDCMember = apitypes.RoleVDCMember
)

// User is a stored user. PasswordHash is an Argon2id PHC string and is never
// sent to clients.
type User struct {
	ID           ovm.ID `json:"id"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	VDCID        ovm.ID `json:"vdcId,omitempty"`
	PasswordHash string `json:"passwordHash,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
}

// Principal is who a request acts as.
type Principal struct {
	UserID  ovm.ID
	Name    string
	Role    Role
	VDCID   ovm.ID // empty for administrators
	TokenID ovm.ID
}

// Admin reports whether p is a platform administrator.
func (p Principal) Admin() bool { return p.Role == RoleAdmin }

// CanSeeVDC reports whether p may see objects of the VDC.
func (p Principal) CanSeeVDC(vdc ovm.ID) bool { return p.Admin() || (vdc != "" && vdc == p.VDCID) }

// CanManageVDC reports whether p may change a VDC's networks and users.
func (p Principal) CanManageVDC(vdc ovm.ID) bool {
	return p.Admin() || (p.Role == RoleVDCAdmin && vdc != "" && vdc == p.VDCID)
}
