package allowlist

import (
	"bufio"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
)

// readGolden reads testdata/endpoints.golden into bank/env/host-set keys.
func readGolden(t *testing.T) map[tableKey]Endpoints {
	t.Helper()
	f, err := os.Open("testdata/endpoints.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	golden := map[tableKey]Endpoints{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 5 {
			t.Fatalf("endpoints.golden:%d: want 5 fields, got %d", line, len(fields))
		}
		k := tableKey{Bank(fields[0]), fields[1], fields[2]}
		if golden[k] == nil {
			golden[k] = Endpoints{}
		}
		if _, dup := golden[k][Service(fields[3])]; dup {
			t.Fatalf("endpoints.golden:%d: %s listed twice", line, fields[3])
		}
		golden[k][Service(fields[3])] = fields[4]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return golden
}

func TestLookupMatchesProtocolDocument(t *testing.T) {
	golden := readGolden(t)
	seen := map[tableKey]bool{}
	for _, bank := range Banks() {
		for _, env := range []string{EnvTest, EnvProd} {
			for _, hostSet := range []string{"", HostSetClassic, HostSetAPIGW} {
				t.Run(string(bank)+"/"+env+"/"+hostSet, func(t *testing.T) {
					key := tableKey{bank, env, "*"}
					if bank == VakifBank {
						key.hostSet = hostSet
						if hostSet == "" {
							key.hostSet = HostSetClassic
						}
					}
					seen[key] = true
					want, ok := golden[key]
					if !ok {
						t.Fatalf("endpoints.golden has no rows for %v", key)
					}
					got, err := Lookup(bank, env, hostSet)
					if err != nil {
						t.Fatal(err)
					}
					if !maps.Equal(got, want) {
						t.Errorf("Lookup(%s, %s, %q)\n got %v\nwant %v", bank, env, hostSet, got, want)
					}
					if _, err := got.List(); err != nil {
						t.Errorf("endpoints do not make a list: %v", err)
					}
				})
			}
		}
	}
	for k := range golden {
		if !seen[k] {
			t.Errorf("endpoints.golden has rows for %v that no Lookup returns", k)
		}
	}
}

func TestLookupServicesPerBank(t *testing.T) {
	for _, bank := range Banks() {
		eps, err := Lookup(bank, EnvProd, "")
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(keysOf(eps), keysOf(Endpoints(standardPaths[bank]))) {
			t.Errorf("%s: services %v differ from the standard paths' %v", bank, keysOf(eps), keysOf(Endpoints(standardPaths[bank])))
		}
	}
}

func keysOf(e Endpoints) map[Service]bool {
	m := map[Service]bool{}
	for s := range e {
		m[s] = true
	}
	return m
}

