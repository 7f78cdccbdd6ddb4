package plugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/xmpp-invites/invites/adhoc"
)

// fakeInvites is the plugin's side in these tests: it answers from fixed tables and
// keeps the HostAPI it was given, so tests can call the host back through it.
type fakeInvites struct {
	mu      sync.Mutex
	cfg     Config
	api     HostAPI
	events  []Event
	discard bool // Notify keeps no events (benchmarks)

	health error
}

var _ Invites = (*fakeInvites)(nil)

func (f *fakeInvites) Configure(_ context.Context, cfg Config, api HostAPI) (Manifest, error) {
	if cfg.ConfigTOML == "fail" {
		return Manifest{}, errors.New("config: bad config")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.api = cfg, api
	return Manifest{Routes: []Route{{Path: PathAPI, MaxBodyBytes: 1 << 10}, {Path: "/echo", MaxBodyBytes: 4 << 20}}}, nil
}

func (f *fakeInvites) hostAPI() HostAPI {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.api
}

func (f *fakeInvites) ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	switch r.URL.Path {
	case "/echo":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil
		}
		h := w.Header()
		h.Set("X-Method", r.Method)
		h.Set("X-Query", r.URL.RawQuery)
		h.Set("X-Host", r.Host)
		h.Set("X-Remote", r.RemoteAddr)
		h.Set("X-TLS", strconv.FormatBool(r.TLS != nil))
		h.Set("X-Length", strconv.FormatInt(r.ContentLength, 10))
		h.Set("X-Proto", r.Proto)
		if dl, ok := ctx.Deadline(); ok {
			h.Set("X-Deadline", "yes")
			_ = dl
		}
		h["X-Multi"] = r.Header.Values("X-Multi")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write(bytes.Repeat([]byte("x"), n))
	case "/empty":
		// no write: 200 with an empty body
	case "/fail":
		return errors.New("handler failed")
	case "/panic":
		panic("boom")
	case "/wait":
		<-ctx.Done()
		return ctx.Err()
	default:
		http.NotFound(w, r)
	}
	return nil
}

func (f *fakeInvites) Commands(_ context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	if host != "example.com" {
		return nil, errors.New("unknown host")
	}
	cmds := []adhoc.Command{{Node: "urn:xmpp:invite#invite", Name: "Invite a contact " + requester}}
	if role == adhoc.RoleAdmin {
		cmds = append(cmds, adhoc.Command{Node: "urn:xmpp-invites:keys#list", Name: "List invite API keys"})
	}
	return cmds, nil
}

// conditions are every condition of adhoc, each answered by node "fail:CONDITION".
var conditions = []adhoc.Condition{
	adhoc.CondMalformedAction, adhoc.CondBadAction, adhoc.CondBadLocale, adhoc.CondBadPayload,
	adhoc.CondBadSessionID, adhoc.CondSessionExpired, adhoc.CondForbidden, adhoc.CondItemNotFound,
	adhoc.CondNotAcceptable, adhoc.CondResourceConstraint, adhoc.CondServiceUnavailable,
	adhoc.CondInternalServerError,
}

// richForm uses every form type and field type.
func richForm(t adhoc.FormType) *adhoc.Form {
	return &adhoc.Form{
		Type:         t,
		Title:        "Keys",
		Instructions: []string{"line one", "line two"},
		Fields: []adhoc.Field{
			{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{"urn:xmpp:invite#invitation"}},
			{Var: "b", Type: adhoc.FieldBoolean, Values: []string{"true"}},
			{Var: "f", Type: adhoc.FieldFixed, Values: []string{"fixed"}},
			{Var: "jm", Type: adhoc.FieldJIDMulti, Values: []string{"a@b", "c@d"}},
			{Var: "js", Type: adhoc.FieldJIDSingle, Values: []string{"a@b"}},
			{Var: "lm", Type: adhoc.FieldListMulti, Label: "Keys", Desc: "pick", Required: true,
				Values: []string{"1", "2"}, Options: []adhoc.Option{{Label: "one", Value: "1"}, {Label: "two", Value: "2"}}},
			{Var: "ls", Type: adhoc.FieldListSingle, Options: []adhoc.Option{{Value: "x"}}},
			{Var: "tm", Type: adhoc.FieldTextMulti, Values: []string{"a", "b"}},
			{Var: "tp", Type: adhoc.FieldTextPrivate},
			{Var: "ts", Type: adhoc.FieldTextSingle, Values: []string{"v"}},
			{Var: "untyped"},
		},
		Reported: []adhoc.Field{{Var: "id", Label: "ID"}, {Var: "name", Label: "Name"}},
		Items: [][]adhoc.Field{
			{{Var: "id", Values: []string{"k1"}}, {Var: "name", Values: []string{"first"}}},
			{{Var: "id", Values: []string{"k2"}}, {Var: "name", Values: []string{"second"}}},
		},
	}
}

