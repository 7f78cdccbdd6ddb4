package plugin

import (
	"bufio"
	"bytes"
	"io"
	"reflect"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary payloads to the frame decoders (the plugin decodes
// what the host sends, the host what the plugin answers) and arbitrary bytes to the
// frame reader and the body reader: none may panic or hold more than the input, and
// whatever decodes encodes back to the same frame content.
//
//	go test -fuzz=FuzzDecodeFrame ./plugin
func FuzzDecodeFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		if r, err := decodeRequest(p); err == nil {
			b := appendRequest(nil, &r)
			r2, err := decodeRequest(b[frameHeaderLen:])
			if err != nil {
				t.Fatalf("re-encoded request does not decode: %v", err)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("request round trip:\n%+v\n%+v", r, r2)
			}
		}
		if r, err := decodeResponse(p, nil); err == nil {
			b := appendResponse(nil, r.Status, r.Header, r.Body)
			r2, err := decodeResponse(b[frameHeaderLen:], nil)
			if err != nil {
				t.Fatalf("re-encoded response does not decode: %v", err)
			}
			if r.Status != r2.Status || !reflect.DeepEqual(r.Header, r2.Header) || !bytes.Equal(r.Body, r2.Body) {
				t.Fatalf("response round trip:\n%+v\n%+v", r, r2)
			}
		}
		body := &bodyReader{br: bufio.NewReader(bytes.NewReader(p))}
		body.reset(true)
		if got, _ := io.ReadAll(body); len(got) > len(p) {
			t.Fatalf("a body of %d bytes from %d", len(got), len(p))
		}
		br := bufio.NewReader(bytes.NewReader(p))
		for {
			payload, err := readFrame(br, nil, 1<<10)
			if err != nil {
				break
			}
			if len(payload) > 1<<10 || len(payload) > len(p) {
				t.Fatalf("payload of %d bytes from %d", len(payload), len(p))
			}
		}
	})
}
