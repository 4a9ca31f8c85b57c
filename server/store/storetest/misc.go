package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var ipTests = []suiteTest{
	{"IPAllocations", testIPAllocations},
	{"IPAllocationRace", testIPAllocationRace},
}

var tokenTests = []suiteTest{
	{"Tokens", testTokens},
	{"Idempotency", testIdempotency},
	{"Now", testNow},
}

// allocations reads a network's allocations.
func allocations(t *testing.T, s store.Store, network ovm.ID) []store.IPAllocation {
	t.Helper()
	var out []store.IPAllocation
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.Allocations(ctx, network)
		return err
	})
	return out
}

func testIPAllocations(t *testing.T, s store.Store) {
	netA, netB := ovm.NewID(), ovm.NewID()
	vm1, vm2 := ovm.NewID(), ovm.NewID()
	ip := netip.MustParseAddr
	alloc := func(n ovm.ID, addr string, owner ovm.ID) store.IPAllocation {
		return store.IPAllocation{NetworkID: n, IP: ip(addr), Owner: owner}
	}
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []store.IPAllocation{
			alloc(netA, "10.0.0.10", vm1), alloc(netA, "10.0.0.2", vm1), alloc(netA, "10.0.0.3", vm2),
			alloc(netA, "fd00::1", vm2), alloc(netB, "10.0.0.2", vm2), // the same address on another network
		} {
			if err := tx.Allocate(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	// Address order, not text order: .2 < .3 < .10, IPv4 before IPv6.
	assert.Equal(t, []store.IPAllocation{
		alloc(netA, "10.0.0.2", vm1), alloc(netA, "10.0.0.3", vm2), alloc(netA, "10.0.0.10", vm1), alloc(netA, "fd00::1", vm2),
	}, allocations(t, s, netA))

	t.Run("taken by another owner", func(t *testing.T) {
		err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Allocate(ctx, alloc(netA, "10.0.0.2", vm2)) })
		requireKind(t, err, ovm.KindConflict)
		assertFieldsNamed(t, err, "ip")
		assert.Contains(t, ovm.FieldsOf(err)[0].Reason, string(vm1), "the conflict names the holder")
	})
	t.Run("again by its owner", func(t *testing.T) {
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Allocate(ctx, alloc(netA, "10.0.0.2", vm1)) })
		assert.Len(t, allocations(t, s, netA), 4, "a repeated allocation adds nothing")
	})
	t.Run("invalid", func(t *testing.T) {
		err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
			return tx.Allocate(ctx, store.IPAllocation{NetworkID: "lan", Owner: ""})
		})
		requireKind(t, err, ovm.KindInvalid)
		assertFieldsNamed(t, err, "networkId", "ip", "owner")
	})
	t.Run("release one", func(t *testing.T) {
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIP(ctx, netA, ip("10.0.0.10")) })
		err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIP(ctx, netA, ip("10.0.0.10")) })
		requireKind(t, err, ovm.KindNotFound)
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Allocate(ctx, alloc(netA, "10.0.0.10", vm2)) })
	})
	t.Run("release an owner", func(t *testing.T) {
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseOwner(ctx, vm2) })
		assert.Equal(t, []store.IPAllocation{alloc(netA, "10.0.0.2", vm1)}, allocations(t, s, netA))
		assert.Empty(t, allocations(t, s, netB), "the owner's addresses on every network are freed")
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseOwner(ctx, vm2) })
	})
}

// testIPAllocationRace: owners racing for one address; exactly one gets
// it, in every round.
func testIPAllocationRace(t *testing.T, s store.Store) {
	const rounds, owners = 5, 8
	network := ovm.NewID()
	for round := range rounds {
		addr := netip.AddrFrom4([4]byte{10, 1, 0, byte(round + 1)})
		errs := parallel(owners, owners, func(int) error {
			return s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				return tx.Allocate(ctx, store.IPAllocation{NetworkID: network, IP: addr, Owner: ovm.NewID()})
			})
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, ovm.ErrConflict)
		}
		assert.Equal(t, 1, won, "owners that got %s", addr)
	}
	assert.Len(t, allocations(t, s, network), rounds, "one allocation per address")
}

