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

// TestSplitRecordsAgreesWithDecoder: a batch body split by its brackets
// gives the records encoding/json gives; any other shape is left to it.
func TestSplitRecordsAgreesWithDecoder(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"records":[{"payload":"a","signature":"b"},{"payload":"c}{","signature":"d\"}"}]}`, true},
		{" {\n \"records\" : [ {\"x\":[1,{\"y\":\"]\"}]} , {} ] } \n", true},
		{`{"records":[]}`, true},
		{`{"records":[1]}`, false},
		{`{"records":[{}],"extra":1}`, false},
		{`{"extra":1,"records":[{}]}`, false},
		{`{"records":null}`, false},
		{`{"records":[{}]}x`, false},
		{`{"records":[{},]}`, false},
	} {
		got, ok := splitRecords([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("%s: fast %v, want %v", tc.body, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		var want syncRequest
		if err := json.Unmarshal([]byte(tc.body), &want); err != nil || len(got) != len(want.Records) {
			t.Fatalf("%s: %d records, decoder %d %v", tc.body, len(got), len(want.Records), err)
		}
		for i := range got {
			if !bytes.Equal(got[i], want.Records[i]) {
				t.Errorf("%s: record %d %s, decoder %s", tc.body, i, got[i], want.Records[i])
			}
		}
	}
}
