package core

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// userRecord is a stored user. Users live in the platform scope (names are
// unique across the platform, for login) with their VDC as ParentID.
type userRecord struct {
	auth.User
	CreatedAt time.Time `json:"createdAt"`
}

// User is a user as clients see it: never its password hash.
type User = apitypes.User

func (u userRecord) view() User {
	return User{ID: u.ID, Name: u.Name, Role: u.Role, VDCID: u.VDCID, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

// CreateUser is the input of a new user.
type CreateUser = apitypes.UserCreate

// NewUser is a created user, with its password when it was generated.
type NewUser = apitypes.NewUser

// CreateUser adds a user. Administrators create any user; a VDC
// administrator creates VDC users of its own VDC.
func (s *Service) CreateUser(ctx context.Context, p auth.Principal, in CreateUser) (NewUser, error) {
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	switch {
	case !in.Role.Valid():
		f.Addf("role", "must be %q, %q or %q", auth.RoleAdmin, auth.RoleVDCAdmin, auth.RoleVDCMember)
	case in.Role == auth.RoleAdmin && in.VDCID != "":
		f.Add("vdcId", "must be empty for a platform administrator")
	case in.Role != auth.RoleAdmin && in.VDCID == "" && p.Admin():
		f.Add("vdcId", "is required for a vdc user")
	}
	generated := ""
	if in.Password == "" {
		pw, err := auth.GeneratePassword(AdminPasswordLength)
		if err != nil {
			return NewUser{}, err
		}
		in.Password, generated = pw, pw
	} else if r := auth.ValidatePassword(in.Password); r != "" {
		f.Add("password", r)
	}
	if err := f.Err("invalid user"); err != nil {
		return NewUser{}, err
	}
	if !p.Admin() {
		if in.Role == auth.RoleAdmin {
			return NewUser{}, forbidden("only platform administrators create administrators")
		}
		vdc, err := resolveVDC(p, in.VDCID, false)
		if err != nil {
			return NewUser{}, err
		}
		if err := manageVDC(p, vdc, "creating users"); err != nil {
			return NewUser{}, err
		}
		in.VDCID = vdc
	}
	hash, err := auth.HashPassword(in.Password, s.o.Argon2)
	if err != nil {
		return NewUser{}, err
	}
	req := in
	req.Password = "" // the request hash must not depend on a generated password
	var out NewUser
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "user.create", in.IdempotencyKey, req, &out, func() error {
			if in.VDCID != "" {
				if _, err := getVisible(ctx, tx, p, store.KindVDC, in.VDCID); err != nil {
					return err
				}
			}
			u := userRecord{User: auth.User{ID: ovm.NewID(), Name: in.Name, Role: in.Role, VDCID: in.VDCID, PasswordHash: hash}, CreatedAt: s.now()}
			rec := store.Record{Kind: store.KindUser, ID: u.ID, ParentID: in.VDCID, Name: in.Name}
			if err := setData(&rec, u); err != nil {
				return err
			}
			if err := tx.Insert(ctx, &rec); err != nil {
				return err
			}
			out = NewUser{User: u.view(), Password: generated}
			return nil
		})
	})
	return out, err
}

// GetUser returns a user the principal may see (itself, or its VDC's users
// for a VDC user, anyone for an administrator) and its version.
func (s *Service) GetUser(ctx context.Context, p auth.Principal, id ovm.ID) (User, int64, error) {
	var out User
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, u, err := s.visibleUser(ctx, tx, p, id)
		out, ver = u.view(), r.Version
		return err
	})
	return out, ver, err
}

func (s *Service) visibleUser(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (store.Record, userRecord, error) {
	if id != p.UserID {
		r, err := getVisible(ctx, tx, p, store.KindUser, id)
		if err != nil {
			return r, userRecord{}, err
		}
	}
	u, r, err := getAs[userRecord](ctx, tx, store.KindUser, id)
	return r, u, err
}

// ListUsers lists users: every one for an administrator (or one VDC's),
// the VDC's users for a VDC user.
func (s *Service) ListUsers(ctx context.Context, p auth.Principal, o ListOptions) (Page[User], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[User]{}, err
	}
	f := store.Filter{Kind: store.KindUser, ParentID: vdc}
	var out Page[User]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		out, err = listPage(ctx, tx, f, o, func(r store.Record) (User, error) {
			u, err := decode[userRecord](r)
			return u.view(), err
		})
		return err
	})
	return out, err
}

