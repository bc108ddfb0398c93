package allowlist

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string // substring of the error; "" = success
	}{
		// case and dots
		{name: "lower-cases ASCII", in: "SanalPos.HalkBank.com.TR", want: "sanalpos.halkbank.com.tr"},
		{name: "trims one trailing dot", in: "vpos.qnbfinansbank.com.", want: "vpos.qnbfinansbank.com"},
		{name: "two trailing dots refused", in: "bank.example..", wantErr: "empty label"},
		{name: "only a dot refused", in: ".", wantErr: "only a dot"},
		{name: "leading dot refused", in: ".bank.example", wantErr: "empty label"},
		{name: "double dot refused", in: "bank..example", wantErr: "empty label"},
		{name: "single-label localhost", in: "LOCALHOST", want: "localhost"},
		{name: "ideographic full stop is a dot", in: "example。com", want: "example.com"},
		{name: "trailing ideographic full stop trimmed", in: "bank.example。", want: "bank.example"},

		// ports
		{name: "keeps port", in: "onlineodeme.vakifbank.com.tr:4443", want: "onlineodeme.vakifbank.com.tr:4443"},
		{name: "trailing dot with port", in: "cpweb.vakifbank.com.tr.:443", want: "cpweb.vakifbank.com.tr:443"},
		{name: "leading zeros of port dropped", in: "bank.example:0443", want: "bank.example:443"},
		{name: "highest port", in: "bank.example:65535", want: "bank.example:65535"},
		{name: "port 0 refused", in: "bank.example:0", wantErr: "out of range"},
		{name: "port 65536 refused", in: "bank.example:65536", wantErr: "out of range"},
		{name: "six-digit port refused", in: "bank.example:100000", wantErr: "not a number from 1 to 65535"},
		{name: "empty port refused", in: "bank.example:", wantErr: "port after : is empty"},
		{name: "named port refused", in: "bank.example:https", wantErr: "not a number"},
		{name: "signed port refused", in: "bank.example:+443", wantErr: "not a number"},
		{name: "no host before port refused", in: ":443", wantErr: "no host name"},

		// IDN
		{name: "IDN Turkish to punycode", in: "ödeme.örnek.tr", want: "xn--deme-4qa.xn--rnek-4qa.tr"},
		{name: "IDN upper-case Turkish", in: "ÖDEME.com.tr", want: "xn--deme-4qa.com.tr"},
		{name: "IDN with port", in: "bücher.example:8443", want: "xn--bcher-kva.example:8443"},
		{name: "punycode kept and lower-cased", in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
		{name: "punycode of another script taken as written", in: "xn--mgbh0fb.xn--kgbechtv", want: "xn--mgbh0fb.xn--kgbechtv"},
		{name: "invalid punycode refused", in: "xn--a.example", wantErr: "not a valid host name"},
		{name: "punycode of plain ASCII refused", in: "xn--abc-.example", wantErr: "not a valid host name"},
		{name: "empty punycode label refused", in: "xn--.example", wantErr: "empty label"},
		{name: "IDN Arabic to punycode", in: "مثال.example", want: "xn--mgbh0fb.example"},
		{name: "IDN German sharp s kept (non-transitional)", in: "straße.de", want: "xn--strae-oqa.de"},
		// Found by FuzzNormalizeHost: U+2138 maps to a right-to-left letter,
		// and x/net/idna checks the bidi rule before mapping.
		{name: "IDN mixing directions after mapping refused", in: "ℸa.example", wantErr: "not a valid host name"},
		{name: "IDN mixing directions refused", in: "דa.example", wantErr: "not a valid host name"},
		{name: "IDN right-to-left label kept", in: "דא.example", want: "xn--4dbf.example"},
		{name: "dotted capital I maps to i with combining dot (UTS 46)", in: "İstanbul.example", want: "xn--istanbul-o0e.example"},
		{name: "fullwidth letters map to ASCII", in: "ｂａｎｋ.example", want: "bank.example"},
		{name: "zero-width joiner refused", in: "a\u200db.example", wantErr: "not a valid host name"},
		{name: "STD3-disallowed symbol refused", in: "\u2488example", wantErr: "not a valid host name"},

		// characters that are not part of a host
		{name: "empty refused", in: "", wantErr: "host is empty"},
		{name: "leading space refused", in: " bank.example", wantErr: "white space"},
		{name: "inner space refused", in: "bank .example", wantErr: "white space"},
		{name: "tab refused", in: "bank.example\t", wantErr: "white space"},
		{name: "newline refused", in: "bank.example\n", wantErr: "white space"},
		{name: "NUL refused", in: "bank\x00.example", wantErr: "control character"},
		{name: "no-break space refused", in: "bank\u00a0.example", wantErr: "white space"},
		{name: "invalid UTF-8 refused", in: "bank\xff.example", wantErr: "not valid UTF-8"},
		{name: "userinfo refused", in: "user@bank.example", wantErr: "user info"},
		{name: "userinfo with password and port refused", in: "user:pw@bank.example:443", wantErr: "user info"},
		{name: "underscore refused", in: "my_bank.example", wantErr: `contains '_'`},
		{name: "slash refused", in: "bank.example/fim", wantErr: `contains '/'`},
		{name: "backslash refused", in: `bank.example\evil`, wantErr: `contains '\\'`},
		{name: "percent refused", in: "bank%2eexample", wantErr: `contains '%'`},
		{name: "leading hyphen refused", in: "-bank.example", wantErr: "no hyphen at either end"},
		{name: "trailing hyphen refused", in: "bank-.example", wantErr: "not a valid host name"},
		{name: "hyphens in positions 3 and 4 refused", in: "ab--cd.example", wantErr: "not a valid host name"},
		{name: "253-character name", in: strings.Repeat("abcdefghi.", 25) + "abc", want: strings.Repeat("abcdefghi.", 25) + "abc"},
		{name: "63-character label", in: strings.Repeat("a", 63) + ".example", want: strings.Repeat("a", 63) + ".example"},
		{name: "64-character label refused", in: strings.Repeat("a", 64) + ".example", wantErr: "at most 63"},
		{name: "254-character name refused", in: strings.Repeat("abcdefghi.", 25) + "abcd", wantErr: "at most 253"},
		{name: "very long input refused", in: strings.Repeat("a", 2000), wantErr: "too long"},

		// IP addresses
		{name: "IPv4", in: "192.0.2.1", want: "192.0.2.1"},
		{name: "IPv4 with port", in: "192.0.2.1:8080", want: "192.0.2.1:8080"},
		{name: "IPv4 with trailing dot", in: "192.0.2.1.", want: "192.0.2.1"},
		{name: "fullwidth IPv4 maps to IPv4, as in a browser", in: "１９２．０．２．１", want: "192.0.2.1"},
		{name: "IPv4 with leading zeros refused", in: "010.0.0.1", wantErr: "is a number"},
		{name: "decimal IPv4 refused", in: "2130706433", wantErr: "is a number"},
		{name: "hex IPv4 refused", in: "0x7f000001", wantErr: "is a number"},
		{name: "short dotted IPv4 refused", in: "127.1", wantErr: "is a number"},
		{name: "name ending in a number refused", in: "bank.example.123", wantErr: "is a number"},
		{name: "IPv6 bare is canonicalised", in: "2001:DB8:0:0::1", want: "2001:db8::1"},
		{name: "IPv6 bracketed keeps brackets", in: "[2001:DB8::1]", want: "[2001:db8::1]"},
		{name: "IPv6 with port", in: "[2001:db8::1]:443", want: "[2001:db8::1]:443"},
		{name: "IPv4-mapped IPv6 kept as written", in: "[::FFFF:127.0.0.1]:80", want: "[::ffff:127.0.0.1]:80"},
		{name: "IPv6 zone refused", in: "[fe80::1%eth0]:443", wantErr: "zones"},
		{name: "bare IPv6 zone refused", in: "fe80::1%eth0", wantErr: "zones"},
		{name: "IPv4 in brackets refused", in: "[192.0.2.1]", wantErr: "not an IPv6 address"},
		{name: "name in brackets refused", in: "[bank.example]:443", wantErr: "not an IPv6 address"},
		{name: "missing closing bracket refused", in: "[2001:db8::1", wantErr: "missing ]"},
		{name: "junk after bracket refused", in: "[2001:db8::1]443", wantErr: "after the IPv6 address"},
		{name: "stray bracket refused", in: "bank]example", wantErr: "brackets belong"},
		{name: "colons in a name refused", in: "bank:example:443", wantErr: "not an IPv6 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeHost(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NormalizeHost(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "allowlist: ") {
					t.Errorf("error %q does not name the package", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if again, err := NormalizeHost(got); err != nil || again != got {
				t.Errorf("not idempotent: NormalizeHost(%q) = %q, %v", got, again, err)
			}
		})
	}
}