func (f *fakeInvites) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	if req.Node == "addr" {
		return adhoc.Response{Node: "addr", SessionID: ClientAddr(ctx), Status: adhoc.StatusCompleted}, nil
	}
	if cond, ok := strings.CutPrefix(req.Node, "fail:"); ok {
		return adhoc.Response{}, fmt.Errorf("wrapped: %w", &adhoc.Error{Condition: adhoc.Condition(cond), Text: "because " + cond})
	}
	switch req.Node {
	case "echo":
		// The request comes back as the response, to compare field by field.
		return adhoc.Response{
			Node:          host + "|" + req.Requester + "|" + string(req.Role) + "|" + req.Node + "|" + req.Lang + "|" + string(req.Action),
			SessionID:     req.SessionID,
			Status:        adhoc.StatusExecuting,
			Actions:       []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext, adhoc.ActionComplete},
			DefaultAction: adhoc.ActionNext,
			Notes: []adhoc.Note{
				{Type: adhoc.NoteInfo, Text: "info"}, {Type: adhoc.NoteWarn, Text: "warn"},
				{Type: adhoc.NoteError, Text: "error"}, {Text: "untyped"},
			},
			Form: req.Form,
		}, nil
	case "validate":
		// What adhoc.Server does with a request that came across the boundary.
		if err := req.Validate(adhoc.Limits{}); err != nil {
			return adhoc.Response{}, err
		}
		return adhoc.Response{Node: req.Node, SessionID: "s1", Status: adhoc.StatusCompleted}, nil
	case "done":
		return adhoc.Response{Node: req.Node, SessionID: "s1", Status: adhoc.StatusCompleted, Form: richForm(adhoc.FormResult)}, nil
	case "cancel":
		return adhoc.Response{Node: req.Node, SessionID: "s1", Status: adhoc.StatusCanceled}, nil
	case "bad-response":
		return adhoc.Response{Node: req.Node, Status: "bogus"}, nil
	case "plain-error":
		return adhoc.Response{}, errors.New("store failed")
	}
	return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondItemNotFound}
}

var testExpiry = time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)

func (f *fakeInvites) CheckInvite(ctx context.Context, host, token string) (Invite, error) {
	switch token {
	case "addr":
		return Invite{ID: ClientAddr(ctx)}, nil
	case "good":
		return Invite{ID: "id1", Host: host, Kind: "account", Username: "alice", CanRegister: true, ExpiresAt: testExpiry}, nil
	case "contact":
		return Invite{ID: "id2", Host: host, Kind: "contact", Inviter: "bob@" + host, Groups: []string{"friends", "family"}}, nil
	case "approval":
		return Invite{ID: "id3", Host: host, Kind: "account", CanRegister: true, Approval: true}, nil
	case "expired":
		return Invite{}, fmt.Errorf("checking: %w", ErrInviteExpired)
	case "unavailable":
		return Invite{}, ErrUnavailable
	case "broken":
		return Invite{}, errors.New("disk on fire")
	}
	return Invite{}, ErrInviteNotFound
}

func (f *fakeInvites) RedeemInvite(ctx context.Context, r Redemption) (Invite, error) {
	switch {
	case r.Username == "bad name":
		return Invite{}, fmt.Errorf("%w: space", ErrInvalidUsername)
	case r.Username == "other":
		return Invite{}, ErrUsernameNotAllowed
	case r.Purpose == PurposeReset:
		return Invite{}, fmt.Errorf("%w: this invite cannot be used to reset", ErrUsernameNotAllowed)
	}
	return f.CheckInvite(ctx, r.Host, r.Token)
}

