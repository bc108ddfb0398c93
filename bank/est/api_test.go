package est

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/bank"
)

// responseFixtures are the CC5Response answers of Appendix A.
var responseFixtures = []string{"EST-F1", "EST-F2", "EST-F6", "EST-F7", "EST-F8", "EST-F11", "EST-F12", "EST-F13", "EST-F14",
	"EST-F15", "EST-F16", "EST-F17", "EST-F18", "EST-F19", "EST-F20", "EST-F21", "EST-F22"}

func TestEncode(t *testing.T) {
	// The §1.7 serializer sample, without the elements this adapter never
	// sends (Email, UserId and the card's Expires/Cvv2Val: its only Auth is
	// the 3d provisioning, which identifies the card by md). The rest must
	// match byte for byte, in the library's element order.
	sample := readTestdata(t, "serializer/request_sample.xml")
	trimmed := regexp.MustCompile(`<(Email|UserId|Expires|Cvv2Val)>[^<]*</(Email|UserId|Expires|Cvv2Val)>`).ReplaceAll(sample, nil)
	if bytes.Equal(trimmed, sample) || !bytes.HasPrefix(sample, []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`+"\n<CC5Request>")) {
		t.Fatal("unexpected serializer sample")
	}
	cases := []struct {
		name string
		req  cc5Request
		want string
	}{
		{"serializer sample", cc5Request{Name: "ISBANKAPI", Password: "ISBANK07", ClientID: "700655000200", Type: "Auth", OrderID: "order222",
			Total: "100.25", Currency: "949", Taksit: ptr(""), Number: "5555444433332222", Mode: "P"}, string(trimmed)},
		{"provisioning", cc5Request{Name: "U", Password: "P", ClientID: "C", Type: "PreAuth", IPAddress: "10.0.0.1", OrderID: "O", Total: "1.01", Currency: "949",
			Taksit: ptr("3"), Number: "md", PayerTxnID: "xid", PayerSecurityLevel: "05", PayerAuthenticationCode: "cavv", Mode: "P"},
			`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n" + `<CC5Request><Name>U</Name><Password>P</Password><ClientId>C</ClientId><Type>PreAuth</Type><IPAddress>10.0.0.1</IPAddress><OrderId>O</OrderId><Total>1.01</Total><Currency>949</Currency><Taksit>3</Taksit><Number>md</Number><PayerTxnId>xid</PayerTxnId><PayerSecurityLevel>05</PayerSecurityLevel><PayerAuthenticationCode>cavv</PayerAuthenticationCode><Mode>P</Mode></CC5Request>`},
		{"void: no IPAddress, no Taksit", cc5Request{Name: "U", Password: "P", ClientID: "C", Type: "Void", IPAddress: "10.0.0.1", OrderID: "O"},
			`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n" + `<CC5Request><Name>U</Name><Password>P</Password><ClientId>C</ClientId><Type>Void</Type><OrderId>O</OrderId></CC5Request>`},
		{"query", cc5Request{Name: "U", Password: "P", ClientID: "C", OrderID: "O", Extra: [][2]string{{"ORDERSTATUS", "QUERY"}}},
			`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n" + `<CC5Request><Name>U</Name><Password>P</Password><ClientId>C</ClientId><OrderId>O</OrderId><Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra></CC5Request>`},
		{"empty credentials are still sent", cc5Request{OrderID: "O"},
			`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n" + `<CC5Request><Name></Name><Password></Password><ClientId></ClientId><OrderId>O</OrderId></CC5Request>`},
		{"escaping", cc5Request{Name: `a<b&c>"d'`, Password: "p\tq", ClientID: "C", OrderID: "O"},
			`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n" + `<CC5Request><Name>a&lt;b&amp;c&gt;&#34;d&#39;</Name><Password>p&#x9;q</Password><ClientId>C</ClientId><OrderId>O</OrderId></CC5Request>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestEncodeISO8859_9(t *testing.T) {
	cases := []struct {
		name, in string
		want     []byte // the element's bytes on the wire
	}{
		{"Turkish letters", "ŞİĞÜÖÇ şığüöç", []byte{0xDE, 0xDD, 0xD0, 0xDC, 0xD6, 0xC7, ' ', 0xFE, 0xFD, 0xF0, 0xFC, 0xF6, 0xE7}},
		{"Latin-1 letters ISO-8859-9 keeps", "é ä", []byte{0xE9, ' ', 0xE4}},
		{"outside ISO-8859-9 becomes ?", "İ€😀", []byte{0xDD, '?', '?'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (&cc5Request{Name: tc.in, OrderID: "O"}).encode()
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte("<Name>"), tc.want...), "</Name>"...)
			if !bytes.Contains(out, want) {
				t.Fatalf("%q does not contain %q", out, want)
			}
			back, err := charmap.ISO8859_9.NewDecoder().Bytes(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(back, []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`)) {
				t.Fatal("declaration")
			}
		})
	}
}

// wantResponse is the expected parse stored next to each fixture.
type wantResponse struct {
	OrderID        string            `json:"OrderId"`
	GroupID        string            `json:"GroupId"`
	Response       string            `json:"Response"`
	AuthCode       string            `json:"AuthCode"`
	HostRefNum     string            `json:"HostRefNum"`
	ProcReturnCode string            `json:"ProcReturnCode"`
	TransID        string            `json:"TransId"`
	ErrMsg         string            `json:"ErrMsg"`
	Extra          map[string]string `json:"Extra"`
}

func (w *wantResponse) resp() *cc5Response {
	return &cc5Response{OrderID: w.OrderID, GroupID: w.GroupID, Response: w.Response, AuthCode: w.AuthCode, HostRefNum: w.HostRefNum,
		ProcReturnCode: w.ProcReturnCode, TransID: w.TransID, ErrMsg: w.ErrMsg, Extra: w.Extra}
}

func TestParseResponseFixtures(t *testing.T) {
	for _, name := range responseFixtures {
		t.Run(name, func(t *testing.T) {
			body := readTestdata(t, "responses/"+name+".xml")
			if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`)) {
				t.Fatal("not in wire form")
			}
			var w wantResponse
			if err := json.Unmarshal(readTestdata(t, "responses/"+name+".json"), &w); err != nil {
				t.Fatal(err)
			}
			got, err := parseResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w.resp()) {
				t.Fatalf("\n got %+v\nwant %+v", got, w.resp())
			}
		})
	}
}

