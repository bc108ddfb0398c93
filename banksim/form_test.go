package banksim

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name, body string
		want       Form
		wantErr    bool
	}{
		{"plain", "a=1&b=2", Form{{"a", "1"}, {"b", "2"}}, false},
		{"order and duplicates kept", "b=2&a=1&b=3", Form{{"b", "2"}, {"a", "1"}, {"b", "3"}}, false},
		{"plus and escapes", "n=a+b%2Bc%7C%5C", Form{{"n", "a b+c|\\"}}, false},
		{"dotted names stay", "EXTRA.TRXDATE=20240517+10%3A00%3A00", Form{{"EXTRA.TRXDATE", "20240517 10:00:00"}}, false},
		{"raw bytes kept", "m=%DE%FD", Form{{"m", "\xde\xfd"}}, false},
		{"empty segments and values", "&a=&&b", Form{{"a", ""}, {"b", ""}}, false},
		{"bad escape", "a=%zz", nil, true},
		{"empty name", "=1", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseForm([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr && !equalForms(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !tc.wantErr {
				again, err := ParseForm([]byte(got.Encode()))
				if err != nil || !equalForms(again, got) {
					t.Errorf("Encode round trip: %q, %v", again, err)
				}
			}
		})
	}
	f, _ := ParseForm([]byte("a=1&b=2&a=3"))
	if f.Duplicate() != "a" || f.Map()["a"] != "1" || f.Value("b") != "2" || f.Has("c") {
		t.Error("accessors")
	}
	f.Set("b", "x")
	f.Set("c", "y")
	f.Del("a")
	if got := strings.Join(f.Names(), ","); got != "b,c" || f.Value("b") != "x" {
		t.Errorf("after Set/Del: %q", f)
	}
}

func equalForms(a, b Form) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAutoPostRoundTrip(t *testing.T) {
	fields := Form{{"a", `x"<>&'y`}, {"ISO", "\xdd\xfe"}, {"EXTRA.CARDBRAND", "VISA"}, {"empty", ""}}
	page := AutoPost{Action: "https://shop.example/ok?a=1&b=2", Fields: fields, Charset: "ISO-8859-9", Lang: "en"}.Render()
	for _, want := range []string{`accept-charset="ISO-8859-9"`, `<meta charset="ISO-8859-9">`, "<button", "submit()", "Continue"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	f, err := FindForm(page)
	if err != nil || f.Action != "https://shop.example/ok?a=1&b=2" || f.Method != "POST" || !equalForms(f.Fields, fields) {
		t.Errorf("FindForm = %+v, %v", f, err)
	}
}

func TestFindForm(t *testing.T) {
	page := `<html><!-- <form action="/no"> --><body><form method=post action='/go' id=x>
<input type="text" name="a" value="1"><INPUT NAME=b VALUE=two/>
<input type="submit" name="s" value="go"><input name="c">
<input type=hidden name="d" value="&amp;&lt;&#39;"></form><form action="/second"><input name="z"></form>`
	f, err := FindForm([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	want := Form{{"a", "1"}, {"b", "two/"}, {"c", ""}, {"d", "&<'"}}
	if f.Action != "/go" || f.Method != "POST" || !equalForms(f.Fields, want) {
		t.Errorf("got %+v", f)
	}
	if _, err := FindForm([]byte("<p>no form</p>")); err == nil {
		t.Error("want an error without a form")
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add([]byte("a=1&b=%DE&c+d=e+f"))
	f.Add([]byte("&&=&%"))
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := ParseForm(body)
		if err != nil {
			return
		}
		again, err := ParseForm([]byte(form.Encode()))
		if err != nil || !equalForms(again, form) {
			t.Fatalf("round trip %q → %q (%v)", form, again, err)
		}
	})
}

func FuzzFindForm(f *testing.F) {
	f.Add([]byte(AutoPost{Action: "https://x/", Fields: Form{{"a", "b"}}}.Render()), "v\"<&")
	f.Fuzz(func(t *testing.T, page []byte, value string) {
		_, _ = FindForm(page)
		// Anything AutoPost writes comes back byte for byte.
		p := AutoPost{Action: "https://x/", Fields: Form{{"n", value}}, Charset: "ISO-8859-9"}.Render()
		got, err := FindForm(p)
		if err != nil || len(got.Fields) != 1 || got.Fields[0].Value != value {
			t.Fatalf("value %q came back as %+v (%v)", value, got.Fields, err)
		}
	})
}