func (f *fakeInvites) Health(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

func (f *fakeInvites) setHealth(err error) {
	f.mu.Lock()
	f.health = err
	f.mu.Unlock()
}

// fakeHost is the host's side: answers from tables.
type fakeHost struct{}

var _ HostAPI = fakeHost{}

func (fakeHost) AccountExists(_ context.Context, jid string) (bool, error) {
	if jid == "broken@example.com" {
		return false, errors.New("directory down")
	}
	return jid == "alice@example.com", nil
}

func (fakeHost) Register(ctx context.Context, r Registration) (string, error) {
	switch {
	case r.Username == "addr":
		return ClientAddr(ctx), nil
	case r.Username == "alice":
		return "", ErrAccountExists
	case r.Password == "":
		return "", fmt.Errorf("%w: too short", ErrInvalidPassword)
	case r.Token != "good":
		return "", ErrInviteNotFound
	}
	return r.Username + "@" + r.Host, nil
}

// dataPair returns both ends of a data path in this process: the host's DataPath, and
// the plugin's dataServer serving impl on the control socket handed over.
func dataPair(t testing.TB, impl Invites, opts dataOptions) *dataPath {
	t.Helper()
	cmd := exec.Command("/nonexistent")
	d, err := newDataPath(cmd, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd.ExtraFiles) != 1 || !strings.Contains(strings.Join(cmd.Env, " "), envDataFD+"=3") {
		t.Fatalf("ExtraFiles %v, Env %v", cmd.ExtraFiles, cmd.Env)
	}
	c, err := net.FileConn(cmd.ExtraFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	d.started()
	ctx, cancel := context.WithCancel(context.Background())
	ds := &dataServer{impl: impl, log: slog.New(slog.DiscardHandler), maxResp: defaultMaxResponseBytes}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ds.acceptData(ctx, c.(*net.UnixConn))
	}()
	t.Cleanup(func() {
		cancel()
		_ = d.close()
		<-done
		_ = c.Close()
	})
	return d
}

// connect returns the host's Invites client to impl over an in-process go-plugin
// connection and an in-process data path, configured with api.
func connect(t *testing.T, multiplex bool, impl Invites, api HostAPI) Invites {
	t.Helper()
	data := dataPair(t, impl, testDataOptions(5*time.Second))
	client, server := goplugin.TestPluginGRPCConn(t, multiplex, goplugin.PluginSet{pluginName: &invitesPlugin{
		impl:    impl,
		timeout: 5 * time.Second,
		data:    data,
	}})
	_ = server // stopped by the client's Close, through go-plugin's controller
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	inv, ok := raw.(Invites)
	if !ok {
		t.Fatalf("dispensed %T", raw)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := inv.Configure(ctx, testConfig(), api)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Routes, []Route{{Path: PathAPI, MaxBodyBytes: 1 << 10}, {Path: "/echo", MaxBodyBytes: 4 << 20}}) || !m.Serves("/echo") || m.Serves("/other") {
		t.Fatalf("manifest %+v", m)
	}
	return inv
}

// testDataOptions are the data path's defaults with timeout.
func testDataOptions(timeout time.Duration) dataOptions {
	return dataOptions{maxResponseBytes: defaultMaxResponseBytes, timeout: timeout, maxConns: defaultMaxConns}
}

func testConfig() Config {
	return Config{
		Domains:     []string{"example.com"},
		HTTPBaseURL: "https://example.com:5281",
		DataDir:     "/var/lib/invites",
		ConfigFile:  "/etc/invites.toml",
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTransport(t *testing.T) {
	for _, multiplex := range []bool{false, true} {
		t.Run(fmt.Sprintf("multiplex=%v", multiplex), func(t *testing.T) {
			impl := &fakeInvites{}
			inv := connect(t, multiplex, impl, fakeHost{})
			t.Run("Configure", func(t *testing.T) { testConfigure(t, inv, impl) })
			t.Run("HostAPI", func(t *testing.T) { testHostAPI(t, impl) })
			t.Run("HTTP", func(t *testing.T) { testHTTP(t, inv) })
			t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, inv) })
			t.Run("Commands", func(t *testing.T) { testCommands(t, inv) })
			t.Run("Execute", func(t *testing.T) { testExecute(t, inv) })
			t.Run("Redemption", func(t *testing.T) { testRedemption(t, inv) })
			t.Run("Health", func(t *testing.T) { testHealth(t, inv, impl) })
			t.Run("ClientAddr", func(t *testing.T) { testClientAddr(t, inv, impl) })
		})
	}
}

