package transport

import (
	"bufio"
	"bytes"
	"errors"
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
		Proto: "HTTP/2.0", TLS: true, Timeout: 1500 * time.Millisecond,
		Header: http.Header{"Authorization": {"Bearer x/y"}, "X-Multi": {"a", "b"}, "Empty": {""}},
		Body:   []byte("username=alice"),
	}
	b := endFrame(append(appendRequestHead(nil, &req), req.Body...))
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

func TestFrameMalformed(t *testing.T) {
	good := endFrame(append(appendRequestHead(nil, &exchangeRequest{Method: "GET", URI: "/", Header: http.Header{"A": {"b"}}}), "body"...))
	for i, p := range [][]byte{
		nil,
		{'R'},
		{'X', 1, 'a'},
		good[frameHeaderLen : len(good)-12], // cut in the header
		append([]byte{'Q', 0, 1, '/'}, make([]byte, 10)...), // no method
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
// well-formed seeds decode.
func TestFuzzSeeds(t *testing.T) {
	for name, kind := range map[string]byte{"seed-post-form": kindRequest, "seed-get": kindRequest,
		"seed-created": kindResponse, "seed-problem": kindResponse, "seed-record": kindRecord} {
		b, err := os.ReadFile("testdata/fuzz/FuzzDecodeFrame/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
		p := []byte(unquote(t, strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")))
		switch kind {
		case kindRequest:
			_, err = decodeRequest(p)
		case kindResponse:
			_, err = decodeResponse(p, nil)
		default:
			_, err = decodeRecord(p)
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
