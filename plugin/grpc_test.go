package plugin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/plugin"
)

// fakeInvites is the plugin's side in these tests: it answers from fixed tables and
// keeps the HostAPI it was given, so tests can call the host back through it.
type fakeInvites struct {
	mu  sync.Mutex
	cfg plugin.Config
	api plugin.HostAPI

	health error
}

var _ plugin.Invites = (*fakeInvites)(nil)

func (f *fakeInvites) Configure(_ context.Context, cfg plugin.Config, api plugin.HostAPI) error {
	if cfg.ConfigTOML == "fail" {
		return errors.New("bad config")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.api = cfg, api
	return nil
}

func (f *fakeInvites) hostAPI() plugin.HostAPI {
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
		h["X-Multi"] = r.Header.Values("X-Multi")
		w.WriteHeader(http.StatusCreated)
		h.Set("X-Too-Late", "ignored") // after WriteHeader: not sent
		_, _ = w.Write(body)
	case "/stream":
		w.Header().Set("Content-Type", "text/plain")
		for i := range 3 {
			fmt.Fprintf(w, "part %d\n", i)
			http.NewResponseController(w).Flush()
		}
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write(bytes.Repeat([]byte("x"), n))
	case "/empty":
		// no write: 200 with an empty body
	case "/short-read":
		// answer without reading the (large) body
		w.WriteHeader(http.StatusRequestEntityTooLarge)
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

func (f *fakeInvites) Commands(_ context.Context, host, requester string) ([]adhoc.Command, error) {
	if host != "example.com" {
		return nil, errors.New("unknown host")
	}
	cmds := []adhoc.Command{{Node: "urn:xmpp:invite#invite", Name: "Invite a contact"}}
	if requester == "admin@example.com/res" {
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

func (f *fakeInvites) Execute(_ context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	if cond, ok := strings.CutPrefix(req.Node, "fail:"); ok {
		return adhoc.Response{}, fmt.Errorf("wrapped: %w", &adhoc.Error{Condition: adhoc.Condition(cond), Text: "because " + cond})
	}
	switch req.Node {
	case "echo":
		// The request comes back as the response, to compare field by field.
		return adhoc.Response{
			Node:          host + "|" + req.Requester + "|" + req.Node + "|" + req.Lang,
			SessionID:     req.SessionID,
			Status:        adhoc.StatusExecuting,
			Actions:       []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext, adhoc.ActionComplete},
			DefaultAction: req.Action,
			Notes: []adhoc.Note{
				{Type: adhoc.NoteInfo, Text: "info"}, {Type: adhoc.NoteWarn, Text: "warn"},
				{Type: adhoc.NoteError, Text: "error"}, {Text: "untyped"},
			},
			Form: req.Form,
		}, nil
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

func (f *fakeInvites) CheckInvite(_ context.Context, host, token string) (plugin.Invite, error) {
	switch token {
	case "good":
		return plugin.Invite{ID: "id1", Host: host, Kind: "account", Username: "alice", CanRegister: true, ExpiresAt: testExpiry}, nil
	case "contact":
		return plugin.Invite{ID: "id2", Host: host, Kind: "contact", Inviter: "bob"}, nil
	case "expired":
		return plugin.Invite{}, fmt.Errorf("checking: %w", plugin.ErrInviteExpired)
	case "unavailable":
		return plugin.Invite{}, plugin.ErrUnavailable
	case "broken":
		return plugin.Invite{}, errors.New("disk on fire")
	}
	return plugin.Invite{}, plugin.ErrInviteNotFound
}

func (f *fakeInvites) RedeemInvite(ctx context.Context, host, token, username string) (plugin.Invite, error) {
	switch username {
	case "bad name":
		return plugin.Invite{}, fmt.Errorf("%w: space", plugin.ErrInvalidUsername)
	case "other":
		return plugin.Invite{}, plugin.ErrUsernameNotAllowed
	}
	return f.CheckInvite(ctx, host, token)
}

func (f *fakeInvites) Health(context.Context) error { return f.health }

// fakeHost is the host's side: answers from tables and records log calls.
type fakeHost struct {
	mu   sync.Mutex
	logs []logCall
}

type logCall struct {
	level slog.Level
	msg   string
	attrs []slog.Attr
}

var _ plugin.HostAPI = (*fakeHost)(nil)

func (h *fakeHost) IsAdmin(_ context.Context, host, jid string) (bool, error) {
	if host == "broken" {
		return false, errors.New("directory down")
	}
	return host == "example.com" && jid == "admin@example.com", nil
}

func (h *fakeHost) AccountExists(_ context.Context, jid string) (bool, error) {
	return jid == "alice@example.com", nil
}

func (h *fakeHost) Domains(context.Context) ([]string, error) {
	return []string{"example.com", "example.org"}, nil
}

func (h *fakeHost) Log(_ context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, logCall{level, msg, attrs})
	return nil
}

// connect returns the host's Invites client to impl over an in-process go-plugin
// connection, configured with api.
func connect(t *testing.T, multiplex bool, impl plugin.Invites, api plugin.HostAPI) plugin.Invites {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, multiplex, plugin.PluginSet(&plugin.InvitesPlugin{
		Impl:         impl,
		CallTimeout:  5 * time.Second,
		HTTPTimeout:  5 * time.Second,
		MaxBodyBytes: 4 << 20,
	}))
	_ = server // stopped by the client's Close, through go-plugin's controller
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(plugin.Name)
	if err != nil {
		t.Fatal(err)
	}
	inv, ok := raw.(plugin.Invites)
	if !ok {
		t.Fatalf("dispensed %T", raw)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := inv.Configure(ctx, plugin.Config{
		Domains:     []string{"example.com"},
		HTTPBaseURL: "https://example.com:5281",
		DataDir:     "/var/lib/invites",
		ConfigFile:  "/etc/invites.toml",
	}, api); err != nil {
		t.Fatal(err)
	}
	return inv
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGRPC(t *testing.T) {
	for _, multiplex := range []bool{false, true} {
		t.Run(fmt.Sprintf("multiplex=%v", multiplex), func(t *testing.T) {
			impl := &fakeInvites{}
			host := &fakeHost{}
			inv := connect(t, multiplex, impl, host)
			t.Run("Configure", func(t *testing.T) { testConfigure(t, inv, impl, host) })
			t.Run("HostAPI", func(t *testing.T) { testHostAPI(t, impl, host) })
			t.Run("HTTP", func(t *testing.T) { testHTTP(t, inv) })
			t.Run("Lanes", func(t *testing.T) { testLanes(t, inv) })
			t.Run("Commands", func(t *testing.T) { testCommands(t, inv) })
			t.Run("Execute", func(t *testing.T) { testExecute(t, inv) })
			t.Run("Redemption", func(t *testing.T) { testRedemption(t, inv) })
			t.Run("Health", func(t *testing.T) { testHealth(t, inv, impl) })
		})
	}
}

func testConfigure(t *testing.T, inv plugin.Invites, impl *fakeInvites, host *fakeHost) {
	impl.mu.Lock()
	got := impl.cfg
	impl.mu.Unlock()
	want := plugin.Config{
		Domains:     []string{"example.com"},
		HTTPBaseURL: "https://example.com:5281",
		DataDir:     "/var/lib/invites",
		ConfigFile:  "/etc/invites.toml",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plugin got config %+v, want %+v", got, want)
	}
	if err := inv.Configure(ctxT(t), plugin.Config{ConfigTOML: "fail"}, host); err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("failing Configure: %v", err)
	}
	// Configuring again with another HostAPI swaps it behind the same broker ID.
	other := &fakeHost{}
	if err := inv.Configure(ctxT(t), want, other); err != nil {
		t.Fatal(err)
	}
	if err := impl.hostAPI().Log(ctxT(t), slog.LevelInfo, "to other"); err != nil {
		t.Fatal(err)
	}
	if len(other.logs) != 1 {
		t.Errorf("second HostAPI got %d log calls, want 1", len(other.logs))
	}
	if err := inv.Configure(ctxT(t), want, host); err != nil {
		t.Fatal(err)
	}
}

func testHostAPI(t *testing.T, impl *fakeInvites, host *fakeHost) {
	api := impl.hostAPI()
	ctx := ctxT(t)
	for i, tc := range []struct {
		host, jid string
		want      bool
	}{
		{"example.com", "admin@example.com", true},
		{"example.com", "alice@example.com", false},
		{"example.org", "admin@example.com", false},
	} {
		got, err := api.IsAdmin(ctx, tc.host, tc.jid)
		if err != nil || got != tc.want {
			t.Errorf("%d: IsAdmin(%s, %s) = %v, %v; want %v", i, tc.host, tc.jid, got, err, tc.want)
		}
	}
	if _, err := api.IsAdmin(ctx, "broken", "x@y"); err == nil || !strings.Contains(err.Error(), "directory down") {
		t.Errorf("IsAdmin error = %v, want the host's error", err)
	}
	for i, tc := range []struct {
		jid  string
		want bool
	}{{"alice@example.com", true}, {"bob@example.com", false}} {
		got, err := api.AccountExists(ctx, tc.jid)
		if err != nil || got != tc.want {
			t.Errorf("%d: AccountExists(%s) = %v, %v; want %v", i, tc.jid, got, err, tc.want)
		}
	}
	ds, err := api.Domains(ctx)
	if err != nil || !reflect.DeepEqual(ds, []string{"example.com", "example.org"}) {
		t.Errorf("Domains = %v, %v", ds, err)
	}

	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	host.mu.Lock()
	host.logs = nil
	host.mu.Unlock()
	err = api.Log(ctx, slog.LevelWarn, "invite created",
		slog.String("s", "v"), slog.Int("i", -3), slog.Uint64("u", 7), slog.Float64("f", 1.5),
		slog.Bool("b", true), slog.Duration("d", 90*time.Second), slog.Time("t", at),
		slog.Group("g", slog.String("inner", "x"), slog.Group("h", slog.Int("deep", 1))),
		slog.Any("any", []int{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	host.mu.Lock()
	logs := host.logs
	host.mu.Unlock()
	if len(logs) != 1 {
		t.Fatalf("host got %d log calls, want 1", len(logs))
	}
	got := logs[0]
	if got.level != slog.LevelWarn || got.msg != "invite created" {
		t.Errorf("log = %v %q", got.level, got.msg)
	}
	want := []slog.Attr{
		slog.String("s", "v"), slog.Int64("i", -3), slog.Uint64("u", 7), slog.Float64("f", 1.5),
		slog.Bool("b", true), slog.Duration("d", 90*time.Second), slog.Time("t", at),
		slog.String("g.inner", "x"), slog.Int64("g.h.deep", 1), slog.String("any", "[1 2]"),
	}
	if len(got.attrs) != len(want) {
		t.Fatalf("attrs = %v, want %v", got.attrs, want)
	}
	for i := range want {
		if !got.attrs[i].Equal(want[i]) {
			t.Errorf("attr %d = %v, want %v", i, got.attrs[i], want[i])
		}
	}
}

var errRead = errors.New("connection reset")

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errRead }

// serveVia runs one request through the Invites client as a host handler would.
func serveVia(t *testing.T, inv plugin.Invites, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	err := inv.ServeHTTP(r.Context(), w, r)
	return w, err
}

// testLanes runs many small exchanges, one after another and side by side, over the
// reused HTTPExchanges streams: each gets its own answer, and an exchange that fails
// (a handler error, a panic, a timeout) leaves the next ones unharmed.
func testLanes(t *testing.T, inv plugin.Invites) {
	echo := func(i int) error {
		body := fmt.Sprintf("body-%d", i)
		r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/echo?n="+strconv.Itoa(i), strings.NewReader(body))
		w, err := serveVia(t, inv, r)
		if err != nil {
			return err
		}
		if w.Code != http.StatusCreated || w.Body.String() != body || w.Header().Get("X-Query") != "n="+strconv.Itoa(i) {
			return fmt.Errorf("exchange %d got %d %q %q", i, w.Code, w.Body, w.Header().Get("X-Query"))
		}
		return nil
	}
	for i := range 20 {
		if err := echo(i); err != nil {
			t.Fatal(err)
		}
	}
	for i, path := range []string{"/fail", "/panic", "/wait"} {
		ctx := ctxT(t)
		if path == "/wait" {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
		}
		if _, err := serveVia(t, inv, httptest.NewRequestWithContext(ctx, "GET", "http://example.com"+path, nil)); err == nil {
			t.Errorf("%s: no error", path)
		}
		if err := echo(100 + i); err != nil {
			t.Fatalf("after %s: %v", path, err)
		}
	}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { errs <- echo(1000 + i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func testHTTP(t *testing.T, inv plugin.Invites) {
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
			"X-Method": "POST", "X-Query": "key=a%2Fb&x=1", "X-Host": "example.com:5281",
			"X-Remote": "192.0.2.7:41000", "X-TLS": "false", "X-Length": "8", "X-Too-Late": "",
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
	for _, size := range []int{plugin.ChunkSize - 1, plugin.ChunkSize, plugin.ChunkSize + 1, 3<<20 + 17} {
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
				if w.Code != http.StatusCreated || !bytes.Equal(w.Body.Bytes(), body) {
					t.Errorf("known length %v: got %d, %d bytes back, equal %v", known, w.Code, w.Body.Len(), bytes.Equal(w.Body.Bytes(), body))
				}
			}
		})
	}
	t.Run("large response", func(t *testing.T) {
		n := 5*plugin.ChunkSize + 3
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/big?n="+strconv.Itoa(n), nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != 200 || w.Body.Len() != n {
			t.Errorf("got %d, %d bytes, %v", w.Code, w.Body.Len(), err)
		}
	})
	t.Run("flushed", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/stream", nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Body.String() != "part 0\npart 1\npart 2\n" || !w.Flushed {
			t.Errorf("got %q flushed %v, %v", w.Body, w.Flushed, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		r := httptest.NewRequestWithContext(ctxT(t), "GET", "http://example.com/empty", nil)
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("got %d %q, %v", w.Code, w.Body, err)
		}
	})
	t.Run("not read", func(t *testing.T) {
		body := bytes.Repeat([]byte("y"), 2<<20)
		r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/short-read", bytes.NewReader(body))
		w, err := serveVia(t, inv, r)
		if err != nil || w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d, %v", w.Code, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		body := bytes.Repeat([]byte("z"), 4<<20+1)
		for _, known := range []bool{true, false} {
			var rd io.Reader = bytes.NewReader(body)
			if !known {
				rd = io.MultiReader(rd)
			}
			r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/echo", rd)
			if !known {
				r.ContentLength = -1
			}
			w, err := serveVia(t, inv, r)
			if !errors.Is(err, plugin.ErrBodyTooLarge) {
				t.Errorf("known %v: error %v, want ErrBodyTooLarge", known, err)
			}
			if w.Code != 200 || w.Body.Len() != 0 { // the recorder's untouched state
				t.Errorf("known %v: wrote %d %q", known, w.Code, w.Body)
			}
		}
	})
	t.Run("unreadable body", func(t *testing.T) {
		for _, n := range []int{10, plugin.ChunkSize + 10} { // fails in the first chunk, then in the pump
			rd := io.MultiReader(bytes.NewReader(make([]byte, n)), failingReader{})
			r := httptest.NewRequestWithContext(ctxT(t), "POST", "http://example.com/echo", rd)
			r.ContentLength = -1
			w, err := serveVia(t, inv, r)
			if !errors.Is(err, plugin.ErrRequestBody) || !errors.Is(err, errRead) {
				t.Errorf("%d bytes then an error: %v, want ErrRequestBody wrapping the reader's", n, err)
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
			if err == nil || errors.Is(err, plugin.ErrUnavailable) {
				t.Errorf("error = %v, want a failure that is not unavailability", err)
			}
			if w.Body.Len() != 0 {
				t.Errorf("wrote %q", w.Body)
			}
		})
	}
	t.Run("caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/wait", nil)
		_, err := serveVia(t, inv, r)
		if err == nil || errors.Is(err, plugin.ErrUnavailable) {
			t.Errorf("error = %v, want the caller's deadline, not unavailability", err)
		}
	})
}

func testCommands(t *testing.T, inv plugin.Invites) {
	ctx := ctxT(t)
	got, err := inv.Commands(ctx, "example.com", "admin@example.com/res")
	want := []adhoc.Command{
		{Node: "urn:xmpp:invite#invite", Name: "Invite a contact"},
		{Node: "urn:xmpp-invites:keys#list", Name: "List invite API keys"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("admin: %v, %v", got, err)
	}
	got, err = inv.Commands(ctx, "example.com", "bob@example.com/res")
	if err != nil || !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("user: %v, %v", got, err)
	}
	if _, err := inv.Commands(ctx, "other", "x"); err == nil || !strings.Contains(err.Error(), "unknown host") {
		t.Errorf("error = %v", err)
	}
}

func testExecute(t *testing.T, inv plugin.Invites) {
	ctx := ctxT(t)
	for _, ft := range []adhoc.FormType{adhoc.FormSubmit, adhoc.FormCancel, adhoc.FormForm, adhoc.FormResult, ""} {
		for _, a := range []adhoc.Action{"", adhoc.ActionExecute, adhoc.ActionNext, adhoc.ActionPrev, adhoc.ActionComplete, adhoc.ActionCancel} {
			req := adhoc.Request{
				Requester: "admin@example.com/res", Node: "echo", SessionID: "sess", Action: a, Lang: "de",
				Form: richForm(ft),
			}
			resp, err := inv.Execute(ctx, "example.com", req)
			if err != nil {
				t.Fatalf("form %q action %q: %v", ft, a, err)
			}
			want := adhoc.Response{
				Node:          "example.com|admin@example.com/res|echo|de",
				SessionID:     "sess",
				Status:        adhoc.StatusExecuting,
				Actions:       []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext, adhoc.ActionComplete},
				DefaultAction: a,
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
	// A condition the wire does not know becomes internal-server-error.
	_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "fail:made-up"})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondInternalServerError {
		t.Errorf("unknown condition: got %v", err)
	}
	// Rejected before the wire.
	_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "echo", Action: "jump"})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondMalformedAction {
		t.Errorf("unknown action: got %v", err)
	}
	_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "echo", Form: &adhoc.Form{Type: "weird"}})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondBadPayload {
		t.Errorf("unknown form type: got %v", err)
	}
	_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: "echo", Form: &adhoc.Form{Fields: []adhoc.Field{{Var: "x", Type: "weird"}}}})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondBadPayload {
		t.Errorf("unknown field type: got %v", err)
	}
	// Failures that are not protocol errors stay plain errors.
	for _, node := range []string{"bad-response", "plain-error"} {
		_, err = inv.Execute(ctx, "example.com", adhoc.Request{Node: node})
		if _, ok := errors.AsType[*adhoc.Error](err); ok || err == nil || errors.Is(err, plugin.ErrUnavailable) {
			t.Errorf("%s: got %v, want a plain error", node, err)
		}
	}
}

