package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"encoding/xml"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/adhoc/adhoctest"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/testbin"
)

// Command nodes, as internal/commands names them (that package is the plugin's, not
// the host's: the tests speak to it only over the wire).
const (
	nodeListKeys      = "urn:xmpp-invites:keys#list"
	nodeDeleteKeys    = "urn:xmpp-invites:keys#delete"
	nodeCreateAccount = "urn:xmpp:invite#create-account"
	nodeInvite        = "urn:xmpp:invite#invite"
	nodeListInvites   = "urn:xmpp-invites:invites#list"
	nodeChangeInvite  = "urn:xmpp-invites:invites#change"
	nodeRevokeInvites = "urn:xmpp-invites:invites#revoke"
	nodeResetInvite   = "urn:xmpp-invites:invites#reset"
	formTypeInvite    = "urn:xmpp:invite#invitation"
)

// bins is the one build of xmppd and invites-plugin that every test of this binary
// shares.
var bins = testbin.New("xmppd-e2e-", testbin.XMPPD, testbin.Plugin)

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// binaries builds xmppd and invites-plugin on first use and returns their directory,
// which TestMain removes after the last test.
func binaries(t *testing.T) string { return bins.Dir(t) }

// addUser creates an account with "xmppd adduser" before the server starts.
func addUser(t *testing.T, bin, data, addr, password string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "xmppd"), "-data", data, "adduser", addr, "-")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Added "+addr) {
		t.Fatalf("adduser %s: %v %s", addr, err, out)
	}
}

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pluginCLI runs invites-plugin's command line, as an operator does, with env added to
// the test's environment; it returns standard output.
type pluginCLI struct {
	bin  string
	env  []string
	args []string // global flags: -data, -config, -store
}

func (c pluginCLI) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "invites-plugin"), append(slices.Clone(c.args), args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("invites-plugin %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// createKey runs "keys create HOST NAME [options]" and returns the key.
func (c pluginCLI) createKey(ctx context.Context, name string, opts ...string) (string, error) {
	out, err := c.run(ctx, append([]string{"keys", "create", "localhost", name}, opts...)...)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(out)
	if !strings.Contains(key, "/") || strings.ContainsAny(key, " \n") {
		return "", fmt.Errorf("keys create: unexpected output %q", out)
	}
	return key, nil
}

// cliKey is one line of "keys list": the columns that change only when the key is
// created or deleted, so that two listings compare equal while bookkeeping runs.
type cliKey struct{ id, name, created, expires string }

// keys runs "keys list localhost" and returns the keys by ID.
func (c pluginCLI) keys(ctx context.Context) (map[string]cliKey, error) {
	out, err := c.run(ctx, "keys", "list", "localhost")
	if err != nil {
		return nil, err
	}
	m := map[string]cliKey{}
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) < 6 { // ID, name, created, expires, last used, uses, then further columns
			return nil, fmt.Errorf("keys list: unexpected line %q", line)
		}
		m[f[0]] = cliKey{f[0], f[1], f[2], f[3]}
	}
	return m, nil
}

// keyID is the ID part of a key "ID/SECRET".
func keyID(key string) string {
	id, _, _ := strings.Cut(key, "/")
	return id
}

// commander runs ad-hoc commands (XEP-0050) over a real client stream.
// It sends raw <iq type='set'><command/></iq> rather than using mellium's
// commands.Command.Execute, which in v0.23.0 never returns on an IQ error.
type commander struct {
	sess *xmpp.Session
}

// host is the domain both test servers serve.
var host = jid.MustParse("localhost")

// run sends one request and returns the response, or an *adhoctest.IQError.
func (c commander) run(ctx context.Context, req adhoc.Request) (adhoc.Response, error) {
	return adhoctest.Send(ctx, c.sess, host, req.TokenReader())
}

// execute starts a command.
func (c commander) execute(ctx context.Context, node string) (adhoc.Response, error) {
	return c.run(ctx, adhoc.Request{Node: node, Action: adhoc.ActionExecute})
}

// complete submits fields (var → values) in the session of resp.
func (c commander) complete(ctx context.Context, resp adhoc.Response, fields map[string][]string) (adhoc.Response, error) {
	return c.run(ctx, adhoc.Request{Node: resp.Node, SessionID: resp.SessionID, Action: adhoc.ActionComplete, Form: submit(fields)})
}

// submit builds a submitted form; field order does not matter to the commands.
func submit(fields map[string][]string) *adhoc.Form {
	f := &adhoc.Form{Type: adhoc.FormSubmit}
	for _, v := range slices.Sorted(maps.Keys(fields)) {
		f.Fields = append(f.Fields, adhoc.Field{Var: v, Values: fields[v]})
	}
	return f
}

