// Package adhoc implements the responder side of ad-hoc commands (XEP-0050) with data
// forms (XEP-0004), as the invite commands of XEP-0401 use them.
//
// It holds what crosses the host–plugin boundary (Request, Response, Form, Error, the
// Executor the plugin implements), their wire codec, and the Handler a server runs on
// each client stream. A server builds one Handler per stream once a resource is bound,
// adds it to the stream's multiplexer next to service discovery, and closes it when
// the stream ends, which ends the command sessions the stream left open:
//
//	h := adhoc.NewHandler(exec, "example.com", boundJID, adhoc.HandlerOptions{})
//	err := session.Serve(mux.New(stanza.NSClient, disco.Handle(), h.Option()))
//	h.Close(ctx)
package adhoc
