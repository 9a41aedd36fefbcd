package chunks

// Corrupt replaces the bytes stored for h, for the conformance suite.
func (s *MemoryStorage) Corrupt(h Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := append([]byte(nil), s.chunks[h]...)
	d[len(d)-1] ^= 0xff
	s.chunks[h] = d
}