func testRedemption(t *testing.T, inv plugin.Invites) {
	ctx := ctxT(t)
	got, err := inv.CheckInvite(ctx, "example.com", "good")
	want := plugin.Invite{ID: "id1", Host: "example.com", Kind: "account", Username: "alice", CanRegister: true, ExpiresAt: testExpiry}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CheckInvite = %+v, %v", got, err)
	}
	got, err = inv.CheckInvite(ctx, "example.com", "contact")
	if err != nil || !reflect.DeepEqual(got, plugin.Invite{ID: "id2", Host: "example.com", Kind: "contact", Inviter: "bob"}) {
		t.Errorf("CheckInvite contact = %+v, %v", got, err)
	}
	got, err = inv.RedeemInvite(ctx, "example.com", "good", "alice")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("RedeemInvite = %+v, %v", got, err)
	}
	for i, tc := range []struct {
		token, username string
		want            error
	}{
		{"missing", "", plugin.ErrInviteNotFound},
		{"expired", "", plugin.ErrInviteExpired},
		{"unavailable", "", plugin.ErrUnavailable},
		{"good", "other", plugin.ErrUsernameNotAllowed},
		{"good", "bad name", plugin.ErrInvalidUsername},
		{"missing", "alice", plugin.ErrInviteNotFound},
		{"expired", "alice", plugin.ErrInviteExpired},
	} {
		var err error
		if tc.username == "" {
			_, err = inv.CheckInvite(ctx, "example.com", tc.token)
		} else {
			_, err = inv.RedeemInvite(ctx, "example.com", tc.token, tc.username)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%d: error %v, want %v", i, err, tc.want)
		}
		for _, other := range []error{plugin.ErrInviteNotFound, plugin.ErrInviteExpired, plugin.ErrUsernameNotAllowed, plugin.ErrInvalidUsername, plugin.ErrUnavailable} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%d: error %v also matches %v", i, err, other)
			}
		}
	}
	_, err = inv.CheckInvite(ctx, "example.com", "broken")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("other error = %v", err)
	}
}

