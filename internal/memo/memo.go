// Package memo is a bounded in-process map for facts that never change once
// known (a signature that verified, a hand-off's bag): the hot paths that
// would otherwise ask again on every request remember them here.
package memo

import "sync"

// Map remembers at most Size values (DefaultSize when zero) and forgets them
// all when full: a simple bound for a working set, with no eviction order
// to keep. The zero value is ready; a Map is safe for concurrent use.
type Map[K comparable, V any] struct {
	Size int

	mu sync.Mutex
	m  map[K]V
}

// DefaultSize is a Map's bound when Size is zero.
const DefaultSize = 1 << 14

// Get returns the value remembered for k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[k]
	return v, ok
}

// Put remembers v for k.
func (m *Map[K, V]) Put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	size := m.Size
	if size <= 0 {
		size = DefaultSize
	}
	if m.m == nil || len(m.m) >= size {
		m.m = make(map[K]V, 64)
	}
	m.m[k] = v
}

// Len is how many values are remembered.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
