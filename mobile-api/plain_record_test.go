package mobileapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"valise/mobile-api/client"
)

// TestPlainRecordAgreesWithDecoder: the fast reading of a record gives
// what encoding/json gives, and leaves every other spelling to it.
func TestPlainRecordAgreesWithDecoder(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		fast bool
	}{
		{`{"payload":"eyJhIjoxfQ==","signature":"c2ln+/=="}`, true},
		{`{"payload":"","signature":""}`, true},
		{`{"signature":"c2ln","payload":"eyJhIjoxfQ=="}`, false},
		{`{ "payload":"eyJhIjoxfQ==","signature":"c2ln"}`, false},
		{`{"payload":"eyJh\/IjoxfQ==","signature":"c2ln"}`, false},
		{`{"payload":"a\"b","signature":"c2ln"}`, false},
		{`{"payload":"a","signature":"b","extra":1}`, false},
		{`{"payload":"a","signature":"b"}x`, false},
		{`{"payload":"a"}`, false},
		{`[]`, false},
	} {
		got, ok := plainRecord([]byte(tc.raw))
		if ok != tc.fast {
			t.Errorf("%s: fast %v, want %v", tc.raw, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		var want client.Record
		dec := json.NewDecoder(bytes.NewReader([]byte(tc.raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil || got != want {
			t.Errorf("%s: fast %+v, decoder %+v %v", tc.raw, got, want, err)
		}
	}
}
