package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults for the Dialer's zero fields.
const (
	DefaultDNSTimeout     = 5 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// Resolver is what the dialer needs from DNS; *net.Resolver satisfies it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Dialer is the guarded dialer every outbound connection goes through. For
// each dial it normalises the address, checks the host against List,
// resolves the name once (IP literals are not resolved), sorts every answer
// into allowed or refused address classes, and connects to the first allowed
// address, the very IP it checked, so a DNS answer that changes between
// check and connect (DNS rebinding) cannot redirect it. TLS is left to the
// caller, which verifies the certificate against the host name: fasthttp
// takes the server name from HostClient.Addr, net/http from the request.
//
// Refused address classes: unspecified, "this network" 0.0.0.0/8, loopback,
// private (RFC 1918, IPv6 unique local), link-local (including the cloud
// metadata address 169.254.169.254), carrier-grade NAT 100.64.0.0/10,
// 192.0.0.0/24, documentation and benchmarking ranges, multicast, broadcast,
// reserved 240.0.0.0/4, IPv6 forms that embed an IPv4 address
// (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), the rest of
// 2001::/23, site-local, and IPv6 outside 2000::/3. AllowRanges overrides
// all of them.
//
// Errors: nothing has been sent when a dial fails. A refusal wraps
// ErrDenied (a *DeniedError); every other failure (lookup, address family,
// connect, timeouts) wraps a *net.OpError with Op "dial", as net.Dialer's
// do, so callers can tell "never reached the bank" from "answer lost".
// Timeouts also satisfy net.Error's Timeout and errors.Is(err,
// context.DeadlineExceeded).
//
// The zero Dialer is ready to use. Its fields must not change once it is in
// use; it is then safe for concurrent use.
type Dialer struct {
	// List is the set of allowed host:port. nil allows any host (webhooks
	// to sites); the address checks still apply.
	List *List
	// Resolver answers DNS questions. nil means net.DefaultResolver.
	Resolver Resolver
	// AllowRanges are addresses normally refused but explicitly allowed,
	// e.g. 127.0.0.0/8 for simulators on loopback in tests and the demo.
	AllowRanges []netip.Prefix
	// SourceIP, when valid, is the local address outbound connections are
	// bound to (the address the banks whitelisted). Only destinations of
	// its family are then dialled.
	SourceIP netip.Addr
	// DNSTimeout bounds the lookup. Zero means DefaultDNSTimeout.
	DNSTimeout time.Duration
	// ConnectTimeout bounds a dial (lookup and connect) when the caller
	// gives no timeout of its own: DialContext, and DialTimeout with a
	// timeout <= 0 (fasthttp passes 0 for requests without a deadline).
	// Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// dial connects; nil means nd.DialContext. Tests replace it.
	dial func(ctx context.Context, nd *net.Dialer, network, address string) (net.Conn, error)
}

// DialTimeout has fasthttp's DialFuncWithTimeout signature: addr is
// host:port, and timeout bounds the lookup and the connect together.
func (d *Dialer) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return d.dialContext(context.Background(), "tcp", addr, timeout)
}

// DialContext has net.Dialer.DialContext's signature, for net/http users.
// network is tcp, tcp4 or tcp6. The dial ends at ctx's deadline or after
// ConnectTimeout, whichever comes first.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dialContext(ctx, network, addr, 0)
}