// TestIDNHosts pins how internationalised hosts are written. The answers
// were checked against golang.org/x/net/idna v0.61.0; x/net documents that
// the Lookup profile "may change over time", and a change would silently
// move a configured host off the allowlist, so an upgrade must pass this.
func TestIDNHosts(t *testing.T) {
	f, err := os.Open("testdata/idn_hosts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		got, err := NormalizeHost(in)
		if want == "!" {
			if err == nil {
				t.Errorf("NormalizeHost(%q) = %q; want a refusal", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d cases read", n)
	}
}

func TestACELabelsRefused(t *testing.T) {
	tests := []struct{ name, label, wantErr string }{
		{"decodes to a control character", "xn--a", "not a valid host name"},
		{"overflowing digits", "xn--99999999999", "not a valid host name"},
		{"truncated", "xn--zzzzzzzzzzzz", "not a valid host name"},
		{"invalid digit", "xn--ab-c_d", "contains '_'"},
		{"decodes to a capital", "xn--wca", "not a valid host name"},
		{"decodes to a no-break space", "xn--a-4ba", "not a valid host name"},
		{"starts with a combining mark", "xn--a-wbb", "not a valid host name"},
		{"decodes to plain ASCII", "xn--abc-", "not a valid host name"},
		{"empty after the prefix", "xn--", "empty label"},
		{"leading hyphen after decoding", "xn---tda", "not a valid host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NormalizeHost(tt.label + ".example")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NormalizeHost(%q) error = %v; want one containing %q", tt.label+".example", err, tt.wantErr)
			}
		})
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{
		"bank.example", "BANK.example.:0443", "[2001:db8::1]:443", "2001:db8::1", "192.0.2.1",
		"ödeme.örnek.tr", "xn--bcher-kva.example", "xn--a", "user@host", "a..b", "[::ffff:1.2.3.4]",
		"example。com", "\u212a.com", "0x7f.1", "fe80::1%eth0", "ab--cd", "İ.com", "ß.de", "ς.gr",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeHost(in)
		if err != nil {
			if out != "" {
				t.Fatalf("NormalizeHost(%q) returned %q with error %v", in, out, err)
			}
			return
		}
		if strings.ToLower(out) != out || strings.ContainsFunc(out, func(r rune) bool { return r >= 0x80 }) {
			t.Fatalf("NormalizeHost(%q) = %q: not lower-case ASCII", in, out)
		}
		if strings.HasSuffix(out, ".") || strings.ContainsAny(out, " @/\\?#%") {
			t.Fatalf("NormalizeHost(%q) = %q: trailing dot or stray character", in, out)
		}
		again, err := NormalizeHost(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: NormalizeHost(%q) = %q; NormalizeHost(%q) = %q, %v", in, out, out, again, err)
		}
	})
}
