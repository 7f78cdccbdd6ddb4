package plugin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	req := exchangeRequest{
		Method: "POST", URI: "/invites_api?ttl=1h", Host: "example.com", RemoteAddr: "[2001:db8::1]:5",
		Proto: "HTTP/2.0", TLS: true, HasBody: true, Timeout: 1500 * time.Millisecond, ContentLength: 14,
		Header: http.Header{"Authorization": {"Bearer x/y"}, "X-Multi": {"a", "b"}, "Empty": {""}},
	}
	b := appendRequest(nil, &req)
	payload, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRequest(payload)
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("request: %+v, %v", got, err)
	}
	h := http.Header{"Location": {"xmpp:example.com?register;preauth=T"}}
	b = appendResponse(nil, 201, h, nil)
	resp, err := decodeResponse(b[frameHeaderLen:], nil)
	if err != nil || resp.Status != 201 || !reflect.DeepEqual(resp.Header, h) || len(resp.Body) != 0 {
		t.Fatalf("response: %+v, %v", resp, err)
	}
}

// TestBodyFrames sends bodies of every size around a chunk as body frames and reads
// them back as the plugin does, two bodies in a row on one stream.
func TestBodyFrames(t *testing.T) {
	for _, size := range []int{0, 1, chunkBytes - 1, chunkBytes, chunkBytes + 1, 3*chunkBytes + 7} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			var stream []byte
			for range 2 {
				src := io.MultiReader(bytes.NewReader(want[:size/2]), bytes.NewReader(want[size/2:]))
				frames := 0
				for end := false; !end; frames++ {
					var err error
					if stream, end, err = appendBody(stream, src); err != nil {
						t.Fatal(err)
					}
				}
				if max := size/chunkBytes + 2; frames > max {
					t.Errorf("%d appends for %d bytes, want at most %d", frames, size, max)
				}
			}
			br := bufio.NewReader(bytes.NewReader(stream))
			body := &bodyReader{br: br}
			for i := range 2 {
				body.reset(true)
				got, err := io.ReadAll(body)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("body %d: %d bytes, %v", i, len(got), err)
				}
			}
			if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
				t.Errorf("bytes left after both bodies: %v", err)
			}
		})
	}
	// A reader that fails fails the frame, which appends nothing.
	b, _, err := appendBody([]byte("kept"), io.MultiReader(strings.NewReader("x"), failingReader{}))
	if !errors.Is(err, errRead) || string(b) != "kept" {
		t.Errorf("failing reader: %q, %v", b, err)
	}
	// A stream cut in a body, or a frame of another kind, fails the body.
	for i, stream := range []string{"", "\x00\x00\x00\x03Bab", "\x00\x00\x00\x01R"} {
		body := &bodyReader{br: bufio.NewReader(strings.NewReader(stream))}
		body.reset(true)
		if _, err := io.ReadAll(body); err == nil {
			t.Errorf("%d: a cut body read whole", i)
		}
	}
}

func TestFrameMalformed(t *testing.T) {
	good := appendRequest(nil, &exchangeRequest{Method: "GET", URI: "/", ContentLength: -1, Header: http.Header{"A": {"b"}}})
	for i, p := range [][]byte{
		nil,
		{'R'},
		{'X', 1, 'a'},
		good[frameHeaderLen : len(good)-2], // cut in the header
		append(bytes.Clone(good[frameHeaderLen:]), 'x'),     // a byte after the header
		append([]byte{'Q', 0, 1, '/'}, make([]byte, 10)...), // no method
		{'Q', 1, 'G', 1, '/', 0, 0, 0, 0, 0, 2, 0},          // a length without a body
		{'R', 0xc8, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f},     // a header count larger than the payload
		{'R', 0x64, 0},                // status 100
		{'R', 0xe8, 0x07, 0},          // status 1000
		{'R', 0xc8, 0x01, 1, 0, 1, 0}, // an empty header name
	} {
		_, qerr := decodeRequest(p)
		_, rerr := decodeResponse(p, nil)
		if !errors.Is(qerr, errFrame) || !errors.Is(rerr, errFrame) {
			t.Errorf("%d: %v / %v, want malformed", i, qerr, rerr)
		}
	}
	// The reader refuses a length past its bound, or zero, and sees a cut frame.
	for i, tc := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0, 0, 4, 1}, errFrame},
		{[]byte{0, 0, 0, 0}, errFrame},
		{[]byte{0, 0, 0, 9, 'R'}, io.ErrUnexpectedEOF},
		{nil, io.EOF},
	} {
		if _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)), nil, 1<<10); !errors.Is(err, tc.want) {
			t.Errorf("reader %d: %v, want %v", i, err, tc.want)
		}
	}
}

// TestFuzzSeeds checks that the seed corpus reaches past the first checks: the
// well-formed seeds decode. INVITES_WRITE_SEEDS=1 writes them again.
func TestFuzzSeeds(t *testing.T) {
	seeds := map[string][]byte{
		"seed-get": appendRequest(nil, &exchangeRequest{Method: "GET", URI: "/invites_api?key=a%2Fb", Host: "example.com",
			RemoteAddr: "192.0.2.7:41000", Proto: "HTTP/1.1", Timeout: 10 * time.Second,
			Header: http.Header{"Accept": {"application/json"}}}),
		"seed-post-form": appendRequest(nil, &exchangeRequest{Method: "POST", URI: "/invites_api", Host: "example.com",
			RemoteAddr: "192.0.2.7:41000", Proto: "HTTP/1.1", TLS: true, HasBody: true, ContentLength: 8,
			Timeout: 10 * time.Second, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}),
		"seed-created": appendResponse(nil, 201, http.Header{"Location": {"xmpp:example.com?register;preauth=T"}}, nil),
		"seed-problem": appendResponse(nil, 403, http.Header{"Content-Type": {"application/problem+json"}},
			[]byte(`{"type":"about:blank","title":"Forbidden","status":403,"detail":"invalid API key"}`)),
	}
	for name, frame := range seeds {
		path := "testdata/fuzz/FuzzDecodeFrame/" + name
		if os.Getenv("INVITES_WRITE_SEEDS") != "" {
			text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame[frameHeaderLen:])
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
		p := []byte(unquote(t, strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")))
		if p[0] == kindRequest {
			_, err = decodeRequest(p)
		} else {
			_, err = decodeResponse(p, nil)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func unquote(t *testing.T, s string) string {
	t.Helper()
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
