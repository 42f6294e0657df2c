package memo

import "testing"

// A Map gives back what was put, and never holds more than its Size.
func TestMapRemembersWithinItsBound(t *testing.T) {
	m := Map[int, string]{Size: 3}
	if _, ok := m.Get(1); ok {
		t.Fatal("an empty map remembers 1")
	}
	for i := range 7 {
		m.Put(i, "v")
		if n := m.Len(); n > 3 {
			t.Fatalf("after %d puts the map holds %d values, bound 3", i+1, n)
		}
		if v, ok := m.Get(i); !ok || v != "v" {
			t.Fatalf("Get(%d) right after Put = %q, %v", i, v, ok)
		}
	}
}