func testHealth(t *testing.T, inv plugin.Invites, impl *fakeInvites) {
	if err := inv.Health(ctxT(t)); err != nil {
		t.Errorf("Health = %v", err)
	}
	impl.health = errors.New("store unreachable")
	defer func() { impl.health = nil }()
	err := inv.Health(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "store unreachable") || errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Health = %v", err)
	}
}

// TestGRPCPluginGone checks that calls to a plugin whose server is gone fail as
// unavailable.
func TestGRPCPluginGone(t *testing.T) {
	client, server := goplugin.TestPluginGRPCConn(t, false, plugin.PluginSet(&plugin.InvitesPlugin{
		Impl: &fakeInvites{}, CallTimeout: 2 * time.Second, HTTPTimeout: 2 * time.Second,
	}))
	defer func() { _ = client.Close() }()
	raw, err := client.Dispense(plugin.Name)
	if err != nil {
		t.Fatal(err)
	}
	inv := raw.(plugin.Invites)
	if err := inv.Health(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	server.Stop()
	ctx := ctxT(t)
	if _, err := inv.CheckInvite(ctx, "example.com", "good"); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("CheckInvite: %v", err)
	}
	if _, err := inv.Execute(ctx, "example.com", adhoc.Request{Node: "done"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Execute: %v", err)
	}
	if err := inv.Health(ctx); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Health: %v", err)
	}
	r := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/echo", nil)
	if _, err := serveVia(t, inv, r); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("ServeHTTP: %v", err)
	}
}
