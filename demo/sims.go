package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// challengeCode is the simulators' 3-D Secure one-time code.
const challengeCode = banksim.ChallengeCode

// simBank is one bank of the demo: its default account and its simulator.
type simBank struct {
	// account returns the demo's merchant account: model and credentials
	// (demo.json names). Secrets are generated per run.
	account func() BankInfo
	// simulator serves the bank for that account. relayIP is the address
	// the relay's server-side calls come from (127.0.0.2 where the system
	// allows binding it, so a simulator can tell the relay from the
	// shopper's browser on 127.0.0.1; invalid when it cannot).
	simulator func(bi BankInfo, relayIP netip.Addr) (http.Handler, error)
}

// bankDefaults has one entry per bank; each bank's file registers it
// (sim_halkbank.go, …).
var bankDefaults = map[string]simBank{}

func randomSecret() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// startSimulators starts a simulator for every bank not pointed elsewhere
// by --bank-url, and returns each bank's demo account.
func startSimulators(ctx context.Context, wg *sync.WaitGroup, override, models map[string]string, relayIP netip.Addr, now func() time.Time) (map[string]BankInfo, error) {
	out := map[string]BankInfo{}
	names := make([]string, 0, len(bankDefaults))
	for bank := range bankDefaults {
		names = append(names, bank)
	}
	sort.Strings(names)
	for _, bank := range names {
		sb := bankDefaults[bank]
		bi := sb.account()
		bi.Now = now
		if m, ok := models[bank]; ok {
			bi.Model = m
		}
		if u, ok := override[bank]; ok {
			bi.Endpoint = strings.TrimRight(u, "/")
			absoluteExtra(&bi)
			out[bank] = bi
			continue
		}
		h, err := sb.simulator(bi, relayIP)
		if err != nil {
			return nil, fmt.Errorf("%s simulator: %w", bank, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("%s simulator: %w", bank, err)
		}
		bi.Endpoint = "http://" + ln.Addr().String()
		absoluteExtra(&bi)
		serveBackground(ctx, wg, ln, h)
		out[bank] = bi
	}
	return out, nil
}

// absoluteExtra turns endpoint paths in bi.Extra ("/MPIAPI/…") into URLs
// on bi.Endpoint, so demo.json lists usable addresses.
func absoluteExtra(bi *BankInfo) {
	for k, v := range bi.Extra {
		if strings.HasPrefix(v, "/") {
			bi.Extra[k] = bi.Endpoint + v
		}
	}
}

// cardLines describes the simulator test cards for people.
func cardLines() []string {
	var out []string
	for _, c := range banksim.TestCards {
		out = append(out, fmt.Sprintf("%s  %-10s %s", c.PAN, c.Brand, c.Note))
	}
	return out
}

// relayEgressIP picks the address the demo relay's outbound calls leave
// from: 127.0.0.2 when it can be bound (Linux), so simulators can tell
// server-side calls from the browser's. Otherwise the zero address.
func relayEgressIP() netip.Addr {
	a := netip.MustParseAddr("127.0.0.2")
	ln, err := net.Listen("tcp", a.String()+":0")
	if err != nil {
		return netip.Addr{}
	}
	ln.Close()
	return a
}

// relayPrefixes is the relay's egress address as the one prefix a
// simulator takes server calls from; nil (from anywhere) when unknown.
func relayPrefixes(ip netip.Addr) []netip.Prefix {
	if !ip.IsValid() {
		return nil
	}
	return []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())}
}
