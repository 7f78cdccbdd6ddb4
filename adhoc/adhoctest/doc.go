// Package adhoctest runs an adhoc.Handler on a real mellium.im/xmpp stream pair held in
// memory, so that ad-hoc commands (XEP-0050) can be tested the way a client drives
// them: resource binding, service discovery and <iq type='set'><command/></iq>.
//
// The server end is accepted with xmpp.ReceiveSession and binds the requester with
// xmpp.BindCustom, as a real server does; the Handler is built with the JID that
// binding produced.
// Both ends start in the Secure and Authn states: TLS and SASL are not what is tested.
package adhoctest
