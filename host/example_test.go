package host_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// server is the XMPP server as the plugin sees it (plugin.HostAPI): which accounts
// exist, and registration for the plugin's web page.
type server struct{ admins []string }

func (server) AccountExists(context.Context, string) (bool, error) { return false, nil }

func (server) Register(context.Context, plugin.Registration) (string, error) {
	return "", errors.ErrUnsupported
}

// role is what the server holds the JID bound to a stream for.
func (s server) role(_ context.Context, bound jid.JID) (adhoc.Role, error) {
	for _, a := range s.admins {
		if bound.Bare().String() == a {
			return adhoc.RoleAdmin, nil
		}
	}
	return adhoc.RoleUser, nil
}

// Example loads the plugin into a server: its HTTP routes beside the server's own, its
// ad-hoc commands on each client stream, and registration with an invite.
func Example() {
	ctx := context.Background()
	pluginPath := os.Getenv("INVITES_PLUGIN") // such as /usr/lib/invites/invites-plugin
	dataDir, err := os.MkdirTemp("", "invites-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	srv := server{admins: []string{"admin@example.com"}}

	p, err := host.Load(ctx, host.Config{
		PluginPath: pluginPath,
		Plugin: plugin.Config{
			Domains:     []string{"example.com"},
			HTTPBaseURL: "https://example.com",
			DataDir:     dataDir,
		},
		API: srv,
		// Logger: the server's *slog.Logger; the plugin's log arrives there too.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// HTTP: the plugin's routes (the invite API at /invites_api) beside the server's.
	routes := http.NewServeMux()
	routes.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "the server's own page") })
	p.Mount(routes)
	web := httptest.NewServer(routes) // the server's HTTP listener
	defer web.Close()

	// XMPP: on each client stream, once a resource is bound, the ad-hoc commands with
	// the requester's role, next to service discovery.
	bound := jid.MustParse("admin@example.com/desk")
	commands := adhoc.NewHandler(p, "example.com", bound, adhoc.HandlerOptions{Role: srv.role})
	streamMux := mux.New(stanza.NSClient, disco.Handle(), commands.Option())
	_ = streamMux             // session.Serve(streamMux)
	defer commands.Close(ctx) // when the stream ends: ends the command sessions it left open

	// An API key, made with the plugin's command line against the running store.
	out, err := exec.CommandContext(ctx, pluginPath, "-data", dataDir, "keys", "create", "example.com", "portal").Output()
	if err != nil {
		log.Fatal(err)
	}
	key := strings.TrimSpace(string(out))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, web.URL+plugin.PathAPI, nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := web.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("POST /invites_api:", resp.Status)
	_, token, _ := strings.Cut(resp.Header.Get("Location"), "preauth=")

	cmds, err := p.Commands(ctx, "example.com", bound.String(), adhoc.RoleAdmin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("commands for an administrator:", len(cmds))

	// Registration (XEP-0445): check the token, then use it for the new account.
	inv, err := p.CheckInvite(ctx, "example.com", token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("invite:", inv.Kind, "can register:", inv.CanRegister)
	if _, err := p.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: token, Username: "juliet"}); err != nil {
		log.Fatal(err)
	}
	_, err = p.CheckInvite(ctx, "example.com", token)
	fmt.Println("used again:", err)
	// Output:
	// POST /invites_api: 201 Created
	// commands for an administrator: 12
	// invite: account can register: true
	// used again: invite not found
}