// createKey runs keys#create through both stages and returns the completed response.
func (c commander) createKey(ctx context.Context, fields map[string][]string) (adhoc.Response, error) {
	first, err := c.execute(ctx, nodeCreateKey)
	if err != nil {
		return first, fmt.Errorf("execute: %w", err)
	}
	if first.Status != adhoc.StatusExecuting || first.SessionID == "" {
		return first, fmt.Errorf("execute: %+v", first)
	}
	done, err := c.complete(ctx, first, fields)
	if err != nil {
		return done, fmt.Errorf("complete: %w", err)
	}
	if done.Status != adhoc.StatusCompleted || done.Form == nil || !strings.Contains(done.Form.Value("key"), "/") {
		return done, fmt.Errorf("complete: %+v", done)
	}
	return done, nil
}

// listKeys runs "List invite API keys" through every page and returns the keys by
// ID, each a map of its columns.
func (c commander) listKeys(ctx context.Context) (map[string]map[string]string, error) {
	resp, err := c.execute(ctx, nodeListKeys)
	rows := map[string]map[string]string{}
	for range 1000 {
		if err != nil {
			return nil, err
		}
		if resp.Status == adhoc.StatusCompleted && resp.Form == nil {
			return rows, nil
		}
		if resp.Form == nil || len(resp.Form.Items) != 0 {
			return nil, fmt.Errorf("keys#list: %+v", resp)
		}
		ids, _ := resp.Form.Field("id")
		for i, id := range ids.Values {
			row := map[string]string{}
			for _, fl := range resp.Form.Fields {
				if fl.Var == "keys" || fl.Type == adhoc.FieldFixed {
					continue // for people: a few lines per key, and which keys the page shows
				}
				if len(fl.Values) != len(ids.Values) {
					return nil, fmt.Errorf("keys#list: column %s has %d values for %d keys", fl.Var, len(fl.Values), len(ids.Values))
				}
				row[fl.Var] = fl.Values[i]
			}
			rows[id] = row
		}
		if resp.Status == adhoc.StatusCompleted {
			return rows, nil
		}
		resp, err = c.run(ctx, adhoc.Request{Node: nodeListKeys, SessionID: resp.SessionID, Action: adhoc.ActionNext})
	}
	return nil, errors.New("keys#list: no last page")
}

// commandNodes lists the commands the server offers sess (disco#items of the commands
// node), with mellium's requester side, which handles that query well.
func commandNodes(ctx context.Context, sess *xmpp.Session) (map[string]string, error) {
	iter := commands.Fetch(ctx, host, sess)
	defer iter.Close()
	out := map[string]string{}
	for iter.Next() {
		c := iter.Command()
		out[c.Node] = c.Name
	}
	return out, iter.Err()
}

// isRefused reports whether a command answered a submission with its form again,
// saying why at the top of the form, in fixed fields (and only there: Gajim and Psi+
// would show a note as well twice), with text in the reason.
func isRefused(resp adhoc.Response, err error, text string) bool {
	return err == nil && resp.Status == adhoc.StatusExecuting && len(resp.Notes) == 0 &&
		strings.Contains(shown(resp.Form, "error-"), text)
}

// shown returns what a form says at its top, in the fixed fields that stand for the
// notes of a response whose var begins with prefix ("error-", "warning-", "note-"),
// their lines joined by spaces without the padding for Gajim.
func shown(f *adhoc.Form, prefix string) string {
	if f == nil {
		return ""
	}
	var lines []string
	for _, fl := range f.Fields {
		if fl.Type == adhoc.FieldFixed && strings.HasPrefix(fl.Var, prefix) {
			for _, v := range fl.Values {
				lines = append(lines, strings.TrimRight(v, " "))
			}
		}
	}
	return strings.Join(lines, " ")
}

func iqErrorIs(err error, want adhoctest.IQError) bool {
	var got *adhoctest.IQError
	if !errors.As(err, &got) {
		return false
	}
	return got.Type == want.Type && got.Condition == want.Condition && got.Command == want.Command &&
		strings.Contains(got.Text, want.Text)
}

// preauthToken returns the preauth parameter of an xmpp: invite URI (RFC 5122 query,
// parameters separated by ';').
func preauthToken(uri string) string {
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return ""
	}
	for p := range strings.SplitSeq(query, ";") {
		if v, ok := strings.CutPrefix(p, "preauth="); ok {
			return v
		}
	}
	return ""
}

