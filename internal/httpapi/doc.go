// Package httpapi is the HTTP invite API: an [http.Handler] that creates account
// invites for the holders of API keys, a drop-in successor of Prosody's
// mod_invites_api.
//
// It speaks HTTP semantics as RFC 9110 defines them, writes error bodies as problem
// details (RFC 9457) for clients that accept JSON, and answers CORS preflights
// (Fetch standard) so that a web page on another origin can use it.
// It knows nothing of go-plugin or the process boundary: the plugin's service
// (internal/service) mounts it at plugin.PathAPI, and the benchmarks mount the same
// service in-process. Error bodies come from the one problem writer, internal/problem.
// openapi.yaml beside this file describes the endpoints in OpenAPI 3.1.
//
// # Requests
//
// GET and POST on the base path (Options.BasePath, /invites_api) create one account
// invite on the key's host.
// The key comes from one of
//
//	Authorization: Bearer ID/SECRET     (scheme name case-insensitive)
//	?key=ID/SECRET                      (query parameter)
//	key=ID/SECRET                       (POST, application/x-www-form-urlencoded body)
//
// Several sources may be used at once only if they carry the same key; different keys
// are a 400, since the request is ambiguous.
// An Authorization header with another scheme (such as Basic, meant for a proxy) is
// ignored.
// The parameters ttl (seconds, or a duration such as "48h" or "7d"), username,
// max_uses (0 for any number until it expires; default 1), note, group (repeatable)
// and redirect may be given in the query string or, for POST, in the form body; an
// empty value means none, unknown parameters are ignored, and one parameter (but
// group) with two different values is a 400.
// With Options.Accounts, a username that is already an account of the key's host is
// refused with 409.
//
// # Responses
//
//	201 Created      Location: the landing page, or the xmpp: URI (creation)
//	303 See Other    the same, when redirect is bare, empty, true, 1, yes or on
//	204 No Content   OPTIONS (CORS preflight), no credentials needed
//	400 Bad Request  a malformed parameter, query string or form body
//	403 Forbidden    a missing, malformed, unknown, wrong, expired or revoked key
//	404 Not Found    no such invite for this key, or no such endpoint
//	405              another method; Allow lists those of the resource
//	409 Conflict     the username is an account already; a change the invite refuses
//	413, 414, 415    body too large, URL too long, body not a form
//	429              the key's rate or the client address's failed-authentication
//	                 budget is spent; Retry-After says for how many seconds
//	431              request headers too large
//	500              the store failed; the body says nothing more
//	503              the store is away (PostgreSQL down); Retry-After says when to retry
//
// A JSON body (the invite, see below, with "token", "uri" and "landing_page") comes
// with 201 and 303 when the Accept header names application/json
// with a non-zero quality; wildcards such as */* do not count, so curl and browsers
// get the empty body mod_invites_api gave.
// Errors are application/problem+json when Accept names application/json or
// application/problem+json, short text otherwise. A refused request (400, 409) is
// refused for every reason at once: the problem's extension member "errors" lists
// them, [{"field": "ttl", "detail": "…"}, …], each naming the parameter it concerns,
// and "detail" (the text) joins them as "ttl: …; note: …". The core's errors become
// HTTP in one function; 503 with Retry-After answers while the store is away.
// Every response carries Cache-Control: no-store and the CORS headers.
//
// # The invite lifecycle
//
// JSON only, with the same credentials (the Authorization header or the key query
// parameter):
//
//	GET    BASE/invites?status=S&limit=N&cursor=C  200 {"invites": [...], "next_cursor"}
//	GET    BASE/invites/ID                         200 the invite, with "redemptions"
//	PATCH  BASE/invites/ID                         200 the invite after a JSON merge patch
//	                                               (RFC 7396) of expires_at, max_uses, note
//	DELETE BASE/invites/ID                         204, also when revoked before
//
// Lists are newest first, 50 a page unless limit says (at most 500), and carry no
// tokens and no redemptions; next_cursor, present when there are more, continues.
// PATCH takes application/merge-patch+json or application/json (else 415).
// A key sees and changes the invites it created; a key with Manage every invite of its
// host. Another key's invite, another host's, an unknown or malformed ID are all 404,
// so that the existence of an invite does not show. A change its state refuses (a
// revoked invite; max_uses below the uses) is 409; one out of bounds is 400. Any other
// path below the base is 404.
//
// An invite is {"id", "host", "created_at", "expires_at", "kind", "status",
// "created_by", "note", "username", "inviter", "max_uses", "uses", "groups",
// "redemptions": [{"jid", "at"}], "revoked_at"}, empty ones left out (groups is always
// there); the JSON body of a 201 is the same with "token", "uri" and "landing_page",
// and without redemptions.
//
// # Who invited whom
//
// For keys with Manage only (any other key gets 404), JSON (accounts.go): the
// accounts the plugin knows and the approval queue (BASE/accounts?state=pending), one
// account (BASE/accounts/JID), the tree below an account, an invite or a key, a page at
// a time in pre-order (BASE/accounts/JID/tree, BASE/invites/ID/tree, BASE/keys/ID/tree
// with depth, limit and cursor), the chain of inviters (…/invited-by), bulk actions
// with a dry run (POST …/actions, {"action", "subtree", "dry_run"}), and decisions on
// pending accounts (POST BASE/accounts/JID/approve, …/reject). Creation takes approval
// (a boolean like redirect): the accounts the invite makes wait for approval.
//
// # Failed authentications
//
// Each client address (an IPv4 address, or the /64 of an IPv6 one) may fail to
// authenticate a limited number of times (Options.FailedAuthRate); once its budget is
// spent, every request from it gets 429 until the budget refills, whatever key it
// shows.
// Requests without any key do not count.
// The address is the connection's (Request.RemoteAddr); X-Forwarded-For is read only
// when the connection comes from one of Options.TrustedProxies.
//
// # Logging
//
// Each request is logged at debug level with its URL, in which the value of any key
// parameter is replaced by REDACTED; the Authorization header and the body are never
// logged.
// So is each invite created (its ID, its key's ID, its host): at thousands a second an
// info line each would drown an operator's log, and the store records each invite's
// source anyway.
package httpapi
