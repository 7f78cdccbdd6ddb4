//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// keyWatch is a counter shared by every process that opens the store: an 8-byte file
// mapped into memory, incremented atomically by key deletions and read with a plain
// atomic load. SQLite's WAL mode already requires every process using the file to run
// on one machine with shared memory, so this holds wherever the store works.
//
// The mapping outlives close, so that a call on a closed store cannot touch unmapped
// memory; it is unmapped once the keyWatch is unreachable.
type keyWatch struct {
	f    *os.File
	n    *atomic.Uint64
	once sync.Once
}

func openKeyWatch(path string) (*keyWatch, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < 8 {
		// Extending a file that another process has just extended keeps its bytes.
		err = f.Truncate(8)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	// The mapping is page-aligned, so the counter is 8-byte aligned.
	w := &keyWatch{f: f, n: (*atomic.Uint64)(unsafe.Pointer(&mem[0]))}
	runtime.AddCleanup(w, func(mem []byte) { _ = syscall.Munmap(mem) }, mem)
	return w, nil
}

func (w *keyWatch) version() uint64 { return w.n.Load() }

func (w *keyWatch) bump() { w.n.Add(1) }

func (w *keyWatch) close() error {
	var err error
	w.once.Do(func() { err = w.f.Close() })
	return err
}
