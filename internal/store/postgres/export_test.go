package postgres

// ListenerPID returns the backend PID of the store's key listener, 0 before it first
// connects.
func ListenerPID(s *Store) uint32 { return s.listen.pid.Load() }
