package testlog_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/internal/testlog"
)

func TestBuffer(t *testing.T) {
	var b testlog.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d level=INFO\n", i) })
	}
	wg.Wait()
	if got := len(b.Lines()); got != 8 {
		t.Errorf("%d lines, want 8:\n%s", got, b.String())
	}
	if got := b.Lines("line 3", "INFO"); !slices.Equal(got, []string{"line 3 level=INFO"}) {
		t.Errorf("Lines(line 3, INFO) = %q", got)
	}
	if got := b.Lines("line 3", "ERROR"); len(got) != 0 {
		t.Errorf("Lines(line 3, ERROR) = %q", got)
	}
}
