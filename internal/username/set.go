package username

import "fmt"

// DefaultReserved returns the names a server keeps for its operator unless it is
// configured otherwise: the role accounts of RFC 2142 and the names people take for
// the server's own.
func DefaultReserved() []string {
	return []string{"admin", "administrator", "root", "postmaster", "abuse", "support", "security",
		"webmaster", "hostmaster", "xmpp", "www", "noreply"}
}

// Set is a set of names by skeleton, such as the reserved names of a server: it
// answers which of its names a new name looks like.
// The zero value is an empty set. A Set is not changed after NewSet, so it is safe
// for concurrent use.
type Set struct {
	bySkeleton map[string]string // skeleton → the name it came from (the first)
}

// NewSet normalizes names into a Set; it fails on the first name that is not a
// valid username, naming it.
func NewSet(names ...string) (Set, error) {
	s := Set{bySkeleton: make(map[string]string, len(names))}
	for _, n := range names {
		norm, err := Normalize(n)
		if err != nil {
			return Set{}, fmt.Errorf("%q: %w", n, err)
		}
		sk := Skeleton(norm)
		if _, ok := s.bySkeleton[sk]; !ok {
			s.bySkeleton[sk] = norm
		}
	}
	return s, nil
}

// LooksLike returns the name of the set that the normalized name looks like (itself
// when it is in the set), and whether there is one.
func (s Set) LooksLike(name string) (string, bool) {
	n, ok := s.bySkeleton[Skeleton(name)]
	return n, ok
}

// Len returns how many skeletons the set holds.
func (s Set) Len() int { return len(s.bySkeleton) }
