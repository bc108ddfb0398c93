package est

import (
	"reflect"
	"testing"
)

// plainSeeds are answers parsePlain must take, and near misses it must
// leave to encoding/xml.
var plainSeeds = []string{
	`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Response><ErrMsg>\xDDptal</ErrMsg><Extra><A>1</A><B/></Extra></CC5Response>\n",
	`<?xml version="1.0" encoding="windows-1254"?><CC5Response><ErrMsg>a &amp; b &lt;c&gt; &apos;&quot;</ErrMsg></CC5Response>`,
	`<?xml version="1.0"?><CC5Response><OrderId> x` + "\r\n\r" + `y </OrderId><Extra><A><B>x</B>tail</A></Extra></CC5Response>`,
	`<CC5Response><Extra><A>1</A></Extra><Extra><A>2</A></Extra></CC5Response>`,
	`<CC5Response><ErrMsg>&#73;</ErrMsg></CC5Response>`,
	`<CC5Response><ErrMsg><![CDATA[x]]></ErrMsg></CC5Response>`,
	`<CC5Response a="1"></CC5Response>`,
	`<CC5Response><ErrMsg>x</Errmsg></CC5Response>`,
	`<CC5Response></CC5Response><CC5Response><ProcReturnCode>00</ProcReturnCode></CC5Response>`,
	`<CC5Response><ErrMsg>]]></ErrMsg></CC5Response>`,
	`<CC5Response><ErrMsg>` + "\x01" + `</ErrMsg></CC5Response>`,
	`<?xml version="1.0" encoding="UTF-8"?><CC5Response><ErrMsg>İ</ErrMsg></CC5Response>`,
	`<?xml version="1.1"?><CC5Response/>`,
	`<x:CC5Response></x:CC5Response>`,
	`<CC5Response>`,
}

// The answers of Appendix A that need no character references take the
// plain path, and it gives what encoding/xml gives.
func TestParsePlainFixtures(t *testing.T) {
	plain := 0
	for _, name := range responseFixtures {
		body := readTestdata(t, "responses/"+name+".xml")
		got, ok := parsePlain(body)
		if !ok {
			continue
		}
		plain++
		want, err := parseXML(body)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: plain %+v, encoding/xml %+v (%v)", name, got, want, err)
		}
	}
	if plain < len(responseFixtures)/2 {
		t.Errorf("only %d of %d fixtures took the plain path", plain, len(responseFixtures))
	}
}

// FuzzParsePlain holds parsePlain to encoding/xml: whatever it accepts,
// encoding/xml accepts too, with the same result.
func FuzzParsePlain(f *testing.F) {
	for _, name := range responseFixtures {
		f.Add(readTestdata(f, "responses/"+name+".xml"))
	}
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parsePlain(body)
		if !ok {
			return
		}
		want, err := parseXML(body)
		if err != nil {
			t.Fatalf("plain parse took what encoding/xml refuses (%v): %+v", err, got)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("plain %+v\nencoding/xml %+v", got, want)
		}
	})
}
