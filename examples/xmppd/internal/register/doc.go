// Package register is in-band registration for the example server: XEP-0077
// (jabber:iq:register) before authentication, with invitations per XEP-0445
// (Pre-Authenticated In-Band Registration) and the legacy urn:xmpp:invite feature
// of XEP-0401 0.3.0.
//
// # Flow
//
// One [Flow] lives as long as one client stream before authentication:
//
//	<iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='T'/></iq>   Flow.PreAuth
//	<iq type='get'><query xmlns='jabber:iq:register'/></iq>            Flow.Query
//	<iq type='set'><query xmlns='jabber:iq:register'>…</query></iq>   Flow.Register
//
// A token is checked with the invites plugin at pre-auth time and remembered for
// the stream; it is used up (RedeemInvite) only when the account is created:
// the name is reserved in the account store first, then the invite redeemed, then
// the account activated; a failed redemption gives the name back. An invite that
// needs an administrator's approval (plugin.Invite.Approval) activates the account
// pending: it cannot log in until the plugin makes it active. Config.Created hears of
// each account activated with an invite (xmppd tells the plugin, which confirms the
// redemption it held).
//
// # Password policy
//
// Every new password (registration, with or without an invite, and reset) goes to
// the plugin's password policy (Invites.CheckPassword) before anything is reserved or
// redeemed, with the stream's language (Flow.SetLang): a refusal is modify/
// not-acceptable with the policy's words, those of the web registration page in that
// language; while the plugin cannot say, the registration waits
// (wait/service-unavailable): an unchecked password is never taken.
// Each call to the plugin carries the client's address (Flow.SetRemote,
// plugin.WithClientAddr), for its audit records.
//
// # In-app redemption
//
// Until a token is validated, the registration form carries an optional field
// "invitation" ([FieldInvitation]) that takes the invite's page URL, its xmpp: URI or
// its token (plugin.InviteToken): clients that show XEP-0077 data forms but take no
// invite links (Gajim, Psi, Dino) redeem invites this way. [Flow.Submit] checks it
// exactly as [Flow.PreAuth] does, then registers as [Flow.Register] does, with the
// invite's fixed username when the form names none.
//
// # Budgets
//
// Bad tokens end a stream after Config.MaxTokenFailures, and are budgeted per client
// address (Config.MaxTokenFailuresPerAddr, package gcra, bounded memory) across its
// streams: past the budget, checks are refused unchecked with wait/resource-constraint
// until one failure is forgiven. Refusals on a stream are logged with the client's
// address, held back when they repeat (package logthrottle).
//
// # Modes
//
// [InviteOnly] (the default) needs a validated token for a set; [Open] lets
// anyone register (a token, if given, is still honoured and used up); [Closed]
// offers no registration at all.
//
// [Service.Register] does the same outside any stream, for web registration.
//
// # Password reset
//
// A reset invite (kind "reset", made by an administrator for one account) is taken
// at pre-auth like an account invite, and the registration that follows sets a new
// password for its account instead of creating one, as Prosody's reset invites do:
// the password is derived and the account looked up first, then the invite redeemed
// with plugin.PurposeReset, then the credentials replaced in one transaction.
// Another username than the invite's is refused; nothing changes for a dead invite
// or an account that does not exist.
//
// # Rules beyond the XEPs
//
// Names are prepared with PRECIS (package username). The account store refuses a
// taken name, a reserved one (xmppd: the configured administrators' and
// reserved_names; only the operator creates those accounts) and a name that looks
// like either (Unicode TS #39 skeletons), before anything is spent: the refusal, a
// conflict, says which name it looks like.
// Once an account is registered with an invite, Config.Welcome receives what the
// redeemed invite says (xmppd subscribes the new account and the inviter to each
// other). Every refused pre-auth and registration is logged at info with its
// reason, never with the token or the password.
//
// Failures are stanza errors (mellium.im/xmpp/stanza.Error) ready to send.
package register