// UpdateUser is a change of a user; nil fields are unchanged.
type UpdateUser = apitypes.UserPatch

// UpdateUser changes a user's role, password or disabled flag. Users change
// their own password; roles and the flag are for administrators (any user)
// and VDC administrators (their VDC's users, never to admin). A new
// password revokes the user's other sessions and tokens (all of them when
// somebody else resets it); this replica refuses them at once, others
// within Options.AuthCacheTTL.
func (s *Service) UpdateUser(ctx context.Context, p auth.Principal, id ovm.ID, in UpdateUser, ifVersion int64) (User, int64, error) {
	var f ovm.Fields
	if in.Role != nil && !in.Role.Valid() {
		f.Add("role", "must be admin, vdc-admin or vdc-member")
	}
	var hash string
	if in.Password != nil {
		if r := auth.ValidatePassword(*in.Password); r != "" {
			f.Add("password", r)
		} else {
			h, err := auth.HashPassword(*in.Password, s.o.Argon2)
			if err != nil {
				return User{}, 0, err
			}
			hash = h
		}
	}
	if err := f.Err("invalid user"); err != nil {
		return User{}, 0, err
	}
	var out User
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, u, err := s.visibleUser(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		if in.Role != nil || in.Disabled != nil || (in.Password != nil && id != p.UserID) {
			if !p.Admin() {
				if err := manageVDC(p, u.VDCID, "changing users"); err != nil {
					return err
				}
				if (in.Role != nil && *in.Role == auth.RoleAdmin) || u.Role == auth.RoleAdmin {
					return forbidden("only platform administrators manage administrators")
				}
			}
		}
		if in.Role != nil {
			if (*in.Role == auth.RoleAdmin) != (u.VDCID == "") {
				return invalid("invalid user", "role", "an administrator has no vdc and a vdc user has one")
			}
			u.Role = *in.Role
		}
		if in.Disabled != nil {
			u.Disabled = *in.Disabled
		}
		if hash != "" {
			u.PasswordHash = hash
			// A new password ends every other session and token of the
			// user: whoever knew the old one is out. A user changing its
			// own password keeps the session it changes it with.
			if err := revokeTokens(ctx, tx, id, p.TokenID); err != nil {
				return err
			}
		}
		if err := save(ctx, tx, &r, u); err != nil {
			return err
		}
		out, ver = u.view(), r.Version
		return nil
	})
	if err == nil {
		s.forget("")
	}
	return out, ver, err
}

// DeleteUser removes a user and its tokens. Nobody deletes itself.
func (s *Service) DeleteUser(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, u, err := s.visibleUser(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if id == p.UserID {
			return conflictf("a user cannot delete itself")
		}
		if !p.Admin() {
			if err := manageVDC(p, u.VDCID, "deleting users"); err != nil {
				return err
			}
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		if err := revokeTokens(ctx, tx, id, ""); err != nil {
			return err
		}
		return tx.Delete(ctx, store.KindUser, id, r.Version)
	})
	if err == nil {
		s.forget("")
	}
	return err
}

// revokeTokens deletes every token (sessions and personal tokens) of a
// user but keep (which may be empty or another user's).
func revokeTokens(ctx context.Context, tx store.Tx, userID, keep ovm.ID) error {
	ts, err := tx.ListTokens(ctx, userID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == keep {
			continue
		}
		if err := tx.DeleteToken(ctx, t.ID); err != nil {
			return err
		}
	}
	return nil
}

// Me returns the principal's own user.
func (s *Service) Me(ctx context.Context, p auth.Principal) (User, error) {
	u, _, err := s.GetUser(ctx, p, p.UserID)
	return u, err
}
