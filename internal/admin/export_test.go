package admin

// SetPasswordCheck replaces the service's password comparison (tests wrap
// the real one to count and time calls).
func SetPasswordCheck(s *Service, check func(hash, password string) bool) func(hash, password string) bool {
	prev := s.checkPassword
	s.checkPassword = check
	return prev
}

// HashesRunning is the channel of running password hashes' slots.
func HashesRunning(s *Service) chan struct{} { return s.hashes }
