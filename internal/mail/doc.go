// Package mail sends invites by email: a multipart text and HTML message (RFC 2046) in
// the page's languages, carrying the invite's link and a "this is not for me" link,
// submitted to the operator's relay (RFC 6409) with STARTTLS (RFC 3207) or implicit
// TLS (RFC 8314) and SMTP AUTH, by github.com/wneessen/go-mail.
//
// Its Sink is one of the sinks of the outbox worker (package outbox): an invite created
// with an address, or sent again, writes a core.EventInviteEmail in the transaction of
// that change, and the sink sends its mail from the durable outbox, retrying a relay
// that is down or answers 4xx, for up to a day.
//
// # The token
//
// An invite's token is never stored in clear, so the mail cannot carry the token made
// with the invite: the sink gives the invite a fresh token (core.Service.PrepareMail),
// sends the mail, and records the token's hash with the mail's status (sent) in the
// transaction that records the delivery (an outbox.Effect). The link in the mail is
// then the only copy of the token; any token shown before dies. A mail superseded by a
// newer one (the invite sent again) or for an invite that ended is not sent.
//
// # Status
//
// The invite's Mail says where its mail is: queued (with the relay's last answer when
// a try failed), sent, or failed, with the relay's reply for a 5xx refusal (not retried)
// or a mail not delivered within a day. Replies are kept without the recipient's
// address, which is kept only while the invite is pending.
package mail