func testConfigure(t *testing.T, inv Invites, impl *fakeInvites) {
	impl.mu.Lock()
	got := impl.cfg
	impl.mu.Unlock()
	if !reflect.DeepEqual(got, testConfig()) {
		t.Errorf("plugin got config %+v, want %+v", got, testConfig())
	}
	// Configure is made once per process.
	if _, err := inv.Configure(ctxT(t), testConfig(), fakeHost{}); err == nil {
		t.Error("second Configure accepted")
	}
}

// TestConfigureFails checks that a failed Configure reaches the host in the plugin's
// words.
func TestConfigureFails(t *testing.T) {
	client, _ := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginName: &invitesPlugin{impl: &fakeInvites{}, timeout: time.Minute}})
	defer func() { _ = client.Close() }()
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.(Invites).Configure(ctxT(t), Config{ConfigTOML: "fail"}, nil)
	if err == nil || err.Error() != "config: bad config" {
		t.Errorf("failing Configure: %v", err)
	}
}

func testHostAPI(t *testing.T, impl *fakeInvites) {
	api := impl.hostAPI()
	ctx := ctxT(t)
	for i, tc := range []struct {
		jid  string
		want bool
	}{{"alice@example.com", true}, {"bob@example.com", false}} {
		got, err := api.AccountExists(ctx, tc.jid)
		if err != nil || got != tc.want {
			t.Errorf("%d: AccountExists(%s) = %v, %v; want %v", i, tc.jid, got, err, tc.want)
		}
	}
	if _, err := api.AccountExists(ctx, "broken@example.com"); err == nil || err.Error() != "directory down" {
		t.Errorf("AccountExists error = %v, want the host's words", err)
	}
	jid, err := api.Register(ctx, Registration{Host: "example.com", Token: "good", Username: "juliet", Password: "pw"})
	if err != nil || jid != "juliet@example.com" {
		t.Errorf("Register = %q, %v", jid, err)
	}
	for i, tc := range []struct {
		r    Registration
		want error
		text string
	}{
		{Registration{Token: "good", Username: "alice", Password: "pw"}, ErrAccountExists, "account already exists"},
		{Registration{Token: "good", Username: "romeo"}, ErrInvalidPassword, "password not accepted: too short"},
		{Registration{Token: "bad", Username: "romeo", Password: "pw"}, ErrInviteNotFound, "invite not found"},
	} {
		_, err := api.Register(ctx, tc.r)
		if !errors.Is(err, tc.want) || err.Error() != tc.text {
			t.Errorf("%d: Register error %v, want %v as %q", i, err, tc.want, tc.text)
		}
	}
}

// serveVia runs one request through the Invites client as a host handler would.
func serveVia(t *testing.T, inv Invites, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	err := inv.ServeHTTP(r.Context(), w, r)
	return w, err
}

var errRead = errors.New("connection reset")

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errRead }

