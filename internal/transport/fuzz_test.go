package transport

import (
	"bufio"
	"bytes"
	"log/slog"
	"reflect"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary payloads to the frame decoders (the plugin decodes
// what the host sends, the host what the plugin answers, log records included) and arbitrary bytes to the
// frame reader: none may panic or hold more than the input, and whatever decodes
// encodes back to the same frame content.
//
//	go test -fuzz=FuzzDecodeFrame ./internal/transport
func FuzzDecodeFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		if r, err := decodeRequest(p); err == nil {
			b := appendRequestHead(nil, &r)
			b = endFrame(append(b, r.Body...))
			r2, err := decodeRequest(b[frameHeaderLen:])
			if err != nil {
				t.Fatalf("re-encoded request does not decode: %v", err)
			}
			if !reflect.DeepEqual(r, r2) && !(len(r.Body) == 0 && len(r2.Body) == 0) {
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
		if rec, err := decodeRecord(p); err == nil {
			// Encoding what decoded, then decoding and encoding that again, gives the
			// same bytes (an empty group or attribute the first encoding drops).
			b1 := appendRecord(nil, nil, recordOf(rec))
			rec2, err := decodeRecord(b1[frameHeaderLen:])
			if err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if b2 := appendRecord(nil, nil, recordOf(rec2)); !bytes.Equal(b1, b2) {
				t.Fatalf("record round trip:\n%q\n%q", b1, b2)
			}
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

// recordOf makes a slog.Record of a decoded record frame.
func recordOf(rec decodedRecord) slog.Record {
	r := slog.NewRecord(rec.Time, rec.Level, rec.Message, 0)
	r.AddAttrs(rec.Attrs...)
	return r
}
