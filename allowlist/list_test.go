package allowlist

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// testList is a bank on https, a simulator on http and an IPv6 endpoint.
func testList(t testing.TB) *List {
	t.Helper()
	l, err := NewList(
		"https://cpweb.vakifbank.com.tr/CommonPayment/api/RegisterTransaction",
		"https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment",
		"https://onlineodeme.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx",
		"http://sim.test:9000/fim/api",
		"https://[2001:db8::1]:8443/api",
	)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListAllows(t *testing.T) {
	l := testList(t)
	tests := []struct {
		name     string
		hostport string
		want     bool
	}{
		{"listed host on the https default port", "cpweb.vakifbank.com.tr:443", true},
		{"case and trailing dot do not matter", "CPWeb.VakifBank.com.tr.:443", true},
		{"leading zeros in the port do not matter", "cpweb.vakifbank.com.tr:00443", true},
		{"listed explicit port", "onlineodeme.vakifbank.com.tr:4443", true},
		{"http default port", "sim.test:9000", true},
		{"IPv6 endpoint", "[2001:db8::1]:8443", true},
		{"IPv6 endpoint spelled differently", "[2001:DB8:0::1]:8443", true},
		{"other port refused", "cpweb.vakifbank.com.tr:8443", false},
		{"http port of an https endpoint refused", "cpweb.vakifbank.com.tr:80", false},
		{"default port of a non-default endpoint refused", "onlineodeme.vakifbank.com.tr:443", false},
		{"no port refused", "cpweb.vakifbank.com.tr", false},
		{"subdomain refused", "evil.cpweb.vakifbank.com.tr:443", false},
		{"parent domain refused", "vakifbank.com.tr:443", false},
		{"lookalike refused", "cpweb.vakifbank.com.tr.evil.example:443", false},
		{"suffix match refused", "xcpweb.vakifbank.com.tr:443", false},
		{"IP of the host refused", "192.0.2.1:443", false},
		{"IPv6 without port refused", "[2001:db8::1]", false},
		{"garbage refused", "not a host", false},
		{"empty refused", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Allows(tt.hostport); got != tt.want {
				t.Errorf("Allows(%q) = %v, want %v", tt.hostport, got, tt.want)
			}
		})
	}
}

func TestListCheckURL(t *testing.T) {
	l := testList(t)
	tests := []struct {
		name    string
		url     string
		wantErr string // "" = allowed
	}{
		{"payment page the bank returned", "https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment?Ptkn=secret-token", ""},
		{"explicit default port", "https://CPWEB.vakifbank.com.tr:443/x", ""},
		{"non-default listed port", "https://onlineodeme.vakifbank.com.tr:4443/", ""},
		{"http simulator", "http://sim.test:9000/fim/est3Dgate", ""},
		{"IPv6 endpoint", "https://[2001:db8::1]:8443/", ""},
		{"fragment is fine", "https://cpweb.vakifbank.com.tr/#top", ""},
		{"http on the https default port refused", "http://cpweb.vakifbank.com.tr/x", "http://cpweb.vakifbank.com.tr:80"},
		{"http to the https port refused", "http://cpweb.vakifbank.com.tr:443/x", "not on the allowlist"},
		{"https to the http simulator refused", "https://sim.test:9000/", "not on the allowlist"},
		{"other port refused", "https://cpweb.vakifbank.com.tr:8443/", "cpweb.vakifbank.com.tr:8443"},
		{"subdomain refused", "https://evil.cpweb.vakifbank.com.tr/", "not on the allowlist"},
		{"lookalike refused", "https://cpweb.vakifbank.com.tr.evil.example/", "not on the allowlist"},
		{"listed host in the query refused", "https://evil.example/?u=https://cpweb.vakifbank.com.tr/", "evil.example:443"},
		{"user info refused", "https://cpweb.vakifbank.com.tr@evil.example/", "user info"},
		{"backslash trick refused", `https://evil.example\@cpweb.vakifbank.com.tr/`, "browsers and Go read differently"},
		{"tab in URL refused", "https://cpweb.vakifbank.com.tr\t.evil.example/", "browsers and Go read differently"},
		{"ftp refused", "ftp://cpweb.vakifbank.com.tr/", `scheme "ftp" is not allowed`},
		{"javascript refused", "javascript:alert(1)", `scheme "javascript" is not allowed`},
		{"data URL refused", "data:text/html,hi", `scheme "data" is not allowed`},
		{"relative URL refused", "/CommonPayment/SecurePayment", "not an absolute URL"},
		{"scheme-relative URL refused", "//cpweb.vakifbank.com.tr/x", "not an absolute URL"},
		{"opaque https refused", "https:cpweb.vakifbank.com.tr", "no host"},
		{"empty host refused", "https:///x", "no host"},
		{"unparsable refused", "https://[::1/", "not a valid URL"},
		{"bad port refused", "https://cpweb.vakifbank.com.tr:99999/", "out of range"},
		{"empty refused", "", "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := l.CheckURL(tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckURL(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
			}
			if !errors.Is(err, ErrDenied) {
				t.Errorf("CheckURL(%q) error is not ErrDenied: %v", tt.url, err)
			}
			var de *DeniedError
			if !errors.As(err, &de) || de.Fix == "" {
				t.Errorf("CheckURL(%q) error %v has no fix", tt.url, err)
			}
		})
	}
}