func testHTTP(t *testing.T, inv Invites) {
	t.Run("small", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com:5281/echo?key=a%2Fb&x=1", strings.NewReader("ttl=3600"))
		r.RemoteAddr = "192.0.2.7:41000"
		r.Header.Add("X-Multi", "one")
		r.Header.Add("X-Multi", "two")
		w, err := serveVia(t, inv, r)
		if err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusCreated || w.Body.String() != "ttl=3600" {
			t.Errorf("got %d %q", w.Code, w.Body)
		}
		for k, v := range map[string]string{
			"X-Method": "POST", "X-Query": "key=a%2Fb&x=1", "X-Host": "example.com:5281", "X-Proto": "HTTP/1.1",
			"X-Remote": "192.0.2.7:41000", "X-TLS": "false", "X-Length": "8", "X-Deadline": "yes",
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if got := w.Header().Values("X-Multi"); !reflect.DeepEqual(got, []string{"one", "two"}) {
			t.Errorf("X-Multi = %q", got)
		}
	})
	t.Run("GET no body", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "https://example.com/echo", nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != http.StatusCreated || w.Body.Len() != 0 || w.Header().Get("X-TLS") != "true" {
			t.Errorf("got %d %q tls=%s, %v", w.Code, w.Body, w.Header().Get("X-TLS"), err)
		}
	})
	for _, size := range []int{1, 4<<10 - 1, 16 << 10, 16<<10 + 1, 3<<20 + 17} {
		t.Run(fmt.Sprintf("body %d", size), func(t *testing.T) {
			body := make([]byte, size)
			_, _ = rand.Read(body)
			for _, known := range []bool{true, false} {
				var rd io.Reader = bytes.NewReader(body)
				if !known {
					rd = io.MultiReader(rd) // hides the length: ContentLength -1
				}
				r := httptest.NewRequestWithContext(ctxT(t), "PUT", "http://example.com/echo", rd)
				if !known {
					r.ContentLength = -1
				}
				w, err := serveVia(t, inv, r)
				if err != nil {
					t.Fatal(err)
				}
				length := strconv.Itoa(size)
				if !known {
					length = "-1" // the plugin reads to the end of what arrives
				}
				if w.Code != http.StatusCreated || !bytes.Equal(w.Body.Bytes(), body) || w.Header().Get("X-Length") != length {
					t.Errorf("known length %v: got %d, %d bytes back, equal %v, length %s", known, w.Code, w.Body.Len(),
						bytes.Equal(w.Body.Bytes(), body), w.Header().Get("X-Length"))
				}
			}
		})
	}
	t.Run("large response", func(t *testing.T) {
		n := 3<<20 + 3
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/big?n="+strconv.Itoa(n), nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != 200 || w.Body.Len() != n {
			t.Errorf("got %d, %d bytes, %v", w.Code, w.Body.Len(), err)
		}
	})
	t.Run("response too large", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/big?n="+strconv.Itoa(defaultMaxResponseBytes+1), nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != http.StatusInternalServerError || w.Body.Len() > 100 {
			t.Errorf("got %d, %d bytes, %v", w.Code, w.Body.Len(), err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/empty", nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("got %d %q, %v", w.Code, w.Body, err)
		}
	})
	t.Run("unreadable body", func(t *testing.T) {
		for _, n := range []int{10, 64<<10 + 10} {
			rd := io.MultiReader(bytes.NewReader(make([]byte, n)), failingReader{})
			r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/echo", rd)
			r.ContentLength = -1
			w, err := serveVia(t, inv, r)
			if !errors.Is(err, errRead) || errors.Is(err, ErrUnavailable) {
				t.Errorf("%d bytes then an error: %v, want the reader's", n, err)
			}
			if w.Body.Len() != 0 {
				t.Errorf("wrote %q", w.Body)
			}
		}
	})
	for _, path := range []string{"/fail", "/panic"} {
		t.Run(path, func(t *testing.T) {
			r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com"+path, nil)
			w, err := serveVia(t, inv, r)
			if err != nil || w.Code != http.StatusInternalServerError || w.Body.String() != "internal error\n" {
				t.Errorf("got %d %q, %v; want a whole 500", w.Code, w.Body, err)
			}
			// The socket serves the next exchange.
			w, err = serveVia(t, inv, httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/empty", nil))
			if err != nil || w.Code != 200 {
				t.Errorf("after %s: %d, %v", path, w.Code, err)
			}
		})
	}
	t.Run("caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/wait", nil)
		w, err := serveVia(t, inv, r)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) || w.Body.Len() != 0 {
			t.Errorf("error = %v, want the caller's deadline, not unavailability", err)
		}
	})
}

// testConcurrent runs many exchanges side by side on the socket pool: each gets its
// own answer.
func testConcurrent(t *testing.T, inv Invites) {
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			body := "n=" + strconv.Itoa(i)
			r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/echo", strings.NewReader(body))
			w, err := serveVia(t, inv, r)
			if err != nil || w.Body.String() != body {
				t.Errorf("%d: %q, %v", i, w.Body, err)
			}
		})
	}
	wg.Wait()
}

