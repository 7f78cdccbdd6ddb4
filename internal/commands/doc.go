// Package commands is the set of ad-hoc commands (XEP-0050) invites serves: API key
// management for administrators, and the invitation commands of XEP-0401, with
// XEP-0004 data forms.
//
// [New] returns a [Server] running them on the session engine of package session,
// over a [core.Service], the same service the command line and the HTTP API use, so
// every change is seen by the others at once; the Server lays the engine's responses
// out for the clients people use (layout.go).
// Who may run what is decided from the role the host gives each request
// (adhoc.Role, from the requester's bound JID): administrators (adhoc.RoleAdmin) and
// accounts of the host (adhoc.RoleUser); the plugin never asks the host back.
//
// # Nodes
//
// Key management uses a namespace of our own (XEP-0133's admin# nodes are not ours to
// extend); all three are for administrators of the host only, and hidden from others:
//
//	urn:xmpp-invites:keys#create   "Create invite API key"
//	    Form: name (text-single, required), expires (key lifetime, such as 30d;
//	    empty: never), max-ttl (longest lifetime of the key's invites), rate (N/PERIOD,
//	    such as 10/h), manage (boolean: the key sees and changes every invite of the
//	    host, not only its own). Completes with a result form holding the key
//	    ID/SECRET and a warning: the key is shown this once and cannot be shown
//	    again.
//	urn:xmpp-invites:keys#list     "List invite API keys"
//	    A list (see Lists), oldest first: keys (a line per key, "name (ID)", then
//	    "created …, expires …, last used …, N uses"), then the columns id, name,
//	    created, expires, last-used, uses, manage, max-ttl, rate (times in XEP-0082
//	    format, "never" when unset). No keys: a note.
//	urn:xmpp-invites:keys#delete   "Delete invite API keys"
//	    Form: keys (list-multi; label "name (ID)", or the ID for a key without a
//	    name; value = key ID). A submitted choice may be the value or the label
//	    (Gajim submits labels); labels are unique and never another key's ID.
//	    Completes with a note naming the deleted keys; they are rejected from the
//	    next request on. With no keys, completes at once with a note.
//
// The XEP-0401 commands:
//
//	urn:xmpp:invite#create-account "Create account invite"
//	    Administrators. Form: username (optional: the only name the invite can
//	    register; refused when that account exists), ttl (lifetime, such as 7d),
//	    max-uses (accounts it can make: 1 if empty, 0 for any number until it
//	    expires), note, groups (text-multi, one per line: groups the new accounts
//	    join). Completes with the invitation result form.
//	urn:xmpp:invite#invite         "Invite a contact"
//	    Any account of the host (adhoc.RoleUser). Completes at once with a contact
//	    invite. An administrator's may also register an account (;ibr=y); a user's
//	    may only when Options.AllowUserInvites is set (allow_user_invites, off by
//	    default, issue 15), else a note says it cannot make an account. A user's
//	    invites count against Options.UserQuota (per period, and pending at once):
//	    past it the command fails with resource-constraint, saying the bound.
//
// The invitation result form (type result) holds the hidden FORM_TYPE
// urn:xmpp:invite#invitation, uri (the xmpp: URI), landing-url (when the host has a
// landing page) and expire (XEP-0082 DateTime).
//
// The invite lifecycle, in the namespace of our own:
//
//	urn:xmpp-invites:invites#list   "List invites"
//	    Administrators see every invite of the host, a user the invites it made.
//	    Form: status (list-single: all, pending, used, expired, revoked; the label
//	    is accepted too). Then a list (see Lists), newest first: invites (a line
//	    per invite, "ID: kind", then its status, uses, expiry, creator, note,
//	    groups and the accounts that used it), then the columns id, kind, status,
//	    uses, max-uses, created, expires, created-by, username, note, groups,
//	    used-by. None: a note.
//	urn:xmpp-invites:invites#change "Change an invite"
//	    The same scope. Two stages: invite (list-single of the invites that are not
//	    revoked, pending first; a submitted label is understood), then expires (an
//	    XEP-0082 time or a duration from now), max-uses (labelled for the invite's
//	    kind: accounts it can make, contacts it can add, times it can be used; not
//	    offered for a reset invite, nor for a fixed username's single account) and
//	    note, filled in with the invite's values. Completes with a note saying
//	    what the invite is now; a change its state refuses (max-uses below its
//	    uses) is not-acceptable.
//	urn:xmpp-invites:invites#revoke "Revoke invites"
//	    The same scope. Form: invites (list-multi of pending invites, the newest
//	    100; label "note — kind, expires … (ID)", value the ID; a submitted label
//	    is understood). Completes with a note naming the revoked invites; a choice
//	    the requester may not see is "no such invite". None pending: a note at once.
//	urn:xmpp-invites:invites#reset  "Create password reset invite"
//	    Administrators. Form: username (required; refused when the host says there
//	    is no such account), ttl, note. Completes with the invitation result form
//	    (its URI names the account) and a warning: whoever holds it sets the
//	    account's password.
//
// Who invited whom (issue 24), administrators only:
//
//	urn:xmpp-invites:accounts#tree     "Show who invited whom"
//	    Form: root (an account, by name or JID; an invite ID; or key:ID for an API
//	    key), depth (levels to show, an invite and its accounts being two; empty:
//	    all). Then a list (see Lists) of the tree in pre-order, the root first: tree
//	    (two lines per node, its kind and name indented by its depth, then its
//	    status, uses and date), then the columns kind, id, parent, depth, status,
//	    created.
//	urn:xmpp-invites:accounts#approve  "Approve new accounts"
//	    Form: waiting (text-multi: each pending account, oldest first, with its
//	    inviter, since when it waits and the note it left), accounts (list-multi of
//	    their JIDs), decision (list-single: approve or reject; a label is understood).
//	    Completes with a note naming those approved or rejected. None waiting:
//	    completes at once with a note.
//	urn:xmpp-invites:accounts#actions  "Revoke invites or disable accounts of a tree"
//	    Two stages: root (as for the tree), action (revoke-invites,
//	    disable-accounts, enable-accounts; labels understood), subtree (boolean: the
//	    whole tree below, else its nearest invites or accounts); then the dry run for
//	    confirmation: changes (text-multi, a line each, the first 30 and a count of the
//	    rest) and confirm (boolean). Completes with a note saying how many changed, or
//	    "Nothing changed." unconfirmed. A server that cannot disable accounts refuses at
//	    the first stage: "this server cannot disable accounts".
//
// create-account also takes approval (boolean): the accounts the invite makes wait for
// an administrator's approval.
//
// # Lists
//
// A list is a single-item form, as Prosody answers its list commands (profanity and
// poezio show only the title of an XEP-0004 table, and Gajim fails on one): a fixed
// field "page" saying which entries it shows ("3 keys.", "Keys 51–100 of 341; Next
// shows more."), a text-multi field for people, a few lines of at most 50
// characters per entry (poezio shows nothing of a wider one), then a text-multi
// field per column for programs, one value per entry in the same order, "-" when
// empty (profanity drops empty values).
// A long list comes page by page (at most core.DefaultListLimit entries, and about
// 32 KiB, a page: well under a server's stanza limit, and under what adhoc's
// decoder takes of a client sending the page back): while more follow, the page is
// a form of an executing session whose default action, next, shows the next page
// (every client can page on), prev the page before and complete ends the command
// there; the last page completes it. Values are clipped in lists (notes and names
// at 100 characters, JIDs and usernames at 46) and the accounts that used an
// invite named up to 3 in its lines and 10 in its column, the rest counted ("and
// 997 more"): the HTTP API and the command line give every value whole.
//
// # Stages
//
// Every form's last stage offers next and complete, and next there completes, as
// Prosody does (see session.Definition): poezio submits every form with next.
//
// # What people see
//
// Each note of a response is shown once: where the response has a form, as fixed
// fields at its top (vars error-N, warning-N, note-N) and no <note/>, since poezio
// shows no notes beside a form and profanity none while a command executes, while
// Gajim and Psi+ show both; where it has none, as a <note/>. A refused value shows
// the form again with what was submitted and the reason at its top, naming the
// field by its label (see layout.go).
//
// # Errors
//
// A malformed submission changes nothing in the store: a field with several values
// where one is expected is bad-payload, an invalid value (a duration, a rate, a
// username, a key that does not exist) is not-acceptable with the reason, and the
// requester may correct the form and submit it again.
// A store failure completes the command with an error note.
package commands
