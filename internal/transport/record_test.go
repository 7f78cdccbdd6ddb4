package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/testlog"
)

// secretValuer is a slog.LogValuer: the record carries what it resolves to.
type secretValuer struct{}

func (secretValuer) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestRecordRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 29, 5, 6, 7, 891011121, time.UTC)
	r := slog.NewRecord(when, slog.LevelWarn+1, "audit", 0)
	deep := slog.Int("leaf", 1)
	for i := range maxGroupDepth + 1 {
		deep = slog.Group("g"+string(rune('0'+i)), deep)
	}
	r.AddAttrs(
		slog.String("event", "invite.created"),
		slog.Int("max_uses", -3),
		slog.Uint64("big", math.MaxUint64),
		slog.Float64("ratio", 0.25),
		slog.Bool("audit", true),
		slog.Bool("no", false),
		slog.Duration("took", 1500*time.Millisecond),
		slog.Time("expires_at", when.Add(time.Hour)),
		slog.Time("never", time.Time{}),
		slog.Group("req", slog.String("path", "/x"), slog.Attr{}, slog.Int("n", 2)),
		slog.Any("changed", []string{"max_uses", "note"}),
		slog.Any("err", errors.New("disk full")),
		slog.Any("secret", secretValuer{}),
		slog.Attr{}, // skipped, as handlers do
		deep,
	)
	b := appendRecord([]byte("xyz"), []slog.Attr{slog.String("component", "audit")}, r)
	if string(b[:3]) != "xyz" {
		t.Fatal("appendRecord overwrote what came before")
	}
	got, err := decodeRecord(b[3+frameHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(when) || got.Level != slog.LevelWarn+1 || got.Message != "audit" {
		t.Errorf("record head: %v %v %q", got.Time, got.Level, got.Message)
	}
	want := map[string]any{
		"component": "audit", "event": "invite.created", "max_uses": int64(-3), "big": uint64(math.MaxUint64),
		"ratio": 0.25, "audit": true, "no": false, "took": 1500 * time.Millisecond,
		"changed": []any{"max_uses", "note"}, "err": "disk full", "secret": "resolved",
	}
	var keys []string
	for _, a := range got.Attrs {
		keys = append(keys, a.Key)
		switch a.Key {
		case "expires_at":
			if !a.Value.Time().Equal(when.Add(time.Hour)) {
				t.Errorf("expires_at %v", a.Value)
			}
		case "never":
			if !a.Value.Time().IsZero() {
				t.Errorf("zero time came back as %v", a.Value)
			}
		case "req":
			g := a.Value.Group()
			if len(g) != 2 || g[0].Key != "path" || g[0].Value.String() != "/x" || g[1].Value.Int64() != 2 {
				t.Errorf("group %v", g)
			}
		case "g" + string(rune('0'+maxGroupDepth)):
			// Groups nest maxGroupDepth deep; one deeper is carried as JSON.
			v := a.Value
			for range maxGroupDepth {
				if v.Kind() != slog.KindGroup || len(v.Group()) != 1 {
					t.Fatalf("deep group %v", a.Value)
				}
				v = v.Group()[0].Value
			}
			if s, err := json.Marshal(v.Any()); err != nil || string(s) != `{"leaf":1}` {
				t.Errorf("deep group ends in %v (%s)", v, s)
			}
		default:
			if w, ok := want[a.Key]; !ok || !reflect.DeepEqual(a.Value.Any(), w) {
				t.Errorf("%s = %#v, want %#v", a.Key, a.Value.Any(), w)
			}
		}
	}
	wantKeys := "component event max_uses big ratio audit no took expires_at never req changed err secret g" + string(rune('0'+maxGroupDepth))
	if strings.Join(keys, " ") != wantKeys {
		t.Errorf("attributes in the order\n%s\nwant\n%s", strings.Join(keys, " "), wantKeys)
	}
}

func TestRecordMalformed(t *testing.T) {
	good := appendRecord(nil, nil, slog.NewRecord(time.Unix(1, 2), slog.LevelInfo, "m", 0))[frameHeaderLen:]
	if _, err := decodeRecord(good); err != nil {
		t.Fatalf("well-formed record: %v", err)
	}
	nested := []byte{'L', 2, 0, 0, 0, 1}
	for range maxGroupDepth + 1 {
		nested = append(nested, 0, valGroup, 1)
	}
	for i, p := range [][]byte{
		nil,
		{'R', 2, 0, 0, 0, 0},
		{'L'},
		{'L', 2, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0, 0}, // a second of a billion nanoseconds
		{'L', 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, // more attributes than bytes
		{'L', 2, 0, 0, 0, 1, 1, 'k', 'x', 0},            // an unknown kind
		{'L', 2, 0, 0, 0, 1, 1, 'k', valBool, 2},        // a bool that is 2
		{'L', 2, 0, 0, 0, 1, 1, 'k', valFloat, 0, 0},    // a float cut short
		{'L', 2, 0, 0, 0, 1, 1, 'k', valJSON, 1, '{'},   // JSON that is not
		append(append([]byte{}, good...), 0),            // a byte after the record
		nested,
	} {
		if _, err := decodeRecord(p); !errors.Is(err, errFrame) {
			t.Errorf("%d: %v, want malformed", i, err)
		}
	}
}

// loggingInvites logs records with an exchange's context, without it, and through a
// group, then answers.
type loggingInvites struct {
	*fakeInvites
	log *slog.Logger
	// release, when set, is waited for before answering.
	release chan struct{}
}

func (l *loggingInvites) ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	l.log.InfoContext(ctx, "audit", "event", "invite.created", "n", 7)
	l.log.Info("no context")
	l.log.WithGroup("grp").InfoContext(ctx, "grouped", "k", "v")
	if l.release != nil {
		<-l.release
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// hostRecords keeps what DataOptions.Log receives.
type hostRecords struct {
	mu   sync.Mutex
	recs []decodedRecord
}

func (h *hostRecords) log(t time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, decodedRecord{t, level, msg, attrs})
}

// TestExchangeRecords checks that a record logged with an exchange's context reaches
// the host with the answer, attributes of the logger first, and that the others go
// to stderr.
func TestExchangeRecords(t *testing.T) {
	var stderr testlog.Buffer
	logger := slog.New(newExchangeLogHandler(NewLogHandler(&stderr, slog.LevelInfo))).With("component", "audit")
	var got hostRecords
	d := dataPair(t, &loggingInvites{fakeInvites: &fakeInvites{}, log: logger}, DataOptions{Log: got.log})
	w := httptest.NewRecorder()
	if err := d.Exchange(ctxT(t), w, httptest.NewRequest("POST", "/invites_api", nil)); err != nil || w.Code != http.StatusCreated {
		t.Fatalf("exchange: %v, %d", err, w.Code)
	}
	got.mu.Lock()
	recs := got.recs
	got.mu.Unlock()
	if len(recs) != 1 {
		t.Fatalf("the host got %d records with the answer: %+v", len(recs), recs)
	}
	rec := recs[0]
	if rec.Message != "audit" || rec.Level != slog.LevelInfo || time.Since(rec.Time) > time.Minute ||
		len(rec.Attrs) != 3 || rec.Attrs[0].String() != "component=audit" || rec.Attrs[1].String() != "event=invite.created" || rec.Attrs[2].Value.Int64() != 7 {
		t.Errorf("record %+v", rec)
	}
	out := stderr.String()
	if strings.Contains(out, "invite.created") || !strings.Contains(out, `"@message":"no context"`) || !strings.Contains(out, `"grp":{"k":"v"}`) {
		t.Errorf("stderr:\n%s", out)
	}
}

// TestExchangeRecordsSpill checks that the records of an answer that cannot be sent
// go to stderr rather than nowhere.
func TestExchangeRecordsSpill(t *testing.T) {
	var stderr testlog.Buffer
	impl := &loggingInvites{fakeInvites: &fakeInvites{},
		log:     slog.New(newExchangeLogHandler(NewLogHandler(&stderr, slog.LevelInfo))),
		release: make(chan struct{})}
	ds := &dataServer{impl: impl, log: slog.New(slog.DiscardHandler), maxReq: maxHeadBytes + DefaultMaxBodyBytes, maxResp: DefaultMaxResponseBytes}
	hostEnd, pluginEnd := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ds.serveConn(context.Background(), pluginEnd)
	}()
	req := endFrame(appendRequestHead(nil, &exchangeRequest{Method: "POST", URI: "/invites_api", Proto: "HTTP/1.1"}))
	if _, err := hostEnd.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = hostEnd.Close() // the host gives up while the handler runs
	close(impl.release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serveConn did not return")
	}
	if out := stderr.String(); !strings.Contains(out, `"event":"invite.created"`) {
		t.Errorf("the held record was lost; stderr:\n%s", out)
	}
}

// TestExchangeRecordsBounded checks both ends of maxExchangeRecords: the plugin holds
// no more, the host accepts no more.
func TestExchangeRecordsBounded(t *testing.T) {
	var stderr testlog.Buffer
	h := newExchangeLogHandler(NewLogHandler(&stderr, slog.LevelInfo))
	l := &exchangeLog{}
	ctx := withExchangeLog(context.Background(), l)
	logger := slog.New(h)
	for range maxExchangeRecords + 1 {
		logger.InfoContext(ctx, "r")
	}
	if held := l.settle(); len(held) != maxExchangeRecords || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("held %d, stderr:\n%s", len(held), stderr.String())
	}
	logger.InfoContext(ctx, "after")
	if !strings.Contains(stderr.String(), `"@message":"after"`) {
		t.Error("a record logged after the answer was settled was not written to stderr")
	}

	// A record longer than maxRecordBytes goes to stderr, once, even when the answer
	// then cannot be sent.
	stderr.Reset()
	l = &exchangeLog{}
	ctx = withExchangeLog(context.Background(), l)
	logger.InfoContext(ctx, "big", "blob", strings.Repeat("x", maxRecordBytes))
	logger.InfoContext(ctx, "small")
	b, framed := appendHeldRecords(ctx, nil, l.settle())
	if len(framed) != 1 || framed[0].r.Message != "small" || len(b) > 100 {
		t.Errorf("framed %d records in %d bytes", len(framed), len(b))
	}
	spillHeldRecords(ctx, framed)
	if out := stderr.String(); strings.Count(out, `"@message":"big"`) != 1 || strings.Count(out, `"@message":"small"`) != 1 {
		t.Errorf("stderr after a spill:\n%.300s", out)
	}

	for _, n := range []int{maxExchangeRecords, maxExchangeRecords + 1} {
		ours, theirs, err := socketPair()
		if err != nil {
			t.Fatal(err)
		}
		plugin, err := net.FileConn(theirs)
		_ = theirs.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for range n {
			b = appendRecord(b, nil, slog.NewRecord(time.Now(), slog.LevelInfo, "r", 0))
		}
		b = appendResponse(b, http.StatusOK, nil, []byte("ok"))
		go func() { _, _ = plugin.Write(b) }()
		var got hostRecords
		d := &DataPath{opts: DataOptions{Log: got.log}.withDefaults()}
		payload, err := d.readAnswer(&dataConn{c: ours, r: bufio.NewReader(ours)})
		if n <= maxExchangeRecords {
			if err != nil || len(got.recs) != n || !bytes.HasSuffix(payload, []byte("ok")) {
				t.Errorf("%d records: %v, logged %d", n, err, len(got.recs))
			}
		} else if !errors.Is(err, errFrame) {
			t.Errorf("%d records: %v, want malformed", n, err)
		}
		_ = ours.Close()
		_ = plugin.Close()
	}
}