func testCommands(t *testing.T, inv Invites) {
	ctx := ctxT(t)
	got, err := inv.Commands(ctx, "example.com", "admin@example.com/res", adhoc.RoleAdmin)
	want := []adhoc.Command{
		{Node: "urn:xmpp:invite#invite", Name: "Invite a contact admin@example.com/res"},
		{Node: "urn:xmpp-invites:keys#list", Name: "List invite API keys"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("admin: %v, %v", got, err)
	}
	got, err = inv.Commands(ctx, "example.com", "admin@example.com/res", adhoc.RoleUser)
	if err != nil || !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("user: %v, %v", got, err)
	}
	if _, err := inv.Commands(ctx, "other", "x", ""); err == nil || err.Error() != "unknown host" {
		t.Errorf("error = %v", err)
	}
}

func testExecute(t *testing.T, inv Invites) {
	ctx := ctxT(t)
	for _, ft := range []adhoc.FormType{adhoc.FormSubmit, adhoc.FormCancel, adhoc.FormForm, adhoc.FormResult} {
		for _, a := range []adhoc.Action{"", adhoc.ActionExecute, adhoc.ActionNext, adhoc.ActionPrev, adhoc.ActionComplete, adhoc.ActionCancel} {
			req := adhoc.Request{
				Requester: "admin@example.com/res", Role: adhoc.RoleAdmin, Node: "echo", SessionID: "sess", Action: a, Lang: "de",
				Form: richForm(ft),
			}
			resp, err := inv.Execute(ctx, "example.com", req)
			if err != nil {
				t.Fatalf("form %q action %q: %v", ft, a, err)
			}
			want := adhoc.Response{
				Node:          "example.com|admin@example.com/res|admin|echo|de|" + string(a),
				SessionID:     "sess",
				Status:        adhoc.StatusExecuting,
				Actions:       []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext, adhoc.ActionComplete},
				DefaultAction: adhoc.ActionNext,
				Notes: []adhoc.Note{
					{Type: adhoc.NoteInfo, Text: "info"}, {Type: adhoc.NoteWarn, Text: "warn"},
					{Type: adhoc.NoteError, Text: "error"}, {Text: "untyped"},
				},
				Form: richForm(ft),
			}
			if !reflect.DeepEqual(resp, want) {
				t.Errorf("form %q action %q:\n got %+v\nwant %+v", ft, a, resp, want)
			}
		}
	}
	resp, err := inv.Execute(ctx, "example.com", adhoc.Request{Node: "echo"})
	if err != nil || resp.Form != nil {
		t.Errorf("no form: %+v, %v", resp, err)
	}
	resp, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "done"})
	if err != nil || resp.Status != adhoc.StatusCompleted || !reflect.DeepEqual(resp.Form, richForm(adhoc.FormResult)) {
		t.Errorf("done: %+v, %v", resp, err)
	}
	resp, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "cancel"})
	if err != nil || resp.Status != adhoc.StatusCanceled {
		t.Errorf("cancel: %+v, %v", resp, err)
	}

	for _, c := range conditions {
		_, err := inv.Execute(ctx, "example.com", adhoc.Request{Node: "fail:" + string(c)})
		ae, ok := errors.AsType[*adhoc.Error](err)
		if !ok || ae.Condition != c || ae.Text != "because "+string(c) {
			t.Errorf("condition %s: got %v", c, err)
		}
	}
	// A condition no side knows crosses as it is, and is answered as
	// internal-server-error.
	_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "fail:made-up"})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != "made-up" {
		t.Errorf("unknown condition: got %v", err)
	} else if se, _ := ae.StanzaError(); se.Condition != "internal-server-error" {
		t.Errorf("unknown condition answered as %v", se.Condition)
	}
	// Tokens cross as they are; the serving side's rules (adhoc.Request.Validate, as
	// adhoc.Server applies them) refuse what is wrong.
	for i, tc := range []struct {
		req  adhoc.Request
		want adhoc.Condition
	}{
		{adhoc.Request{Node: "validate", Action: "jump"}, adhoc.CondMalformedAction},
		{adhoc.Request{Node: "validate", Form: &adhoc.Form{Type: "weird"}}, adhoc.CondBadPayload},
		{adhoc.Request{Node: "validate", Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "x", Type: "weird"}}}}, adhoc.CondBadPayload},
		{adhoc.Request{Node: "validate", Form: &adhoc.Form{Type: adhoc.FormSubmit}}, ""},
	} {
		_, err := inv.Execute(ctx, "example.com", tc.req)
		ae, _ := errors.AsType[*adhoc.Error](err)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.want != "" && (ae == nil || ae.Condition != tc.want):
			t.Errorf("%d: got %v, want %s", i, err, tc.want)
		}
	}
	// Failures that are not protocol errors stay plain errors: a malformed answer is
	// the plugin's fault, not the requester's.
	for _, node := range []string{"bad-response", "plain-error"} {
		_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: node})
		if _, ok := errors.AsType[*adhoc.Error](err); ok || err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: got %v, want a plain error", node, err)
		}
	}
}

