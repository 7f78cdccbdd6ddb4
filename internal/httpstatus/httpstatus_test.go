package httpstatus_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xmpp-invites/invites/internal/httpstatus"
)

func TestWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(http.ResponseWriter)
		want    int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) }, http.StatusCreated},
		{"first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
		}, http.StatusNotFound},
		{"status after a body", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("x"))
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := httpstatus.NewWriter(rec)
			tc.handler(w)
			if got := w.Status(); got != tc.want || rec.Code != tc.want {
				t.Errorf("Status %d, recorder %d, want %d", got, rec.Code, tc.want)
			}
			if http.NewResponseController(w).Flush() != nil {
				t.Error("ResponseController does not reach the writer underneath")
			}
		})
	}
}
