package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestFailedAuthSharedAddress is issue 15's "21 bad keys from a shared address lock out
// a valid key from the same address": clients behind one address (a NAT, an office, an
// untrusted proxy) fail with unknown, malformed and other keys' wrong secrets, far past
// the budget, and a valid key from the same address keeps working; guessing stays
// bounded: N failures naming no existing key, N more for each existing key.
func TestFailedAuthSharedAddress(t *testing.T) {
	f := newFixture(t)
	const n = 20                                               // the documented default budget
	h := httpapi.New(f.svc, httpapi.Options{Now: f.clock.Now}) // the default budget, 20 a minute
	do := func(remote, cred string) (int, string) {
		t.Helper()
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/invites_api", nil)
		r.RemoteAddr = remote
		if cred != "" {
			r.Header.Set("Authorization", "Bearer "+cred)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code, rec.Header().Get("Retry-After")
	}
	const nat, other = "203.0.113.7:1000", "198.51.100.8:2000"
	unknown := func(i int) string {
		id := fmt.Sprintf("%0*d", core.KeyIDLen, i)
		return id + "/" + strings.Repeat("C", core.KeySecretLen)
	}
	landingID, _, _ := strings.Cut(f.creds["landing"], "/")
	goodID, _, _ := strings.Cut(f.creds["good"], "/")
	wrongFor := func(id string) string { return id + "/" + strings.Repeat("D", core.KeySecretLen) }

	// Unknown key IDs and malformed keys: the address's budget, then 429.
	checked := 0
	for i := range 3 * n {
		cred := unknown(i)
		if i%3 == 0 {
			cred = "not-a-key"
		}
		switch code, _ := do(nat, cred); code {
		case http.StatusForbidden:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("bad key %d: %d, want 403 or 429", i, code)
		}
	}
	if checked != n {
		t.Errorf("%d of %d unknown or malformed keys were checked, want the budget, %d", checked, 3*n, n)
	}
	if code, retry := do(nat, unknown(999)); code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("unknown key once the address is spent: %d (Retry-After %q), want 429 with Retry-After", code, retry)
	}
	// The valid key from the same address keeps working.
	if code, _ := do(nat, f.creds["good"]); code != http.StatusCreated {
		t.Fatalf("valid key from the address others failed from: %d, want 201", code)
	}

	// Wrong secrets for another existing key: its own budget from this address.
	checked = 0
	for i := range 3 * n {
		switch code, _ := do(nat, wrongFor(landingID)); code {
		case http.StatusForbidden:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("wrong secret %d: %d", i, code)
		}
	}
	if checked != n {
		t.Errorf("%d of %d wrong secrets for one key were checked, want its budget, %d", checked, 3*n, n)
	}
	if code, _ := do(nat, f.creds["landing"]); code != http.StatusTooManyRequests {
		t.Errorf("the key whose budget was spent from this address: %d, want 429", code)
	}
	if code, _ := do(other, f.creds["landing"]); code != http.StatusCreated {
		t.Errorf("the same key from another address: %d, want 201", code)
	}
	if code, _ := do(nat, f.creds["good"]); code != http.StatusCreated {
		t.Errorf("valid key after another key's budget was spent: %d, want 201", code)
	}

	// Guessing the valid key's own secret from the address spends its budget there
	// (the bound docs/operator.md states), and only there.
	for range n {
		if code, _ := do(nat, wrongFor(goodID)); code != http.StatusForbidden {
			t.Fatalf("wrong secret for the valid key within its budget: %d, want 403", code)
		}
	}
	if code, _ := do(nat, f.creds["good"]); code != http.StatusTooManyRequests {
		t.Errorf("valid key after its budget from this address was spent: %d, want 429", code)
	}
	if code, _ := do(other, f.creds["good"]); code != http.StatusCreated {
		t.Errorf("valid key from another address: %d, want 201", code)
	}
	if code, _ := do(nat, f.creds["short"]); code != http.StatusCreated {
		t.Errorf("a third key from the address: %d, want 201", code)
	}

	// Budgets refill.
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if code, _ := do(nat, f.creds["good"]); code != http.StatusCreated {
		t.Errorf("valid key a minute later: %d, want 201", code)
	}
	if code, _ := do(nat, unknown(1000)); code != http.StatusForbidden {
		t.Errorf("unknown key a minute later: %d, want 403", code)
	}
}
