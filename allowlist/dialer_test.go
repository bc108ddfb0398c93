package allowlist

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	plain := &Dialer{}
	tests := []struct {
		name string
		ip   string
		want string // exact Classify result; "" = allowed
	}{
		// allowed
		{"public IPv4 allowed", "93.184.216.34", ""},
		{"public IPv4 next to CGNAT allowed", "100.63.255.255", ""},
		{"public IPv4 after CGNAT allowed", "100.128.0.0", ""},
		{"public IPv4 after 172.16/12 allowed", "172.32.0.1", ""},
		{"public IPv4 before 172.16/12 allowed", "172.15.255.255", ""},
		{"public IPv4 next to 192.0.0/24 allowed", "192.0.1.1", ""},
		{"public IPv4 last unicast allowed", "223.255.255.254", ""},
		{"public IPv6 allowed", "2a00:1450:4001:80b::200e", ""},
		{"public IPv6 next to Teredo allowed", "2001:4860:4860::8888", ""},

		// IPv4 special ranges
		{"unspecified 0.0.0.0 refused", "0.0.0.0", "the unspecified address (0.0.0.0/32)"},
		{`"this network" 0.0.0.0/8 refused`, "0.1.2.3", `"this network" (0.0.0.0/8)`},
		{"RFC 1918 10/8 refused", "10.20.30.40", "private (RFC 1918) (10.0.0.0/8)"},
		{"RFC 1918 172.16/12 low edge refused", "172.16.0.0", "private (RFC 1918) (172.16.0.0/12)"},
		{"RFC 1918 172.16/12 high edge refused", "172.31.255.255", "private (RFC 1918) (172.16.0.0/12)"},
		{"RFC 1918 192.168/16 refused", "192.168.1.1", "private (RFC 1918) (192.168.0.0/16)"},
		{"CGNAT low edge refused", "100.64.0.0", "carrier-grade NAT (RFC 6598) (100.64.0.0/10)"},
		{"CGNAT high edge refused", "100.127.255.255", "carrier-grade NAT (RFC 6598) (100.64.0.0/10)"},
		{"loopback 127.0.0.1 refused", "127.0.0.1", "loopback (127.0.0.0/8)"},
		{"loopback 127.255.255.254 refused", "127.255.255.254", "loopback (127.0.0.0/8)"},
		{"cloud metadata 169.254.169.254 refused", "169.254.169.254", "link-local, the cloud metadata service (169.254.169.254/32)"},
		{"link-local 169.254.1.1 refused", "169.254.1.1", "link-local (169.254.0.0/16)"},
		{"IETF protocol assignments 192.0.0.0/24 refused", "192.0.0.8", "IETF protocol assignments (RFC 6890) (192.0.0.0/24)"},
		{"TEST-NET-1 refused", "192.0.2.1", "documentation (TEST-NET-1) (192.0.2.0/24)"},
		{"TEST-NET-2 refused", "198.51.100.7", "documentation (TEST-NET-2) (198.51.100.0/24)"},
		{"TEST-NET-3 refused", "203.0.113.10", "documentation (TEST-NET-3) (203.0.113.0/24)"},
		{"6to4 relay anycast refused", "192.88.99.1", "6to4 relay anycast (deprecated) (192.88.99.0/24)"},
		{"benchmarking refused", "198.19.255.1", "benchmarking (RFC 2544) (198.18.0.0/15)"},
		{"multicast 224.0.0.1 refused", "224.0.0.1", "multicast (224.0.0.0/4)"},
		{"multicast SSDP refused", "239.255.255.250", "multicast (224.0.0.0/4)"},
		{"limited broadcast refused", "255.255.255.255", "limited broadcast (255.255.255.255/32)"},
		{"class E refused", "240.0.0.1", "reserved (class E) (240.0.0.0/4)"},

		// IPv6 special ranges
		{"IPv6 unspecified refused", "::", "the unspecified address (::/128)"},
		{"IPv6 loopback refused", "::1", "loopback (::1/128)"},
		{"IPv4-mapped loopback refused", "::ffff:127.0.0.1", "IPv4-mapped IPv6 (::ffff:0.0.0.0/96)"},
		{"IPv4-mapped public refused", "::ffff:93.184.216.34", "IPv4-mapped IPv6 (::ffff:0.0.0.0/96)"},
		{"IPv4-translated refused", "::ffff:0:7f00:1", "IPv4-translated IPv6 (SIIT) (::ffff:0:0:0/96)"},
		{"IPv4-compatible loopback refused", "::127.0.0.1", "IPv4-compatible IPv6 (deprecated) (::/96)"},
		{"NAT64 of loopback refused", "64:ff9b::127.0.0.1", "NAT64 (embeds an IPv4 address) (64:ff9b::/96)"},
		{"NAT64 of metadata refused", "64:ff9b::a9fe:a9fe", "NAT64 (embeds an IPv4 address) (64:ff9b::/96)"},
		{"local-use NAT64 refused", "64:ff9b:1::1", "local-use NAT64 (RFC 8215) (64:ff9b:1::/48)"},
		{"discard-only refused", "100::1", "discard-only (RFC 6666) (100::/64)"},
		{"Teredo refused", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo (embeds an IPv4 address) (2001::/32)"},
		{"ORCHIDv2 refused", "2001:20::1", "IETF protocol assignments (RFC 2928) (2001::/23)"},
		{"IPv6 documentation refused", "2001:db8::1", "documentation (2001:db8::/32)"},
		{"IPv6 documentation 3fff::/20 refused", "3fff::1", "documentation (RFC 9637) (3fff::/20)"},
		{"6to4 of loopback refused", "2002:7f00:1::1", "6to4 (embeds an IPv4 address) (2002::/16)"},
		{"unique local fd00::/8 refused", "fd00:ec2::254", "unique local (private) (fc00::/7)"},
		{"unique local fc00::/8 refused", "fc00::1", "unique local (private) (fc00::/7)"},
		{"IPv6 link-local refused", "fe80::1", "link-local (fe80::/10)"},
		{"zoned IPv6 link-local refused", "fe80::1%eth0", "link-local (fe80::/10)"},
		{"site-local refused", "fec0::1", "site-local (deprecated) (fec0::/10)"},
		{"IPv6 multicast refused", "ff02::1", "multicast (ff00::/8)"},
		{"IPv6 outside 2000::/3 refused", "4000::1", "outside the IPv6 global unicast space 2000::/3 (4000::1/128)"},
		{"IPv6 reserved ::/8 refused", "::1:0:0:1", "outside the IPv6 global unicast space 2000::/3 (::1:0:0:1/128)"},
		{"IPv6 reserved 100::/8 outside discard-only refused", "100:1::1", "outside the IPv6 global unicast space 2000::/3 (100:1::1/128)"},
		{"invalid address refused", "", "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			if got := plain.Classify(ip); got != tt.want {
				t.Errorf("Classify(%s) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

func TestClassifyAllowRanges(t *testing.T) {
	d := &Dialer{AllowRanges: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fe80::/10"),
	}}
	tests := []struct {
		name    string
		ip      string
		allowed bool
	}{
		{"loopback allowed by 127.0.0.0/8", "127.0.0.1", true},
		{"other loopback address allowed by 127.0.0.0/8", "127.0.0.2", true},
		{"private inside the allowed /16", "10.1.2.3", true},
		{"private outside the allowed /16 still refused", "10.2.0.1", false},
		{"IPv6 loopback allowed by ::1/128", "::1", true},
		{"zoned link-local allowed by fe80::/10", "fe80::1%eth0", true},
		{"metadata still refused", "169.254.169.254", false},
		{"192.168/16 still refused", "192.168.0.1", false},
		{"IPv4-mapped loopback not covered by an IPv4 range", "::ffff:127.0.0.1", false},
		{"public still allowed", "93.184.216.34", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Classify(netip.MustParseAddr(tt.ip))
			if (got == "") != tt.allowed {
				t.Errorf("Classify(%s) = %q, want allowed=%v", tt.ip, got, tt.allowed)
			}
		})
	}
	var nilDialer *Dialer
	if got := nilDialer.Classify(netip.MustParseAddr("127.0.0.1")); got == "" {
		t.Error("a nil Dialer allows loopback")
	}
}

// fakeResolver answers from a function of the call number (1-based) and
// counts calls.
type fakeResolver struct {
	calls  atomic.Int32
	answer func(call int, host string) ([]net.IPAddr, error)
}

func (r *fakeResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return r.answer(int(r.calls.Add(1)), host)
}

func answers(ips ...string) []net.IPAddr {
	out := make([]net.IPAddr, len(ips))
	for i, s := range ips {
		out[i] = net.IPAddr{IP: net.ParseIP(s)} // 16-byte form, as net.Resolver returns IPv4
	}
	return out
}

func static(ips ...string) *fakeResolver {
	return &fakeResolver{answer: func(int, string) ([]net.IPAddr, error) { return answers(ips...), nil }}
}

// recorder stands in for the network: it records what would be dialled and
// returns one end of a pipe.
type recorder struct {
	mu       sync.Mutex
	addrs    []string
	local    []net.Addr
	deadline time.Time
}

func (r *recorder) dial(ctx context.Context, nd *net.Dialer, network, address string) (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = append(r.addrs, address)
	r.local = append(r.local, nd.LocalAddr)
	r.deadline, _ = ctx.Deadline()
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

func (r *recorder) dialled() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.addrs...)
}

func TestDNSRebindingTo127Refused(t *testing.T) {
	// The first answer is public, every later one loopback: a rebinding
	// attacker's DNS. The dialer must dial the address it checked, ask DNS
	// once per dial, and refuse the loopback answer.
	res := &fakeResolver{answer: func(call int, host string) ([]net.IPAddr, error) {
		if call == 1 {
			return answers("93.184.216.34"), nil
		}
		return answers("127.0.0.1"), nil
	}}
	rec := &recorder{}
	d := &Dialer{Resolver: res, dial: rec.dial}

	conn, err := d.DialTimeout("rebind.example:443", time.Second)
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	conn.Close()
	if got := rec.dialled(); len(got) != 1 || got[0] != "93.184.216.34:443" {
		t.Fatalf("dialled %v, want exactly the checked address 93.184.216.34:443", got)
	}
	if n := res.calls.Load(); n != 1 {
		t.Fatalf("resolver called %d times in one dial, want 1", n)
	}

	_, err = d.DialTimeout("rebind.example:443", time.Second)
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("second dial: got %v, want ErrDenied", err)
	}
	for _, want := range []string{"rebind.example:443", "127.0.0.1 is loopback (127.0.0.0/8)", "add 127.0.0.0/8 to egress.allow_ranges"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := rec.dialled(); len(got) != 1 {
		t.Fatalf("refused dial still connected: %v", got)
	}
	if n := res.calls.Load(); n != 2 {
		t.Fatalf("resolver called %d times in two dials, want 2", n)
	}
}

func TestDialPicksFirstAllowedAnswer(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
		network string
		source  string
		want    string
	}{
		{"mixed public and private answers: dial only the public one", []string{"10.0.0.5", "127.0.0.1", "169.254.169.254", "93.184.216.34", "1.1.1.1"}, "tcp", "", "93.184.216.34:443"},
		{"AAAA with IPv4-mapped loopback is unmapped and refused", []string{"::ffff:127.0.0.1", "1.1.1.1"}, "tcp", "", "1.1.1.1:443"},
		{"first answer wins when several are public", []string{"2606:4700::1111", "1.1.1.1"}, "tcp", "", "[2606:4700::1111]:443"},
		{"tcp4 skips IPv6 answers", []string{"2606:4700::1111", "1.1.1.1"}, "tcp4", "", "1.1.1.1:443"},
		{"tcp6 skips IPv4 answers", []string{"1.1.1.1", "2606:4700::1111"}, "tcp6", "", "[2606:4700::1111]:443"},
		{"IPv4 source address skips IPv6 answers", []string{"2606:4700::1111", "1.1.1.1"}, "tcp", "198.51.100.20", "1.1.1.1:443"},
		{"IPv6 source address skips IPv4 answers", []string{"1.1.1.1", "2606:4700::1111"}, "tcp", "2001:db8::20", "[2606:4700::1111]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			d := &Dialer{Resolver: static(tt.answers...), dial: rec.dial}
			if tt.source != "" {
				d.SourceIP = netip.MustParseAddr(tt.source)
			}
			conn, err := d.DialContext(context.Background(), tt.network, "bank.example:443")
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if got := rec.dialled(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("dialled %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestDialRefusals(t *testing.T) {
	list, err := NewList("https://bank.example/api", "https://sim.test:9000/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		dialer    Dialer
		network   string
		addr      string
		denied    bool     // errors.Is(err, ErrDenied)
		wantParts []string // substrings of the error
		resolves  bool     // whether the resolver may be asked
	}{
		{name: "host not on the list refused before DNS", dialer: Dialer{List: list}, addr: "evil.example:443", denied: true,
			wantParts: []string{"evil.example:443", "not on the allowlist", "bank.example:443"}},
		{name: "subdomain of a listed host refused", dialer: Dialer{List: list}, addr: "api.bank.example:443", denied: true,
			wantParts: []string{"not on the allowlist"}},
		{name: "other port of a listed host refused", dialer: Dialer{List: list}, addr: "bank.example:8443", denied: true,
			wantParts: []string{"bank.example:8443"}},
		{name: "IP literal of a listed host refused by the list", dialer: Dialer{List: list}, addr: "93.184.216.34:443", denied: true,
			wantParts: []string{"not on the allowlist"}},
		{name: "address without port refused", addr: "bank.example", denied: true,
			wantParts: []string{"has no port", "HostClient.Addr"}},
		{name: "malformed address refused", addr: "user@bank.example:443", denied: true,
			wantParts: []string{"user info"}},
		{name: "loopback literal refused without DNS", addr: "127.0.0.1:8080", denied: true,
			wantParts: []string{"127.0.0.1 is loopback", "add 127.0.0.0/8 to egress.allow_ranges"}},
		{name: "IPv4-mapped loopback literal refused", addr: "[::ffff:127.0.0.1]:8080", denied: true,
			wantParts: []string{"IPv4-mapped"}},
		{name: "metadata literal refused", addr: "169.254.169.254:80", denied: true,
			wantParts: []string{"cloud metadata", "add 169.254.169.254/32 to egress.allow_ranges"}},
		{name: "all answers private lists each", resolves: true,
			dialer: Dialer{Resolver: static("10.0.0.5", "fd00::5")}, addr: "internal.example:443", denied: true,
			wantParts: []string{"10.0.0.5 is private (RFC 1918) (10.0.0.0/8)", "fd00::5 is unique local", "add 10.0.0.0/8 to egress.allow_ranges and add fc00::/7"}},
		{name: "only IPv6 answers with an IPv4 source address", resolves: true,
			dialer: Dialer{Resolver: static("2606:4700::1111"), SourceIP: netip.MustParseAddr("198.51.100.20")}, addr: "v6only.example:443",
			wantParts: []string{"no allowed address of the family", "egress.source_ip"}},
		{name: "udp refused", network: "udp", addr: "bank.example:443",
			wantParts: []string{`network "udp" is not supported`}},
		{name: "DNS failure is not a denial", resolves: true,
			dialer: Dialer{Resolver: &fakeResolver{answer: func(int, string) ([]net.IPAddr, error) {
				return nil, &net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}
			}}}, addr: "nx.example:443",
			wantParts: []string{"resolve nx.example", "no such host"}},
		{name: "empty DNS answer", resolves: true,
			dialer: Dialer{Resolver: static()}, addr: "empty.example:443",
			wantParts: []string{"no addresses"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			d := tt.dialer
			d.dial = rec.dial
			res, _ := d.Resolver.(*fakeResolver)
			if res == nil {
				res = static("93.184.216.34")
				d.Resolver = res
			}
			network := tt.network
			if network == "" {
				network = "tcp"
			}
			_, err := d.DialContext(context.Background(), network, tt.addr)
			if err == nil {
				t.Fatalf("dial %s succeeded", tt.addr)
			}
			if errors.Is(err, ErrDenied) != tt.denied {
				t.Errorf("errors.Is(%v, ErrDenied) = %v, want %v", err, !tt.denied, tt.denied)
			}
			if !tt.denied && !isDialOpError(err) {
				t.Errorf("error %v does not wrap a *net.OpError with Op dial", err)
			}
			for _, p := range tt.wantParts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			if len(rec.dialled()) != 0 {
				t.Errorf("refused dial connected to %v", rec.dialled())
			}
			if !tt.resolves && res.calls.Load() != 0 {
				t.Errorf("resolver asked %d times", res.calls.Load())
			}
		})
	}
}

func TestDialAllowedByListAndRanges(t *testing.T) {
	list, _ := NewList("http://sim.test:9000/", "http://127.0.0.1:9001/")
	tests := []struct {
		name, addr, want string
		resolverCalls    int32
	}{
		{"listed name resolving to an allowed range", "SIM.test.:9000", "127.0.0.1:9000", 1},
		{"listed IP literal is not resolved", "127.0.0.1:9001", "127.0.0.1:9001", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			res := static("127.0.0.1")
			d := &Dialer{List: list, Resolver: res, AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, dial: rec.dial}
			conn, err := d.DialTimeout(tt.addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if got := rec.dialled(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("dialled %v, want [%s]", got, tt.want)
			}
			if n := res.calls.Load(); n != tt.resolverCalls {
				t.Errorf("resolver called %d times, want %d", n, tt.resolverCalls)
			}
		})
	}
}

func TestSourceIPSetsLocalAddr(t *testing.T) {
	rec := &recorder{}
	d := &Dialer{Resolver: static("93.184.216.34"), SourceIP: netip.MustParseAddr("198.51.100.20"), dial: rec.dial}
	conn, err := d.DialTimeout("bank.example:443", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	la, ok := rec.local[0].(*net.TCPAddr)
	if !ok || la.IP.String() != "198.51.100.20" || la.Port != 0 {
		t.Fatalf("LocalAddr = %v, want 198.51.100.20:0", rec.local[0])
	}

	rec = &recorder{}
	d = &Dialer{Resolver: static("93.184.216.34"), dial: rec.dial}
	conn, err = d.DialTimeout("bank.example:443", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if rec.local[0] != nil {
		t.Fatalf("LocalAddr = %v without SourceIP, want none", rec.local[0])
	}
}

func TestSourceIPBindingOnLoopback(t *testing.T) {
	for _, source := range []string{"127.0.0.1", "127.0.0.2"} {
		t.Run("bind to "+source, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}()
			d := &Dialer{
				AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
				SourceIP:    netip.MustParseAddr(source),
			}
			conn, err := d.DialTimeout(ln.Addr().String(), 5*time.Second)
			if err != nil {
				if source != "127.0.0.1" && strings.Contains(err.Error(), "assign requested address") {
					t.Skipf("this system cannot bind to %s: %v", source, err)
				}
				t.Fatal(err)
			}
			defer conn.Close()
			server, ok := <-accepted
			if !ok {
				t.Fatal("no connection accepted")
			}
			defer server.Close()
			remote := server.RemoteAddr().(*net.TCPAddr)
			if remote.IP.String() != source {
				t.Errorf("server saw the connection from %s, want %s", remote.IP, source)
			}
			if local := conn.LocalAddr().(*net.TCPAddr); local.IP.String() != source {
				t.Errorf("client local address %s, want %s", local.IP, source)
			}
		})
	}
}

func TestLoopbackListenerRefusedWithoutAllowRanges(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &Dialer{}
	_, err = d.DialTimeout(ln.Addr().String(), time.Second)
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("dial to a loopback listener: %v, want ErrDenied", err)
	}
}

// blockingResolver answers only when ctx ends.
type blockingResolver struct{}

func (blockingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// blockingDial connects only when ctx ends, like a SYN into a black hole.
func blockingDial(ctx context.Context, nd *net.Dialer, network, address string) (net.Conn, error) {
	<-ctx.Done()
	return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
}

// isTimeout checks what the proxy relies on: a timeout, before anything
// was sent.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, context.DeadlineExceeded) && isDialOpError(err)
}

func isDialOpError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

func TestTimeouts(t *testing.T) {
	t.Run("DNS timeout ends the dial", func(t *testing.T) {
		d := &Dialer{Resolver: blockingResolver{}, DNSTimeout: 20 * time.Millisecond, dial: blockingDial}
		start := time.Now()
		_, err := d.DialTimeout("slow-dns.example:443", time.Minute)
		if !isTimeout(err) || errors.Is(err, ErrDenied) {
			t.Fatalf("got %v, want a timeout that is not a denial", err)
		}
		if !strings.Contains(err.Error(), "resolve slow-dns.example") {
			t.Errorf("error %q does not say the lookup timed out", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v", el)
		}
	})
	t.Run("caller's timeout bounds DNS as well", func(t *testing.T) {
		d := &Dialer{Resolver: blockingResolver{}}
		_, err := d.DialTimeout("slow-dns.example:443", 20*time.Millisecond)
		if !isTimeout(err) {
			t.Fatalf("got %v, want a timeout", err)
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		d := &Dialer{Resolver: static("93.184.216.34"), dial: blockingDial}
		_, err := d.DialTimeout("blackhole.example:443", 20*time.Millisecond)
		if !isTimeout(err) {
			t.Fatalf("got %v, want a timeout", err)
		}
		if !strings.Contains(err.Error(), "connect to blackhole.example:443 (93.184.216.34)") {
			t.Errorf("error %q does not name host and address", err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d := &Dialer{Resolver: blockingResolver{}}
		_, err := d.DialContext(ctx, "tcp", "bank.example:443")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})

	deadlineTests := []struct {
		name    string
		dialer  Dialer
		dial    func(d *Dialer) (net.Conn, error)
		timeout time.Duration
	}{
		{"fasthttp's timeout is used", Dialer{},
			func(d *Dialer) (net.Conn, error) { return d.DialTimeout("bank.example:443", 3*time.Second) }, 3 * time.Second},
		{"timeout 0 from fasthttp falls back to ConnectTimeout", Dialer{ConnectTimeout: 7 * time.Second},
			func(d *Dialer) (net.Conn, error) { return d.DialTimeout("bank.example:443", 0) }, 7 * time.Second},
		{"timeout 0 with no ConnectTimeout uses the default", Dialer{},
			func(d *Dialer) (net.Conn, error) { return d.DialTimeout("bank.example:443", 0) }, DefaultConnectTimeout},
		{"DialContext without deadline uses ConnectTimeout", Dialer{ConnectTimeout: 4 * time.Second},
			func(d *Dialer) (net.Conn, error) {
				return d.DialContext(context.Background(), "tcp", "bank.example:443")
			}, 4 * time.Second},
		{"DialContext's earlier deadline wins", Dialer{ConnectTimeout: time.Minute},
			func(d *Dialer) (net.Conn, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return d.DialContext(ctx, "tcp", "bank.example:443")
			}, 2 * time.Second},
	}
	for _, tt := range deadlineTests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			d := tt.dialer
			d.Resolver, d.dial = static("93.184.216.34"), rec.dial
			start := time.Now()
			conn, err := tt.dial(&d)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			left := rec.deadline.Sub(start)
			if left > tt.timeout+time.Second || left < tt.timeout-time.Second {
				t.Errorf("dial deadline %v after start, want about %v", left, tt.timeout)
			}
		})
	}
}

func TestNetHTTPThroughDialer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "http://sim.test:" + port + "/"

	get := func(d *Dialer) (string, error) {
		tr := &http.Transport{DialContext: d.DialContext}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	body, err := get(&Dialer{Resolver: static("127.0.0.1"), AllowRanges: loopback})
	if err != nil || body != "ok" {
		t.Fatalf("with loopback allowed: %q, %v", body, err)
	}
	_, err = get(&Dialer{Resolver: static("127.0.0.1")})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("without allow ranges: %v, want ErrDenied", err)
	}
}

func TestConnectFailuresAreDialOpErrors(t *testing.T) {
	t.Run("connection refused on a closed loopback port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		d := &Dialer{AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		_, err = d.DialTimeout(addr, 5*time.Second)
		if err == nil || errors.Is(err, ErrDenied) || !isDialOpError(err) {
			t.Fatalf("got %v, want a dial *net.OpError that is not a denial", err)
		}
		if !strings.Contains(err.Error(), "allowlist: connect to "+addr) {
			t.Errorf("error %q does not name the address", err)
		}
	})
	t.Run("plain error from the dial function is wrapped", func(t *testing.T) {
		d := &Dialer{Resolver: static("93.184.216.34"), dial: func(context.Context, *net.Dialer, string, string) (net.Conn, error) {
			return nil, errors.New("boom")
		}}
		_, err := d.DialTimeout("bank.example:443", time.Second)
		if !isDialOpError(err) || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("got %v, want a dial *net.OpError around boom", err)
		}
	})
}
