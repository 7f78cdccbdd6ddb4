// Package notify carries the plugin's events to the XMPP host (contract version 3): its
// Sink, one of the sinks of the outbox worker (package outbox), asks a host with
// plugin.AccountAdmin to change account states, and sends messages from the server
// through a host with plugin.Messenger:
//
//	account.approved      the account is made active
//	account.rejected      the account is deleted (its name is free again)
//	account.disabled      the account is disabled, unless the host did it and told us
//	account.enabled       the account is active again, likewise
//	account.pending       the host's administrators are asked to approve it
//	account.created       the inviting account is told ("bob@example.org joined
//	                      example.org with your invitation"), per notify_inviter
//	invite.redeemed       likewise for a contact invite accepted by an existing account
//	account.first_login   the new account gets its welcome: its invite's, else its
//	                      host's, with who invited it and the groups it joined
//	invite.expiring       the creating account is reminded of its invite
//	invite.expired        the creating account is told its invite expired unused
//
// Messages are worded from the page's catalog (package page), in the language of the
// account when known. A capability the host lacks (Config.Features) is skipped: the
// sink does not want those events, and says so once at start.
package notify