func testRedemption(t *testing.T, inv Invites) {
	ctx := ctxT(t)
	got, err := inv.CheckInvite(ctx, "example.com", "good")
	want := Invite{ID: "id1", Host: "example.com", Kind: "account", Username: "alice", CanRegister: true, ExpiresAt: testExpiry}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CheckInvite = %+v, %v", got, err)
	}
	got, err = inv.CheckInvite(ctx, "example.com", "contact")
	if err != nil || !reflect.DeepEqual(got, Invite{ID: "id2", Host: "example.com", Kind: "contact",
		Inviter: "bob@example.com", Groups: []string{"friends", "family"}}) {
		t.Errorf("CheckInvite contact = %+v, %v", got, err)
	}
	got, err = inv.RedeemInvite(ctx, Redemption{Host: "example.com", Token: "good", Username: "alice"})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("RedeemInvite = %+v, %v", got, err)
	}
	for i, tc := range []struct {
		token, username string
		purpose         Purpose
		want            error
	}{
		{"missing", "", "", ErrInviteNotFound},
		{"expired", "", "", ErrInviteExpired},
		{"unavailable", "", "", ErrUnavailable},
		{"good", "other", "", ErrUsernameNotAllowed},
		{"good", "bad name", "", ErrInvalidUsername},
		{"good", "alice", PurposeReset, ErrUsernameNotAllowed},
		{"missing", "alice", PurposeRegister, ErrInviteNotFound},
		{"expired", "alice", PurposeSubscribe, ErrInviteExpired},
	} {
		var err error
		if tc.username == "" {
			_, err = inv.CheckInvite(ctx, "example.com", tc.token)
		} else {
			_, err = inv.RedeemInvite(ctx, Redemption{Host: "example.com", Token: tc.token, Username: tc.username, Purpose: tc.purpose})
		}
		if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "rpc error") {
			t.Errorf("%d: error %v, want %v", i, err, tc.want)
		}
		for _, other := range []error{ErrInviteNotFound, ErrInviteExpired, ErrUsernameNotAllowed, ErrInvalidUsername, ErrUnavailable} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%d: error %v also matches %v", i, err, other)
			}
		}
	}
	_, err = inv.CheckInvite(ctx, "example.com", "broken")
	if err == nil || err.Error() != "disk on fire" || errors.Is(err, ErrUnavailable) {
		t.Errorf("other error = %v", err)
	}
}

// testClientAddr checks that the client's address a caller puts in the context
// (WithClientAddr) reaches the other side with CheckInvite, RedeemInvite, Execute and
// the host's callbacks, and that a call without one carries none.
func testClientAddr(t *testing.T, inv Invites, impl *fakeInvites) {
	for _, addr := range []string{"192.0.2.1:5222", "[2001:db8::1]:40000", ""} {
		ctx := ctxT(t)
		if addr != "" {
			ctx = WithClientAddr(ctx, addr)
		}
		if got, err := inv.CheckInvite(ctx, "example.com", "addr"); err != nil || got.ID != addr {
			t.Errorf("CheckInvite saw %q, %v; want %q", got.ID, err, addr)
		}
		if got, err := inv.RedeemInvite(ctx, Redemption{Host: "example.com", Token: "addr", Username: "x"}); err != nil || got.ID != addr {
			t.Errorf("RedeemInvite saw %q, %v; want %q", got.ID, err, addr)
		}
		if got, err := inv.Execute(ctx, "example.com", adhoc.Request{Node: "addr"}); err != nil || got.SessionID != addr {
			t.Errorf("Execute saw %q, %v; want %q", got.SessionID, err, addr)
		}
		if got, err := impl.hostAPI().Register(ctx, Registration{Host: "example.com", Token: "good", Username: "addr", Password: "pw"}); err != nil || got != addr {
			t.Errorf("Register saw %q, %v; want %q", got, err, addr)
		}
	}
}

