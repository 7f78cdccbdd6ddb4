package core

import (
	"crypto/subtle"
	"sync"
	"time"
)

// DefaultKeyCacheTTL is how long a successful authentication may be served from memory
// at most, whatever the store's invalidation says: a safety net should a notification
// be lost.
const DefaultKeyCacheTTL = 10 * time.Second

// maxCachedKeys bounds the key cache; when it is full it is emptied.
const maxCachedKeys = 4096

// keyCache remembers keys that authenticated successfully, so that repeated requests
// with one key need no store read.
// An entry is used only while the store's KeysVersion is what it was before the read
// that filled it, the store vouches for that version, and the entry is younger than
// ttl; only a matching secret is served from it, so that a wrong secret costs the same
// store read as an unknown ID.
type keyCache struct {
	watch Store // nil: no cache
	ttl   time.Duration

	mu      sync.RWMutex
	entries map[string]cachedKey
}

type cachedKey struct {
	key     Key
	version uint64
	at      time.Time
}

func newKeyCache(st Store, ttl time.Duration) *keyCache {
	c := &keyCache{ttl: ttl, entries: make(map[string]cachedKey)}
	if ttl > 0 {
		c.watch = st
	}
	return c
}

// version returns the store's key version before a read, and whether an entry made
// from that read may be cached.
func (c *keyCache) version() (uint64, bool) {
	if c.watch == nil {
		return 0, false
	}
	return c.watch.KeysVersion()
}

// get returns the cached key with that ID if its secret hash matches and the entry is
// still trustworthy at now.
func (c *keyCache) get(id string, secretHash []byte, now time.Time) (Key, bool) {
	if c.watch == nil {
		return Key{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare(e.key.SecretHash, secretHash) != 1 {
		return Key{}, false
	}
	if age := now.Sub(e.at); age < 0 || age >= c.ttl {
		return Key{}, false
	}
	if v, ok := c.watch.KeysVersion(); !ok || v != e.version {
		return Key{}, false
	}
	return e.key, true
}

// put caches a key read at now, when version (taken before the read) could be vouched
// for.
func (c *keyCache) put(k Key, version uint64, ok bool, now time.Time) {
	if c.watch == nil || !ok {
		return
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedKeys {
		clear(c.entries)
	}
	c.entries[k.ID] = cachedKey{key: k, version: version, at: now}
	c.mu.Unlock()
}

// drop forgets a key.
func (c *keyCache) drop(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