func TestCheckURLErrorNeverShowsTheURL(t *testing.T) {
	l := testList(t)
	for _, u := range []string{
		"https://evil.example/pay?Ptkn=secret-token",
		"https://cpweb.vakifbank.com.tr:444/pay?Ptkn=secret-token",
		"ftp://cpweb.vakifbank.com.tr/pay?Ptkn=secret-token",
		"https://[::1/pay?Ptkn=secret-token",
	} {
		err := l.CheckURL(u)
		if err == nil {
			t.Fatalf("CheckURL(%q) allowed", u)
		}
		if strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), "/pay") {
			t.Errorf("error for %q leaks the URL: %v", u, err)
		}
	}
}

func TestListHostPorts(t *testing.T) {
	got := testList(t).HostPorts()
	want := []string{
		"[2001:db8::1]:8443",
		"cpweb.vakifbank.com.tr:443",
		"onlineodeme.vakifbank.com.tr:4443",
		"sim.test:9000",
	}
	if !slices.Equal(got, want) {
		t.Errorf("HostPorts() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if testList(t).HostPorts()[0] == "changed" {
		t.Error("HostPorts exposes the list's storage")
	}
}

func TestNewListErrors(t *testing.T) {
	tests := []struct{ name, url, wantErr string }{
		{"bare host", "bank.example", "not an absolute URL"},
		{"host:port without scheme", "bank.example:443", `scheme "bank.example" is not allowed`},
		{"ftp", "ftp://bank.example/", "is not allowed"},
		{"no host", "https://", "no host"},
		{"user info", "https://u:p@bank.example/", "user info"},
		{"bad host", "https://bank_example/", "contains '_'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewList("https://ok.example/", tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "endpoint") {
				t.Fatalf("NewList(%q) = %v, want error naming the endpoint and containing %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

func TestEmptyAndNilList(t *testing.T) {
	empty, err := NewList()
	if err != nil {
		t.Fatal(err)
	}
	var nilList *List
	for name, l := range map[string]*List{"empty": empty, "nil": nilList} {
		t.Run(name, func(t *testing.T) {
			if l.Allows("bank.example:443") {
				t.Error("allows a host")
			}
			if err := l.CheckURL("https://bank.example/"); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "allowed: nothing") {
				t.Errorf("CheckURL = %v", err)
			}
			if len(l.HostPorts()) != 0 {
				t.Error("has host ports")
			}
		})
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment?Ptkn=x",
		"https://CPWEB.vakifbank.com.tr.:443/",
		"http://sim.test:9000/x",
		"https://[2001:db8::1]:8443/",
		"https://evil.example/",
		`https://evil.example\@cpweb.vakifbank.com.tr/`,
		"https://cpweb.vakifbank.com.tr@evil.example/",
		"javascript:alert(1)",
		"https://xn--bcher-kva.example/",
		"https://%63pweb.vakifbank.com.tr/",
		"",
	} {
		f.Add(s)
	}
	l := testList(f)
	f.Fuzz(func(t *testing.T, raw string) {
		err := l.CheckURL(raw)
		if err2 := l.CheckURL(raw); (err == nil) != (err2 == nil) {
			t.Fatalf("CheckURL(%q) is not deterministic: %v then %v", raw, err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("CheckURL(%q) = %v, not ErrDenied", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			t.Fatalf("CheckURL accepted %q (parse: %v)", raw, perr)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		if !l.Allows(h + ":" + port) {
			t.Fatalf("CheckURL accepted %q but Allows(%s:%s) is false", raw, h, port)
		}
		// The URL as Go re-serialises it is accepted too.
		if err := l.CheckURL(u.String()); err != nil {
			t.Fatalf("CheckURL accepted %q but not its re-serialisation %q: %v", raw, u.String(), err)
		}
	})
}