// registerWithToken registers user on the server at addr the XEP-0445 way: a new
// stream, the pre-auth IQ with token, then the XEP-0077 set.
// It returns the answer to the set, or an error when the pre-auth IQ fails.
func registerWithToken(ctx context.Context, addr, token, user, pass string) (testclient.Element, error) {
	c, err := testclient.Dial(ctx, addr, "localhost", testclient.Options{})
	if err != nil {
		return testclient.Element{}, err
	}
	defer c.Close()
	if el, err := c.IQ(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='` + token + `'/></iq>`); err != nil || el.Attr("type") != "result" {
		return el, fmt.Errorf("pre-auth: %v %v", el, err)
	}
	return c.IQ(registerIQ(user, pass))
}

// pw returns a password the plugin's default password policy takes for the account
// user: long enough, not a common one, and not holding the name (rot13 of it).
func pw(user string) string {
	return "pass of " + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, user)
}

// registerIQ is the XEP-0077 set with the legacy fields.
func registerIQ(user, pass string) string {
	return `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>` + user +
		`</username><password>` + pass + `</password></query></iq>`
}

// getInvite asks the HTTP API at base (host:port) for an invite with key and p,
// through httpapi's client over hc, and returns the status the API answered (201, or
// the refusal's; 0 when there was none), the invite, and the error: an *httpapi.Error
// for a refusal.
func getInvite(ctx context.Context, hc *http.Client, base, key string, p httpapi.CreateParams) (int, httpapi.Invite, error) {
	c, err := httpapi.NewClient("http://"+base+"/invites_api", key, hc)
	if err != nil {
		return 0, httpapi.Invite{}, err
	}
	inv, err := c.Create(ctx, p)
	if e, ok := errors.AsType[*httpapi.Error](err); ok {
		return e.Status, inv, err
	}
	if err != nil {
		return 0, inv, err
	}
	return http.StatusCreated, inv, nil
}

// eventually polls cond every 50ms until it holds or d has passed, for effects that
// are asynchronous by design (key bookkeeping is flushed once a second).
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startAdminServer builds the binaries and starts xmppd on a fresh data directory in
// which the administrator admin@localhost (password "admin secret") exists, with
// -data, -admin admin@localhost and args; env (KEY=VALUE) is added to the environment
// of xmppd and of the returned command line, which works on the same directory.
func startAdminServer(t *testing.T, env []string, args ...string) (*proc, pluginCLI) {
	t.Helper()
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	addUser(t, bin, data, "admin@localhost", "admin secret")
	srv := startServerEnv(t, bin, work, env, append([]string{"-data", data, "-admin", "admin@localhost"}, args...)...)
	return srv, pluginCLI{bin: bin, env: env, args: []string{"-data", data}}
}

// rawCommander runs ad-hoc commands over testclient's raw stream, on which the test
// chooses the resource bound and sees the bytes the server sends.
type rawCommander struct {
	c    *testclient.Client
	read *bytes.Buffer // everything the server sent
	jid  string        // the full JID bound
	n    int
}

// rawCommandLogin logs user in over a raw stream (PLAIN over TLS), binding resource.
func rawCommandLogin(ctx context.Context, addr, user, pass, resource string) (*rawCommander, error) {
	read := new(bytes.Buffer)
	c, err := testclient.Dial(ctx, addr, "localhost", testclient.Options{Record: read})
	if err != nil {
		return nil, err
	}
	bound, err := c.Plain(user, pass, resource)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &rawCommander{c: c, read: read, jid: bound}, nil
}

// run sends one request and returns the response, or an *adhoctest.IQError, and the
// size of the stanza that answered it, in bytes as sent.
func (r *rawCommander) run(req adhoc.Request) (adhoc.Response, int, error) {
	r.n++
	var b strings.Builder
	e := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(e, stanza.IQ{ID: fmt.Sprintf("raw%d", r.n), Type: stanza.SetIQ, To: host}.Wrap(req.TokenReader())); err != nil {
		return adhoc.Response{}, 0, err
	}
	if err := e.Flush(); err != nil {
		return adhoc.Response{}, 0, err
	}
	before := r.read.Len()
	el, err := r.c.IQ(b.String())
	if err != nil {
		return adhoc.Response{}, 0, err
	}
	size := r.read.Len() - before
	if el.Attr("type") == "error" {
		var v struct {
			Err struct {
				Type  string `xml:"type,attr"`
				Conds []struct {
					XMLName xml.Name
				} `xml:",any"`
			} `xml:"error"`
		}
		if err := xml.Unmarshal([]byte("<x>"+el.Inner+"</x>"), &v); err != nil {
			return adhoc.Response{}, size, err
		}
		ie := &adhoctest.IQError{Type: stanza.ErrorType(v.Err.Type)}
		for _, c := range v.Err.Conds {
			switch c.XMLName.Space {
			case stanza.NSError:
				if c.XMLName.Local != "text" {
					ie.Condition = stanza.Condition(c.XMLName.Local)
				}
			case adhoc.NS:
				ie.Command = c.XMLName.Local
			}
		}
		return adhoc.Response{}, size, ie
	}
	d := xml.NewDecoder(strings.NewReader(el.Inner))
	resp, err := adhoc.DecodeResponse(d, nil, adhoc.Limits{MaxBytes: 1 << 20, MaxTokens: 1 << 20})
	return resp, size, err
}

// close ends the stream.
func (r *rawCommander) close() { _ = r.c.Close() }
