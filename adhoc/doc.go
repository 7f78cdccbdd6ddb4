// Package adhoc is the responder side of ad-hoc commands (XEP-0050) with data forms
// (XEP-0004), as used by the invite commands of XEP-0401.
//
// mellium.im/xmpp ships only the requester side of XEP-0050, and its form package
// cannot write result forms or read result tables.
// This package fills the gap in three parts that meet at the typed contract of
// types.go and form.go (Request, Response, Form, Error, Executor), which is also what
// crosses the host–plugin boundary:
//
//   - The wire: DecodeRequest, DecodeResponse and DecodeForm read <command/> and
//     <x xmlns='jabber:x:data'/> elements strictly, within Limits;
//     Request.TokenReader, Response.TokenReader and Form.TokenReader write them,
//     including result tables (<reported/> and <item/>s).
//   - The XMPP side: a Handler, made per stream with the requester's bound JID,
//     answers <iq type='set'><command/></iq> and service discovery by calling an
//     Executor, and turns its *Error values into stanza errors.
//   - The responder engine: a Server implements Executor from a set of Command
//     definitions, with sessions, stages and the checks XEP-0050 asks for.
//
// # Wiring a server
//
// A server builds one Handler per client stream, once resource binding is done, and
// adds it to the stream's multiplexer next to service discovery:
//
//	h := adhoc.NewHandler(exec, "example.com", boundJID, adhoc.HandlerOptions{})
//	m := mux.New(stanza.NSClient, disco.Handle(), h.Option())
//	err := session.Serve(m)
//
// The Handler advertises http://jabber.org/protocol/commands in the server's
// disco#info, lists in disco#items of that node only the commands the Executor says
// the requester may run, and answers disco#info on each command node with the
// identity automation/command-node and the features commands and jabber:x:data.
//
// # Errors
//
// An Executor reports protocol failures as *Error, and the Handler answers them as
// XEP-0050 §4.4 says:
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
//
// A request failure never ends the stream: the Handler answers with an IQ error and
// goes on.
//
// # Sessions
//
// Server sessions have ids from crypto/rand, belong to the full JID that started
// them (any other JID using the id gets bad-sessionid), expire after an idle timeout
// (session-expired), are bounded per requester and in total (resource-constraint),
// and end when completed or canceled.
// Expired sessions are dropped lazily, so a Server starts no goroutine.
package adhoc
