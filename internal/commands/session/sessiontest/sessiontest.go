// Package sessiontest holds what the tests of session.Server and of adhoc.Handler
// share: a Server running a few small commands, a settable clock, and readers of
// the answers.
package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands/session"
)

// The tests' host and requesters: Alice administers Host, Bob is one of its users.
const (
	Host  = "example.com"
	Alice = "alice@example.com/phone"
	Bob   = "bob@example.com/laptop"
)

// Clock is a settable time source, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to a fixed time.
func NewClock() *Clock { return &Clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// StageForm returns a stage's form with one text field named name, titled
// "NAME after N" where N is the number of forms submitted before it; the field of
// "c" has the label "C field".
func StageForm(name string) func(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
	return func(_ context.Context, _ session.Call, prior []*adhoc.Form) (*adhoc.Form, error) {
		f := &adhoc.Form{Type: adhoc.FormForm, Title: fmt.Sprintf("%s after %d", name, len(prior)),
			Fields: []adhoc.Field{{Var: name, Type: adhoc.FieldTextSingle}}}
		if name == "c" {
			f.Fields[0].Label = "C field"
		}
		return f, nil
	}
}

// Submit returns a submitted form with the fields and values kv: var, value, var, ….
func Submit(kv ...string) *adhoc.Form {
	f := &adhoc.Form{Type: adhoc.FormSubmit}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Fields = append(f.Fields, adhoc.Field{Var: kv[i], Values: []string{kv[i+1]}})
	}
	return f
}

// Wizard returns a Server running three commands: "wizard", of three stages a, b
// and c (a submitted "bad" refused by the first stage's Check; Complete refusing
// c=retry, failing on c=boom, forbidding c=deny, else completing with a note listing
// every value submitted); "now", which completes at once with the note "done"; and
// "secret", of one stage, for administrators only.
func Wizard(opts session.Options) (*session.Server, error) {
	return session.NewServer([]session.Definition{
		{
			Node: "wizard",
			Name: "Wizard",
			Stages: []session.Stage{
				{Form: StageForm("a"), Check: func(_ context.Context, _ session.Call, f *adhoc.Form) error {
					if f.Value("a") == "bad" {
						return &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "a is bad"}
					}
					return nil
				}},
				{Form: StageForm("b")},
				{Form: StageForm("c")},
			},
			Complete: func(_ context.Context, c session.Call, forms []*adhoc.Form) (session.Result, error) {
				var vals []string
				for _, f := range forms {
					for _, fl := range f.Fields {
						vals = append(vals, fl.Var+"="+strings.Join(fl.Values, ","))
					}
				}
				switch got := strings.Join(vals, " "); {
				case strings.Contains(got, "c=retry"):
					return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "c: try c again"}
				case strings.Contains(got, "c=boom"):
					return session.Result{}, errors.New("store on fire")
				case strings.Contains(got, "c=deny"):
					return session.Result{}, &adhoc.Error{Condition: adhoc.CondForbidden}
				default:
					return session.Result{Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: got}}}, nil
				}
			},
		},
		{
			Node: "now",
			Name: "Now",
			Complete: func(context.Context, session.Call, []*adhoc.Form) (session.Result, error) {
				return session.Result{Notes: []adhoc.Note{{Text: "done"}}}, nil
			},
		},
		{
			Node:   "secret",
			Name:   "Secret",
			Role:   adhoc.RoleAdmin,
			Stages: []session.Stage{{Form: StageForm("s")}},
			Complete: func(context.Context, session.Call, []*adhoc.Form) (session.Result, error) {
				return session.Result{}, nil
			},
		},
	}, opts)
}

// Role is the role the tests' host gives a requester: Alice administers Host, other
// accounts of Host are users, anyone else nothing.
func Role(requester string) adhoc.Role {
	local, domain, ok := strings.Cut(requester, "@")
	if !ok || local == "" {
		return adhoc.RoleNone
	}
	domain, _, _ = strings.Cut(domain, "/")
	switch {
	case domain != Host:
		return adhoc.RoleNone
	case local == "alice":
		return adhoc.RoleAdmin
	}
	return adhoc.RoleUser
}

// Cond returns the condition of an *adhoc.Error, "" for no error, and "other: …"
// for any other error.
func Cond(err error) adhoc.Condition {
	var ae *adhoc.Error
	if errors.As(err, &ae) {
		return ae.Condition
	}
	if err != nil {
		return "other: " + adhoc.Condition(err.Error())
	}
	return ""
}