func TestLookupReturnsACopy(t *testing.T) {
	a, _ := Lookup(Halkbank, EnvProd, "")
	a[ESTAPI] = "https://evil.example/fim/api"
	b, _ := Lookup(Halkbank, EnvProd, "")
	if b[ESTAPI] != "https://sanalpos.halkbank.com.tr/fim/api" {
		t.Fatalf("changing one Lookup result changed the table: %q", b[ESTAPI])
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name          string
		bank          Bank
		env, hostSet  string
		wantSubstring string
	}{
		{"unknown bank names the valid ones", "ziraat", EnvProd, "", "use halkbank, qnb or vakifbank"},
		{"empty bank", "", EnvProd, "", "unknown bank"},
		{"unknown environment names test and prod", Halkbank, "production", "", `use "test" (the bank's sandbox) or "prod"`},
		{"environment is case-sensitive", QNB, "PROD", "", "unknown environment"},
		{"unknown host set names classic and apigw", VakifBank, EnvProd, "new", `use "classic"`},
		{"unknown host set refused for other banks too", Halkbank, EnvProd, "apigateway", `"apigw"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lookup(tt.bank, tt.env, tt.hostSet)
			if err == nil || !strings.Contains(err.Error(), tt.wantSubstring) {
				t.Fatalf("Lookup(%q, %q, %q) = %v, want error containing %q", tt.bank, tt.env, tt.hostSet, err, tt.wantSubstring)
			}
			if errors.Is(err, ErrDenied) {
				t.Errorf("a configuration error must not be ErrDenied: %v", err)
			}
		})
	}
}

func TestCustom(t *testing.T) {
	tests := []struct {
		name string
		bank Bank
		base string
		want Endpoints
	}{
		{"halkbank simulator on loopback", Halkbank, "http://127.0.0.1:9001", Endpoints{
			ESTGate: "http://127.0.0.1:9001/fim/est3Dgate",
			ESTAPI:  "http://127.0.0.1:9001/fim/api",
		}},
		{"qnb new host name, trailing slash", QNB, "https://VPOS.QNB.com.tr/", Endpoints{
			PayForGate: "https://vpos.qnb.com.tr/Gateway/Default.aspx",
			PayForHost: "https://vpos.qnb.com.tr/Gateway/3DHost.aspx",
			PayForAPI:  "https://vpos.qnb.com.tr/Gateway/XMLGate.aspx",
		}},
		{"vakifbank simulator with a path prefix", VakifBank, "http://localhost:9003/sim/vakif/", Endpoints{
			VakifMPI:        "http://localhost:9003/sim/vakif/MPIAPI/MPI_Enrollment.aspx",
			VakifVPOS:       "http://localhost:9003/sim/vakif/VposService/v3/Vposreq.aspx",
			VakifSearch:     "http://localhost:9003/sim/vakif/UIService/Search.aspx",
			VakifCPRegister: "http://localhost:9003/sim/vakif/CommonPayment/api/RegisterTransaction",
			VakifCPPage:     "http://localhost:9003/sim/vakif/CommonPayment/SecurePayment",
			VakifCPQuery:    "http://localhost:9003/sim/vakif/CommonPayment/api/VposTransaction",
		}},
		{"IPv6 simulator", Halkbank, "http://[::1]:9001", Endpoints{
			ESTGate: "http://[::1]:9001/fim/est3Dgate",
			ESTAPI:  "http://[::1]:9001/fim/api",
		}},
		{"IPv6 without port keeps brackets", Halkbank, "https://[2001:DB8::1]", Endpoints{
			ESTGate: "https://[2001:db8::1]/fim/est3Dgate",
			ESTAPI:  "https://[2001:db8::1]/fim/api",
		}},
		{"IDN host becomes punycode", Halkbank, "https://ödeme.örnek.tr", Endpoints{
			ESTGate: "https://xn--deme-4qa.xn--rnek-4qa.tr/fim/est3Dgate",
			ESTAPI:  "https://xn--deme-4qa.xn--rnek-4qa.tr/fim/api",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Custom(tt.bank, tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Custom(%s, %q)\n got %v\nwant %v", tt.bank, tt.base, got, tt.want)
			}
			if _, err := got.List(); err != nil {
				t.Errorf("custom endpoints do not make a list: %v", err)
			}
		})
	}
}

func TestCustomErrors(t *testing.T) {
	tests := []struct {
		name, base, wantSubstring string
		bank                      Bank
	}{
		{"unknown bank", "https://x.example", "unknown bank", "garanti"},
		{"ftp scheme", "ftp://sim.example", `scheme "ftp" is not supported; use https://`, Halkbank},
		{"no scheme", "sim.example:9000", "is not supported", Halkbank},
		{"empty", "", "not supported", Halkbank},
		{"no host", "https:///fim", "no host", Halkbank},
		{"opaque", "https:sim.example", "no host", Halkbank},
		{"user info", "https://admin:pw@sim.example", "user info is not allowed", QNB},
		{"query", "https://sim.example/?env=test", "query or fragment is not allowed", QNB},
		{"empty query", "https://sim.example/?", "query or fragment is not allowed", QNB},
		{"fragment", "https://sim.example/#x", "query or fragment is not allowed", VakifBank},
		{"empty fragment", "https://sim.example/#", "query or fragment is not allowed", VakifBank},
		{"bad port", "https://sim.example:70000", "out of range", VakifBank},
		{"space in host", "https://sim example", "browsers and Go read differently", VakifBank},
		{"backslash", `https://sim.example\@evil.example`, "browsers and Go read differently", VakifBank},
		{"plain http to a remote host", "http://vpos.qnb.com.tr", "plain http is only for a simulator on this machine", QNB},
		{"plain http to a private address", "http://10.0.0.5:9001", "plain http is only for a simulator on this machine", Halkbank},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Custom(tt.bank, tt.base)
			if err == nil || !strings.Contains(err.Error(), tt.wantSubstring) {
				t.Fatalf("Custom(%s, %q) = %v, want error containing %q", tt.bank, tt.base, err, tt.wantSubstring)
			}
		})
	}
}

func TestEndpointsURLs(t *testing.T) {
	eps, _ := Lookup(VakifBank, EnvProd, HostSetAPIGW)
	urls := eps.URLs()
	if len(urls) != len(eps) {
		t.Fatalf("URLs() returned %d URLs for %d services", len(urls), len(eps))
	}
	l, err := eps.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"apigw.vakifbank.com.tr:8443",
		"cpweb.vakifbank.com.tr:443",
		"inbound.apigateway.vakifbank.com.tr:8443",
		"onlineodeme.vakifbank.com.tr:4443",
	}
	if got := l.HostPorts(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("HostPorts() = %v, want %v", got, want)
	}
}
