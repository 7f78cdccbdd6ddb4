package plugin

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Frames of the data path.
//
// Each exchange is a request frame from the host, the request's body as body frames
// when it has one, then one response frame from the plugin, on a unix stream socket
// that carries one exchange at a time.
// A frame is a 4-byte big-endian payload length, then the payload:
//
//	request:   'Q' method uri host remote proto flags timeout length header…
//	body:      'B' bytes  (at most chunkBytes; an empty one ends the body)
//	response:  'R' status header… body
//
// where a string is its uvarint length then its bytes, flags a byte (bit 0: the client
// used TLS; bit 1: body frames follow), timeout a uvarint of milliseconds the host
// waits for the answer (0: no bound), length the body's Content-Length as a varint
// (-1: unknown), the header a uvarint count of names, each a string then a uvarint
// count of values, each a string; a response's body is the rest of its payload.
// Nothing else is in a frame: no TLS (the socket never leaves the machine), no flow
// control (both sides bound what they hold), no multiplexing (one exchange per socket
// at a time).

const (
	frameHeaderLen = 4
	kindRequest    = 'Q'
	kindBody       = 'B'
	kindResponse   = 'R'
	flagTLS        = 1
	flagBody       = 2
	// chunkBytes bounds a body frame's bytes.
	chunkBytes = 16 << 10
)

// errFrame is wrapped by every decoding failure.
var errFrame = errors.New("malformed frame")

// frameError returns a decoding failure.
func frameError(what string) error { return fmt.Errorf("%w: %s", errFrame, what) }

// exchangeRequest is a request frame's content.
type exchangeRequest struct {
	Method, URI, Host, RemoteAddr, Proto string
	TLS                                  bool
	HasBody                              bool // body frames follow
	Timeout                              time.Duration
	ContentLength                        int64 // -1: unknown
	Header                               http.Header
}

// exchangeResponse is a response frame's content.
type exchangeResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// beginFrame appends room for the length and the kind to b.
func beginFrame(b []byte, kind byte) []byte {
	return append(b, 0, 0, 0, 0, kind)
}

// endFrameAt writes the payload length of the frame that starts at b[start], after
// other frames.
func endFrameAt(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-frameHeaderLen))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendHeader(b []byte, h http.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(h)))
	for k, vs := range h {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

// appendRequest appends a request frame.
func appendRequest(b []byte, r *exchangeRequest) []byte {
	start := len(b)
	b = beginFrame(b, kindRequest)
	b = appendString(b, r.Method)
	b = appendString(b, r.URI)
	b = appendString(b, r.Host)
	b = appendString(b, r.RemoteAddr)
	b = appendString(b, r.Proto)
	var flags byte
	if r.TLS {
		flags |= flagTLS
	}
	if r.HasBody {
		flags |= flagBody
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(max(r.Timeout, 0)/time.Millisecond))
	b = binary.AppendVarint(b, max(r.ContentLength, -1))
	b = appendHeader(b, r.Header)
	return endFrameAt(b, start)
}

// appendBody appends a body frame of up to chunkBytes read from body, and reports
// whether body is at its end; then it appends the empty body frame that ends it too.
// It fails with the reader's error, or when body was already at its end.
func appendBody(b []byte, body io.Reader) (_ []byte, end bool, err error) {
	start := len(b)
	b = slices.Grow(beginFrame(b, kindBody), chunkBytes)
	for empty := 0; len(b)-start-frameHeaderLen-1 < chunkBytes; {
		room := b[len(b) : start+frameHeaderLen+1+chunkBytes]
		n, rerr := body.Read(room)
		b = b[:len(b)+n]
		if errors.Is(rerr, io.EOF) {
			end = true
			break
		}
		if rerr == nil && n == 0 {
			if empty++; empty == 100 {
				rerr = io.ErrNoProgress
			}
		}
		if rerr != nil {
			return b[:start], false, rerr
		}
	}
	if len(b) > start+frameHeaderLen+1 {
		b = endFrameAt(b, start)
	} else {
		b = b[:start]
	}
	if end {
		at := len(b)
		b = endFrameAt(beginFrame(b, kindBody), at)
	}
	return b, end, nil
}

// appendResponse appends a whole response frame.
func appendResponse(b []byte, status int, h http.Header, body []byte) []byte {
	start := len(b)
	b = beginFrame(b, kindResponse)
	b = binary.AppendUvarint(b, uint64(status))
	b = appendHeader(b, h)
	b = append(b, body...)
	return endFrameAt(b, start)
}

// decoder reads the fields of a payload; the first failure sticks.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = frameError(what)
	}
	d.p = nil
}

func (d *decoder) uvarint(what string) uint64 { return readVarint(d, what, binary.Uvarint) }

func (d *decoder) varint(what string) int64 { return readVarint(d, what, binary.Varint) }