func (d *Dialer) dialContext(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("allowlist: network %q is not supported; use tcp, tcp4 or tcp6", network)}
	}
	hp, err := NormalizeHost(addr)
	if err != nil {
		return nil, &DeniedError{Target: "address " + strconv.Quote(addr), Reason: strings.TrimPrefix(err.Error(), "allowlist: "), Fix: "give host:port"}
	}
	if !hasPort(hp) {
		return nil, &DeniedError{Target: hp, Reason: "the address has no port", Fix: "give host:port (with fasthttp, set HostClient.Addr to host:443)"}
	}
	host, portStr, _ := net.SplitHostPort(hp)
	port, _ := strconv.ParseUint(portStr, 10, 16) // NormalizeHost checked it
	if d.List != nil && !d.List.Allows(hp) {
		return nil, &DeniedError{
			Target: hp,
			Reason: "not on the allowlist (allowed: " + d.List.summary() + ")",
			Fix:    "only the configured bank endpoints may be dialled; for a new bank host configure a custom environment",
		}
	}

	if timeout <= 0 {
		timeout = d.ConnectTimeout
		if timeout <= 0 {
			timeout = DefaultConnectTimeout
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip} // a literal: nothing to resolve
	} else {
		ips, err = d.lookup(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}

	ip, err := d.pick(hp, network, ips)
	if err != nil {
		if errors.Is(err, ErrDenied) {
			return nil, err
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	nd := &net.Dialer{}
	if d.SourceIP.IsValid() {
		nd.LocalAddr = &net.TCPAddr{IP: d.SourceIP.AsSlice(), Zone: d.SourceIP.Zone()}
	}
	target := netip.AddrPortFrom(ip, uint16(port)).String()
	dial := d.dial
	if dial == nil {
		dial = func(ctx context.Context, nd *net.Dialer, network, address string) (net.Conn, error) {
			return nd.DialContext(ctx, network, address)
		}
	}
	conn, err := dial(ctx, nd, network, target)
	if err != nil {
		err = &dialError{fmt.Sprintf("allowlist: connect to %s (%s)", hp, ip), err}
		if opErr := (*net.OpError)(nil); !errors.As(err, &opErr) || opErr.Op != "dial" {
			err = &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return nil, err
	}
	return conn, nil
}

// lookup resolves host once, under DNSTimeout.
func (d *Dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	t := d.DNSTimeout
	if t <= 0 {
		t = DefaultDNSTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	answers, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, &dialError{"allowlist: resolve " + host, err}
	}
	ips := make([]netip.Addr, 0, len(answers))
	for _, a := range answers {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		// net.IP keeps IPv4 answers in 16-byte form; unmapping also turns
		// an AAAA answer ::ffff:127.0.0.1 into the 127.0.0.1 it reaches.
		ip = ip.Unmap()
		if ip.Is6() && a.Zone != "" {
			ip = ip.WithZone(a.Zone)
		}
		ips = append(ips, ip)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("allowlist: resolve %s: no addresses; check the host name", host)
	}
	return ips, nil
}

// pick returns the first address that may be dialled. When none may, the
// error is a DeniedError if every answer is refused, and a plain error if
// some were allowed but of the wrong family for network or SourceIP.
func (d *Dialer) pick(hp, network string, ips []netip.Addr) (netip.Addr, error) {
	want4 := network == "tcp4" || d.SourceIP.IsValid() && d.SourceIP.Unmap().Is4()
	want6 := network == "tcp6" || d.SourceIP.IsValid() && !d.SourceIP.Unmap().Is4()
	var refused, fixes []string
	wrongFamily := false
	for _, ip := range ips {
		if c := d.classify(ip); c != nil {
			refused = append(refused, ip.String()+" is "+c.String())
			if fix := "add " + c.prefix.String() + " to " + allowRangesKey; c.prefix.IsValid() && !slices.Contains(fixes, fix) {
				fixes = append(fixes, fix)
			}
			continue
		}
		if want4 && !ip.Is4() || want6 && ip.Is4() {
			wrongFamily = true
			continue
		}
		return ip, nil
	}
	if wrongFamily {
		of := "network " + network
		if d.SourceIP.IsValid() {
			of = "source address " + d.SourceIP.String()
		}
		return netip.Addr{}, fmt.Errorf("allowlist: %s has no allowed address of the family of the %s (answers: %s); set egress.source_ip to an address of the other family, or leave it empty", hp, of, joinAddrs(ips))
	}
	fix := "if this is intended (a simulator or a private bank link), " + strings.Join(fixes, " and ")
	if len(fixes) == 0 {
		fix = ""
	}
	return netip.Addr{}, &DeniedError{Target: hp, Reason: strings.Join(refused, ", "), Fix: fix}
}

// Classify reports why ip would be refused, e.g. "loopback (127.0.0.0/8)",
// or "" if the dialer may connect to it. AllowRanges is consulted first.
// A nil *Dialer classifies with no AllowRanges.
func (d *Dialer) Classify(ip netip.Addr) string {
	if c := d.classify(ip); c != nil {
		return c.String()
	}
	return ""
}

type addrClass struct {
	name   string
	prefix netip.Prefix
}

func (c *addrClass) String() string {
	if !c.prefix.IsValid() {
		return c.name
	}
	return c.name + " (" + c.prefix.String() + ")"
}

// refusedRanges is checked in order; more specific prefixes come first.
var refusedRanges = func() []addrClass {
	rules := []struct{ prefix, name string }{
		{"0.0.0.0/32", "the unspecified address"},
		{"0.0.0.0/8", `"this network"`},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.169.254/32", "link-local, the cloud metadata service"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
		{"192.0.2.0/24", "documentation (TEST-NET-1)"},
		{"192.88.99.0/24", "6to4 relay anycast (deprecated)"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking (RFC 2544)"},
		{"198.51.100.0/24", "documentation (TEST-NET-2)"},
		{"203.0.113.0/24", "documentation (TEST-NET-3)"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "limited broadcast"},
		{"240.0.0.0/4", "reserved (class E)"},

		{"::/128", "the unspecified address"},
		{"::1/128", "loopback"},
		{"::ffff:0:0/96", "IPv4-mapped IPv6"},
		{"::ffff:0:0:0/96", "IPv4-translated IPv6 (SIIT)"},
		{"::/96", "IPv4-compatible IPv6 (deprecated)"},
		{"64:ff9b::/96", "NAT64 (embeds an IPv4 address)"},
		{"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
		{"100::/64", "discard-only (RFC 6666)"},
		{"2001::/32", "Teredo (embeds an IPv4 address)"},
		{"2001:db8::/32", "documentation"},
		{"2001::/23", "IETF protocol assignments (RFC 2928)"},
		{"2002::/16", "6to4 (embeds an IPv4 address)"},
		{"3fff::/20", "documentation (RFC 9637)"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]addrClass, len(rules))
	for i, r := range rules {
		out[i] = addrClass{r.name, netip.MustParsePrefix(r.prefix)}
	}
	return out
}()

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

func (d *Dialer) classify(ip netip.Addr) *addrClass {
	if !ip.IsValid() {
		return &addrClass{"not an IP address", netip.Prefix{}}
	}
	// A prefix never contains an address with a zone: strip it, or
	// fe80::1%eth0 would match nothing and pass.
	ip = ip.WithZone("")
	if d != nil {
		for _, p := range d.AllowRanges {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	for i := range refusedRanges {
		if refusedRanges[i].prefix.Contains(ip) {
			return &refusedRanges[i]
		}
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return &addrClass{"outside the IPv6 global unicast space 2000::/3", netip.PrefixFrom(ip, 128)}
	}
	if !ip.IsGlobalUnicast() { // unreachable while the table is complete
		return &addrClass{"not global unicast", netip.PrefixFrom(ip, ip.BitLen())}
	}
	return nil
}

// dialError adds context to a lookup or connect failure and keeps its
// Timeout visible: net.OpError.Timeout looks only at the error it wraps.
type dialError struct {
	msg string
	err error
}

func (e *dialError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// Timeout reports whether the cause was a timeout.
func (e *dialError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

func joinAddrs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
