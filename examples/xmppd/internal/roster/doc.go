// Package roster is the roster and presence subscription logic of the example server
// (RFC 6121 §2 and §3), for accounts that all live on this one server (there is no
// server-to-server link).
//
// # What is kept
//
// For each account (the owner) and each contact, an [Entry]: the roster item the
// owner sees (name, groups, subscription, ask) and the state the server needs
// besides: a subscription request from the contact still waiting for the owner's
// answer (kept until the owner comes online and answers, RFC 6121 §3.1.3), and a
// pre-approval (§3.4). Entries live in the account store ([Store]), so they survive
// restarts.
//
// # How it is used
//
// The c2s layer calls a [Service] method for each roster IQ (get, set, remove) and for
// each subscription presence (subscribe, subscribed, unsubscribe, unsubscribed) a
// client sends; the method changes both sides of the subscription in one transaction
// (both accounts are local) and returns [Effects]: the roster pushes to send, the
// subscription stanzas to deliver and whose presence now goes to whom.
// The c2s layer, which knows the online sessions, carries them out.
//
// # Invitations
//
// [Service.Mutual] subscribes two accounts to each other (subscription both on both
// sides), as XEP-0401 §5.5 asks when an invite that names an inviter is redeemed.
// [Service.JoinGroup] puts an account in a group (a Snikket "circle") and subscribes it
// and every member to each other: what an invite that names groups asks.
package roster
