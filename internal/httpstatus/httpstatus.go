package httpstatus

import "net/http"

// Writer is an http.ResponseWriter that remembers the status written through it.
type Writer struct {
	http.ResponseWriter
	code int
}

// NewWriter returns a Writer over w.
func NewWriter(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w} }

// WriteHeader implements http.ResponseWriter; the first code written is remembered.
func (w *Writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter: a write before any WriteHeader is a 200, as
// net/http answers it.
func (w *Writer) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the writer underneath, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status returns the status written so far: 200 when the handler wrote nothing, as
// net/http then answers.
func (w *Writer) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
