package adhoc

import (
	"context"
	"fmt"
)

// Action is what a requester asks of a command session (XEP-0050 §3.4).
type Action string

// The actions of XEP-0050.
const (
	ActionExecute  Action = "execute"
	ActionNext     Action = "next"
	ActionPrev     Action = "prev"
	ActionComplete Action = "complete"
	ActionCancel   Action = "cancel"
)

// Status is the state of a command session after a response.
type Status string

// The statuses of XEP-0050.
const (
	StatusExecuting Status = "executing"
	StatusCompleted Status = "completed"
	StatusCanceled  Status = "canceled"
)

// NoteType is the severity of a Note.
type NoteType string

// The note types of XEP-0050.
const (
	NoteInfo  NoteType = "info"
	NoteWarn  NoteType = "warn"
	NoteError NoteType = "error"
)

// Note is a human-readable message on a response.
type Note struct {
	Type NoteType
	Text string
}

// Command is a command a requester may run, as listed in disco#items.
type Command struct {
	// Node identifies the command, such as "urn:xmpp:invite#invite".
	Node string
	// Name is its human-readable name.
	Name string
}

// Role is what the host says a requester is, with each command request: the host
// decides it from the JID bound to the requester's stream (its accounts, its
// administrators), and the Executor decides from it, without asking the host back.
type Role string

// The roles, from least to most.
const (
	// RoleNone is a requester the host vouches nothing for.
	RoleNone Role = ""
	// RoleUser is an account of the host.
	RoleUser Role = "user"
	// RoleAdmin is an administrator of the host.
	RoleAdmin Role = "admin"
)

// rank orders the roles; an unknown role ranks below RoleNone, so it grants nothing.
func (r Role) rank() int {
	switch r {
	case RoleNone:
		return 0
	case RoleUser:
		return 1
	case RoleAdmin:
		return 2
	}
	return -1
}

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return r.rank() >= 0 }

// AtLeast reports whether r grants at least what least does (none < user < admin).
// An unknown role grants nothing, and nothing grants an unknown least.
func (r Role) AtLeast(least Role) bool {
	return r.Valid() && least.Valid() && r.rank() >= least.rank()
}

// Request is one <command/> a requester sent, decoded.
type Request struct {
	// Requester is the full JID bound to the requester's stream: the server's word,
	// never a 'from' the client wrote.
	Requester string
	// Role is what the host says the requester is; the host's Handler sets it, a
	// decoder never does.
	Role Role
	// Node is the command's node.
	Node string
	// SessionID is empty on the first request of a session.
	SessionID string
	// Action is what the requester asks; empty means execute.
	Action Action
	// Lang is the xml:lang of the request, if any.
	Lang string
	// Form is the submitted data form, if any.
	Form *Form
}

// Response is the answer to a Request.
type Response struct {
	// Node echoes the request's node.
	Node string
	// SessionID names the session; it is set on every response.
	SessionID string
	// Status is executing, completed or canceled.
	Status Status
	// Actions are what the requester may do next (only while executing).
	Actions []Action
	// DefaultAction is the action 'execute' means; empty means the first of Actions.
	DefaultAction Action
	// Notes are messages for the user.
	Notes []Note
	// Form is the data form to fill in (type form) or the result (type result).
	Form *Form
}

// Executor runs commands.
// The plugin implements it; the XMPP side (Handler) calls it.
type Executor interface {
	// Commands lists the commands requester, whom the host holds for role, may run on
	// host, for service discovery.
	Commands(ctx context.Context, host, requester string, role Role) ([]Command, error)
	// Execute handles one request of a command on host.
	// A protocol failure is returned as an *Error.
	Execute(ctx context.Context, host string, req Request) (Response, error)
}

// Condition is an XEP-0050 error, carried typed across the plugin boundary and
// turned into a stanza error by Handler.
type Condition string

// The error conditions of XEP-0050 §4.4 and the stanza errors commands use.
const (
	// CondMalformedAction: modify/bad-request + <malformed-action/>.
	CondMalformedAction Condition = "malformed-action"
	// CondBadAction: modify/bad-request + <bad-action/>.
	CondBadAction Condition = "bad-action"
	// CondBadLocale: modify/bad-request + <bad-locale/>.
	CondBadLocale Condition = "bad-locale"
	// CondBadPayload: modify/bad-request + <bad-payload/>.
	CondBadPayload Condition = "bad-payload"
	// CondBadSessionID: modify/bad-request + <bad-sessionid/>.
	CondBadSessionID Condition = "bad-sessionid"
	// CondSessionExpired: cancel/not-allowed + <session-expired/>.
	CondSessionExpired Condition = "session-expired"
	// CondForbidden: auth/forbidden.
	CondForbidden Condition = "forbidden"
	// CondItemNotFound: cancel/item-not-found (unknown node).
	CondItemNotFound Condition = "item-not-found"
	// CondNotAcceptable: modify/not-acceptable (invalid submitted data).
	CondNotAcceptable Condition = "not-acceptable"
	// CondResourceConstraint: wait/resource-constraint (a bound reached, such as a quota).
	CondResourceConstraint Condition = "resource-constraint"
	// CondServiceUnavailable: cancel/service-unavailable (the plugin is down).
	CondServiceUnavailable Condition = "service-unavailable"
	// CondInternalServerError: cancel/internal-server-error.
	CondInternalServerError Condition = "internal-server-error"
)

// Error is a command failure with an XEP-0050 condition: an Executor returns it, and
// the Handler answers it as an IQ error, as XEP-0050 §4.4 says, without ending the
// stream:
//
//	malformed-action, bad-action, bad-locale,
//	bad-payload, bad-sessionid        modify/bad-request + the commands child
//	session-expired                   cancel/not-allowed + <session-expired/>
//	forbidden                         auth/forbidden
//	item-not-found                    cancel/item-not-found
//	not-acceptable                    modify/not-acceptable
//	resource-constraint               wait/resource-constraint
//	service-unavailable               cancel/service-unavailable
//	anything else                     cancel/internal-server-error
type Error struct {
	Condition Condition
	// Text is an optional human-readable explanation. A not-acceptable refusal of a
	// form may give several reasons, one a line, each "var: reason" for the field var
	// it concerns: the form is shown again with each as a note naming the field by its
	// label.
	Text string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Text == "" {
		return "adhoc: " + string(e.Condition)
	}
	return fmt.Sprintf("adhoc: %s: %s", e.Condition, e.Text)
}