func testHealth(t *testing.T, inv Invites, impl *fakeInvites) {
	if err := inv.Health(ctxT(t)); err != nil {
		t.Errorf("Health = %v", err)
	}
	impl.setHealth(errors.New("store unreachable"))
	defer impl.setHealth(nil)
	err := inv.Health(ctxT(t))
	if err == nil || err.Error() != "store unreachable" || errors.Is(err, ErrUnavailable) {
		t.Errorf("Health = %v", err)
	}
}

// TestPluginGone checks that calls to a plugin whose server and sockets are gone fail
// as unavailable, at once.
func TestPluginGone(t *testing.T) {
	impl := &fakeInvites{}
	data := dataPair(t, impl, testDataOptions(time.Minute))
	client, server := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginName: &invitesPlugin{
		impl: impl, timeout: 2 * time.Second, data: data,
	}})
	defer func() { _ = client.Close() }()
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	inv := raw.(Invites)
	if err := inv.Health(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := serveVia(t, inv, httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/empty", nil)); err != nil {
		t.Fatal(err)
	}
	server.Stop()
	_ = data.close()
	ctx := ctxT(t)
	if _, err := inv.CheckInvite(ctx, "example.com", "good"); !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "rpc error") {
		t.Errorf("CheckInvite: %v", err)
	}
	if _, err := inv.Execute(ctx, "example.com", adhoc.Request{Node: "done"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Execute: %v", err)
	}
	if err := inv.Health(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Health: %v", err)
	}
	r := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/echo", nil)
	if _, err := serveVia(t, inv, r); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ServeHTTP: %v", err)
	}
}

// TestDataPathCrash closes the plugin's end of the data path in the middle of an
// exchange, as a crash does: the exchange fails at once as unavailable, and nothing
// is written to the client.
func TestDataPathCrash(t *testing.T) {
	cmd := exec.Command("/nonexistent")
	d, err := newDataPath(cmd, testDataOptions(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	c, err := net.FileConn(cmd.ExtraFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	d.started()
	// A plugin that takes the data socket, reads the request, and dies.
	go func() {
		uc := c.(*net.UnixConn)
		oob := make([]byte, 64)
		_, oobn, _, _, err := uc.ReadMsgUnix(make([]byte, 1), oob)
		if err != nil {
			return
		}
		msgs, _ := syscallParse(oob[:oobn])
		for _, fd := range msgs {
			f := osNewFile(fd)
			dc, _ := net.FileConn(f)
			_ = f.Close()
			_, _ = dc.Read(make([]byte, 4096))
			time.Sleep(50 * time.Millisecond)
			_ = dc.Close()
		}
		_ = uc.Close()
	}()
	start := time.Now()
	w := httptest.NewRecorder()
	err = d.exchange(ctxT(t), w, httptest.NewRequest("POST", "/x", strings.NewReader("a=b")))
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 5*time.Second || w.Body.Len() != 0 {
		t.Errorf("exchange with a crashing plugin: %v after %v, wrote %q", err, time.Since(start), w.Body)
	}
	// The control socket is gone too: a new exchange cannot even start.
	if err := d.exchange(ctxT(t), httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("after the crash: %v", err)
	}
}

// TestDataPathTimeout checks that an exchange the plugin does not answer fails as
// unavailable when its timeout passes, not later.
func TestDataPathTimeout(t *testing.T) {
	impl := &fakeInvites{}
	d := dataPair(t, impl, testDataOptions(200*time.Millisecond))
	start := time.Now()
	w := httptest.NewRecorder()
	err := d.exchange(context.Background(), w, httptest.NewRequest("GET", "/wait", nil))
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 2*time.Second || w.Body.Len() != 0 {
		t.Errorf("got %v after %v", err, time.Since(start))
	}
}

func syscallParse(oob []byte) ([]int, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := syscall.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, f...)
		}
	}
	return fds, nil
}

func osNewFile(fd int) *os.File { return os.NewFile(uintptr(fd), "test") }