func testTokens(t *testing.T, s store.Store) {
	user, other := ovm.NewID(), ovm.NewID()
	hash := func(secret string) []byte {
		h := sha256.Sum256([]byte(secret))
		return h[:]
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	personal := store.Token{ID: ovm.NewID(), UserID: user, Name: "ci", Hash: hash("s1"), CreatedAt: base}
	session := store.Token{ID: ovm.NewID(), UserID: user, Name: "login", Hash: hash("s2"), Session: true,
		ExpiresAt: base.Add(time.Hour), CreatedAt: base.Add(time.Minute)}
	foreign := store.Token{ID: ovm.NewID(), UserID: other, Name: "x", Hash: hash("s3")}
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, tk := range []store.Token{session, personal, foreign} {
			if err := tx.CreateToken(ctx, tk); err != nil {
				return err
			}
		}
		return nil
	})
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.TokenByHash(ctx, hash("s2"))
		require.NoError(t, err)
		assert.Equal(t, session, got)

		_, err = tx.TokenByHash(ctx, hash("nope"))
		requireKind(t, err, ovm.KindNotFound)

		list, err := tx.ListTokens(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, []store.Token{personal, session}, list, "the user's tokens, oldest first")

		// Pages: in ID order, one token each, the cursor after the first
		// and none after the last; another user's tokens never appear.
		byID := []store.Token{personal, session}
		if byID[1].ID < byID[0].ID {
			byID[0], byID[1] = byID[1], byID[0]
		}
		first, next, err := tx.PageTokens(ctx, user, store.Page{Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, byID[:1], first, "first page of one token")
		assert.Equal(t, byID[0].ID, next, "cursor after the first page")
		second, next, err := tx.PageTokens(ctx, user, store.Page{After: next, Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, byID[1:], second, "second page of one token")
		assert.Empty(t, next, "no cursor after the last page")
		whole, next, err := tx.PageTokens(ctx, user, store.Page{})
		require.NoError(t, err)
		assert.Equal(t, byID, whole, "the default page holds both tokens, in ID order")
		assert.Empty(t, next, "no cursor after the only page")
		_, _, err = tx.PageTokens(ctx, user, store.Page{Limit: -1})
		requireKind(t, err, ovm.KindInvalid)

		f, err := tx.TokenByHash(ctx, hash("s3"))
		require.NoError(t, err)
		assert.False(t, f.CreatedAt.IsZero(), "a zero CreatedAt becomes the database's time")
		return nil
	})

	dup := store.Token{ID: ovm.NewID(), UserID: user, Name: "dup", Hash: hash("s1")}
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, dup) })
	requireKind(t, err, ovm.KindConflict)
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, store.Token{}) })
	requireKind(t, err, ovm.KindInvalid)
	assertFieldsNamed(t, err, "id", "userId", "hash")

	used := base.Add(2 * time.Hour)
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		require.NoError(t, tx.TouchToken(ctx, personal.ID, used))
		got, err := tx.TokenByHash(ctx, personal.Hash)
		require.NoError(t, err)
		assert.True(t, got.LastUsed.Equal(used), "lastUsed: got %s, want %s", got.LastUsed, used)
		require.NoError(t, tx.DeleteToken(ctx, personal.ID))
		_, err = tx.TokenByHash(ctx, personal.Hash)
		requireKind(t, err, ovm.KindNotFound)
		requireKind(t, tx.DeleteToken(ctx, personal.ID), ovm.KindNotFound)
		requireKind(t, tx.TouchToken(ctx, personal.ID, used), ovm.KindNotFound)
		return nil
	})
}

func testIdempotency(t *testing.T, s store.Store) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	i := store.Idempotency{Scope: "user-1 POST /instances", Key: "k-1", RequestHash: []byte{1, 2, 3},
		Status: 202, Response: json.RawMessage(`{"id": "x"}`), CreatedAt: at}
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, i) })
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetIdempotency(ctx, i.Scope, i.Key)
		require.NoError(t, err)
		assert.JSONEq(t, string(i.Response), string(got.Response))
		assert.True(t, bytes.Equal(i.RequestHash, got.RequestHash), "request hash: got %x, want %x", got.RequestHash, i.RequestHash)
		assert.Equal(t, i.Status, got.Status)
		assert.True(t, got.CreatedAt.Equal(at), "createdAt: got %s, want %s", got.CreatedAt, at)

		_, err = tx.GetIdempotency(ctx, "user-2 POST /instances", i.Key)
		requireKind(t, err, ovm.KindNotFound)
		return nil
	})
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, i) })
	requireKind(t, err, ovm.KindConflict)
	other := i
	other.Scope = "user-2 POST /instances"
	other.CreatedAt = time.Time{}
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, other) })
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, store.Idempotency{}) })
	requireKind(t, err, ovm.KindInvalid)
	assertFieldsNamed(t, err, "scope", "key")
}

func testNow(t *testing.T, s store.Store) {
	first := now(t, s)
	// The database runs on this machine: its clock is ours, give or take
	// the precision of its timestamps.
	assert.WithinDuration(t, time.Now(), first, 5*time.Second, "database clock")
	time.Sleep(5 * time.Millisecond)
	second := now(t, s)
	assert.True(t, second.After(first), "a later transaction reads a later time: %s then %s", first, second)
}
