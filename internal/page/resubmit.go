package page

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"
)

// submissions remembers what each registration form became, for its form token's
// lifetime, by a keyed hash of the form as sent (invite token, form token, username and
// password): the same form sent twice (a double click on a slow connection, a reload
// of the POST) waits for the first sending's outcome and, when it made the account,
// answers the same success page instead of "this invitation is not valid". Register
// is called once per such form; different forms (other fields, another form token)
// go to the host, which still lets exactly one win a single-use invite. Two people
// sharing a multi-use invite never get each other's account: their passwords differ,
// and the key is an HMAC under the form-token key, so that it tells nothing of the
// password without that key.
// Memory is bounded: at most max entries, the oldest forgotten first.
type submissions struct {
	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*list.Element // of *submission
	order *list.List                          // oldest first
	max   int
	ttl   time.Duration
}

// submission is one form token's registration: in flight until done is closed.
type submission struct {
	key     [sha256.Size]byte
	expires time.Time
	done    chan struct{}
	// Set before done is closed:
	ok  bool    // the account was made
	acc Account // the account
	inv Invite  // the invite it was made with, for the success page
}

// newSubmissions remembers at most max form tokens, each for ttl.
func newSubmissions(max int, ttl time.Duration) *submissions {
	return &submissions{byKey: make(map[[sha256.Size]byte]*list.Element), order: list.New(), max: max, ttl: ttl}
}

// submissionKey is the key of a form as sent; none of its fields is kept.
func submissionKey(key []byte, f registerForm) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{"invites-page-submission", f.Token, f.CSRF, f.Username, f.Password} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// get returns the registration of key, in flight or made, if any.
func (s *submissions) get(key [sha256.Size]byte, now time.Time) *submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if e, ok := s.byKey[key]; ok {
		return e.Value.(*submission)
	}
	return nil
}

// begin starts the registration of key and reports true, or returns the one already
// started and false.
func (s *submissions) begin(key [sha256.Size]byte, now time.Time) (*submission, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if e, ok := s.byKey[key]; ok {
		return e.Value.(*submission), false
	}
	for s.order.Len() >= s.max {
		s.remove(s.order.Front())
	}
	sub := &submission{key: key, expires: now.Add(s.ttl), done: make(chan struct{})}
	s.byKey[key] = s.order.PushBack(sub)
	return sub, true
}

// finish records the outcome of sub and wakes those waiting for it; a registration
// that made no account is forgotten, so that the form can be sent again.
func (s *submissions) finish(sub *submission, ok bool, acc Account, inv Invite) {
	inv.URI = "" // it holds the token, which is not kept
	sub.ok, sub.acc, sub.inv = ok, acc, inv
	close(sub.done)
	if ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, found := s.byKey[sub.key]; found && e.Value.(*submission) == sub {
		s.remove(e)
	}
}

// len returns how many form tokens are remembered.
func (s *submissions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// expire forgets the expired entries; s.mu is held.
func (s *submissions) expire(now time.Time) {
	for e := s.order.Front(); e != nil && !now.Before(e.Value.(*submission).expires); e = s.order.Front() {
		s.remove(e)
	}
}

// remove forgets one entry; s.mu is held.
func (s *submissions) remove(e *list.Element) {
	delete(s.byKey, e.Value.(*submission).key)
	s.order.Remove(e)
}