// readVarint reads a number with read (binary.Uvarint or binary.Varint).
func readVarint[T int64 | uint64](d *decoder, what string, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.p)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.p) == 0 {
		d.fail(what)
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *decoder) string(what string) string {
	return string(d.bytes(what))
}

// bytes reads a string's bytes, aliasing the payload.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.p)) {
		d.fail(what)
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}

// method reads a request method; the common ones cost no allocation.
func (d *decoder) method() string {
	b := d.bytes("method")
	switch string(b) { // compared without a copy
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodHead:
		return http.MethodHead
	}
	return string(b)
}

// proto reads a protocol version; the common ones cost no allocation.
func (d *decoder) proto() string {
	b := d.bytes("protocol")
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(b)
}

// header reads a header into h (made when nil).
// Each name and value takes at least one byte, so a count larger than what is left is
// refused before anything is allocated for it; and all the names and values are
// substrings of one string, their value lists parts of one slice: a header costs a
// few allocations, whatever its size.
func (d *decoder) header(h http.Header) http.Header {
	if d.err != nil {
		return h
	}
	// First pass: check the layout, find the header's end, count the values.
	start := d.p
	names, values := d.uvarint("header count"), uint64(0)
	if d.err == nil && names > uint64(len(d.p)) {
		d.fail("header count")
	}
	for i := uint64(0); i < names && d.err == nil; i++ {
		if d.skipString("header name") == 0 && d.err == nil {
			d.fail("empty header name")
		}
		m := d.uvarint("header value count")
		if d.err == nil && m > uint64(len(d.p)) {
			d.fail("header value count")
		}
		for j := uint64(0); j < m && d.err == nil; j++ {
			d.skipString("header value")
		}
		values += m
	}
	if d.err != nil {
		return h
	}
	block := string(start[:len(start)-len(d.p)])
	rest := d.p
	// Second pass, over the string, which is known to be well formed.
	b := decoder{p: start[:len(block)]}
	off := func() int { return len(block) - len(b.p) }
	sub := func() string {
		n := int(b.uvarint(""))
		i := off()
		b.p = b.p[n:]
		return block[i : i+n]
	}
	if h == nil {
		h = make(http.Header, names)
	}
	vals := make([]string, 0, values)
	b.uvarint("")
	for range names {
		k := sub()
		m := int(b.uvarint(""))
		first := len(vals)
		for range m {
			vals = append(vals, sub())
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, vals[first:]...)
		} else {
			h[k] = vals[first:len(vals):len(vals)]
		}
	}
	d.p = rest
	return h
}

// skipString passes over a string, returning its length.
func (d *decoder) skipString(what string) int {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.p)) {
		d.fail(what)
		return 0
	}
	d.p = d.p[n:]
	return int(n)
}

// decodeRequest decodes a request payload.
func decodeRequest(p []byte) (exchangeRequest, error) {
	d := decoder{p: p}
	if d.byte("kind") != kindRequest {
		d.fail("not a request")
	}
	var r exchangeRequest
	r.Method = d.method()
	r.URI = d.string("request URI")
	r.Host = d.string("host")
	r.RemoteAddr = d.string("remote address")
	r.Proto = d.proto()
	flags := d.byte("flags")
	ms := d.uvarint("timeout")
	r.ContentLength = d.varint("content length")
	r.Header = d.header(nil)
	if d.err == nil && len(d.p) > 0 {
		d.fail("bytes after the header")
	}
	if d.err != nil {
		return exchangeRequest{}, d.err
	}
	if r.Method == "" || r.URI == "" {
		return exchangeRequest{}, frameError("no method or request URI")
	}
	if ms > uint64(24*time.Hour/time.Millisecond) {
		return exchangeRequest{}, frameError("timeout")
	}
	r.TLS = flags&flagTLS != 0
	r.HasBody = flags&flagBody != 0
	if r.ContentLength < -1 || !r.HasBody && r.ContentLength > 0 {
		return exchangeRequest{}, frameError("content length")
	}
	r.Timeout = time.Duration(ms) * time.Millisecond
	return r, nil
}

// decodeResponse decodes a response payload, adding its header fields to h (made when
// nil); Body aliases p. On failure h may hold some of the fields.
func decodeResponse(p []byte, h http.Header) (exchangeResponse, error) {
	d := decoder{p: p}
	if d.byte("kind") != kindResponse {
		d.fail("not a response")
	}
	status := d.uvarint("status")
	h = d.header(h)
	if d.err != nil {
		return exchangeResponse{}, d.err
	}
	if status < 200 || status > 999 {
		return exchangeResponse{}, frameError("status")
	}
	return exchangeResponse{Status: int(status), Header: h, Body: d.p}, nil
}

// readFrame reads one frame's payload from r into buf (grown as needed), refusing a
// payload longer than limit.
func readFrame(r *bufio.Reader, buf []byte, limit int) ([]byte, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > limit || n < 1 {
		return buf, frameError(fmt.Sprintf("payload of %d bytes", n))
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}