func TestParseResponseDetails(t *testing.T) {
	t.Run("ISO-8859-9 bytes decode", func(t *testing.T) {
		r, err := parseResponse(readTestdata(t, "responses/EST-F8.xml"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Extra["CARDISSUER"] != "ZİRAAT BANKASI" {
			t.Fatalf("CARDISSUER %q", r.Extra["CARDISSUER"])
		}
		if !bytes.Contains(readTestdata(t, "responses/EST-F8.xml"), []byte("Z\xddRAAT")) {
			t.Fatal("fixture is not ISO-8859-9")
		}
		r, err = parseResponse(readTestdata(t, "responses/EST-F17.xml"))
		if err != nil || r.ErrMsg != "İptal edilmeye uygun satış işlemi bulunamadı." {
			t.Fatalf("%q %v", r.ErrMsg, err)
		}
	})
	t.Run("TABs kept", func(t *testing.T) {
		r, err := parseResponse(readTestdata(t, "responses/EST-F22.xml"))
		if err != nil {
			t.Fatal(err)
		}
		cols := strings.Split(r.Extra["TRX2"], "\t")
		if len(cols) != 11 || cols[0] != "S" || cols[1] != "V" || cols[10] != "24002V29G19979" {
			t.Fatalf("TRX2 columns %q", cols)
		}
		if cols := strings.Split(r.Extra["TRX1"], "\t"); len(cols) != 11 || cols[7] != "" || cols[9] != "99" {
			t.Fatalf("TRX1 columns %q", cols)
		}
	})
	t.Run("serializer sample, character reference", func(t *testing.T) {
		r, err := parseResponse(readTestdata(t, "serializer/provision_response.xml"))
		if err != nil {
			t.Fatal(err)
		}
		want := &cc5Response{OrderID: "20230910AF6A", GroupID: "20230910AF6A", Response: "Approved", AuthCode: "P18552", HostRefNum: "325300733333",
			ProcReturnCode: "00", TransID: "23253WkfD10806", ErrMsg: "", Extra: map[string]string{
				"SETTLEID": "2589", "TRXDATE": "20230910 22:36:30", "ERRORCODE": "", "TERMINALID": "00655020", "MERCHANTID": "655000200",
				"CARDBRAND": "VISA", "CARDISSUER": "ZİRAAT BANKASI", "AVSAPPROVE": "Y", "HOSTDATE": "0910-223632",
				"AVSERRORCODEDETAIL": "avshatali-avshatali-avshatali-avshatali-", "NUMCODE": "00"}}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("\n got %+v\nwant %+v", r, want)
		}
	})

	ok := []struct {
		name string
		body []byte
		want *cc5Response
	}{
		{"UTF-8 declared", []byte(`<?xml version="1.0" encoding="UTF-8"?><CC5Response><ProcReturnCode>99</ProcReturnCode><ErrMsg>İptal edilmeye uygun satış işlemi bulunamadı.</ErrMsg><Extra><CARDISSUER>ZİRAAT BANKASI</CARDISSUER></Extra></CC5Response>`),
			&cc5Response{ProcReturnCode: "99", ErrMsg: "İptal edilmeye uygun satış işlemi bulunamadı.", Extra: map[string]string{"CARDISSUER": "ZİRAAT BANKASI"}}},
		{"utf8 label", []byte(`<?xml version="1.0" encoding="utf8"?><CC5Response><ErrMsg>ş</ErrMsg></CC5Response>`), &cc5Response{ErrMsg: "ş", Extra: map[string]string{}}},
		{"no declaration", []byte(`<CC5Response><Response>Approved</Response></CC5Response>`), &cc5Response{Response: "Approved", Extra: map[string]string{}}},
		{"lower-case ISO label", []byte("<?xml version=\"1.0\" encoding=\"iso-8859-9\"?><CC5Response><ErrMsg>\xdd\xfe</ErrMsg></CC5Response>"), &cc5Response{ErrMsg: "İş", Extra: map[string]string{}}},
		{"windows-1254 label", []byte("<?xml version=\"1.0\" encoding=\"windows-1254\"?><CC5Response><ErrMsg>\x80 \xdd</ErrMsg></CC5Response>"), &cc5Response{ErrMsg: "€ İ", Extra: map[string]string{}}},
		{"whitespace trimmed, CDATA, entities", []byte("<CC5Response>\n <ErrMsg> <![CDATA[a<b]]> &amp; c \n</ErrMsg>\n <Extra>\n  <X>\t1\t</X>\n </Extra>\n</CC5Response>\n"),
			&cc5Response{ErrMsg: "a<b & c", Extra: map[string]string{"X": "1"}}},
		{"deeper elements ignored", []byte(`<CC5Response><Extra><A><B>x</B></A></Extra><OrderId>o<i>n</i></OrderId></CC5Response>`),
			&cc5Response{OrderID: "", Extra: map[string]string{"A": ""}}},
		{"self-closing elements", []byte(`<CC5Response><AuthCode/><Extra/></CC5Response>`), &cc5Response{Extra: map[string]string{}}},
		{"unknown top-level elements ignored", []byte(`<CC5Response><ERRORCODE>x</ERRORCODE><RESULT>Successfull</RESULT></CC5Response>`), &cc5Response{Extra: map[string]string{}}},
		{"comments and processing instructions", []byte(`<?xml version="1.0"?><!-- c --><CC5Response><!-- d --><TransId>t</TransId></CC5Response><!-- e -->`),
			&cc5Response{TransID: "t", Extra: map[string]string{}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseResponse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, tc.want) {
				t.Fatalf("\n got %+v\nwant %+v", r, tc.want)
			}
		})
	}

	f1 := readTestdata(t, "responses/EST-F1.xml")
	bad := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"whitespace", []byte(" \n")},
		{"WAF HTML page", readTestdata(t, "waf.html")},
		{"WAF text", []byte("The requested URL was rejected. Please consult with your administrator.<br><br>Your support ID is: 1234567890")},
		{"JSON", []byte(`{"ProcReturnCode":"00"}`)},
		{"truncated in an element", f1[:len(f1)/2]},
		{"truncated before the root ends", bytes.TrimSuffix(bytes.TrimSpace(f1), []byte("</CC5Response>"))},
		{"truncated after the declaration", []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`)},
		{"wrong root", []byte(`<?xml version="1.0" encoding="ISO-8859-9"?><CC5Request><ProcReturnCode>00</ProcReturnCode></CC5Request>`)},
		{"PayFor root", []byte(`<?xml version="1.0" encoding="utf-8"?><PayforResponse><ProcReturnCode>00</ProcReturnCode></PayforResponse>`)},
		{"second root", []byte(`<CC5Response><ProcReturnCode>99</ProcReturnCode></CC5Response><Other><ProcReturnCode>00</ProcReturnCode></Other>`)},
		{"mismatched tags", []byte(`<CC5Response><ProcReturnCode>00</Response></CC5Response>`)},
		{"unknown charset", []byte(`<?xml version="1.0" encoding="EBCDIC"?><CC5Response></CC5Response>`)},
		{"undeclared ISO-8859-9 bytes", []byte("<CC5Response><ErrMsg>\xdd</ErrMsg></CC5Response>")},
		{"undefined entity", []byte(`<CC5Response><ErrMsg>&nbsp;</ErrMsg></CC5Response>`)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseResponse(tc.body)
			if !errors.Is(err, bank.ErrMalformed) {
				t.Fatalf("err = %v, r = %+v; want ErrMalformed", err, r)
			}
			if r != nil {
				t.Fatal("a result with the error")
			}
		})
	}
}
