package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Bank names a bank the relay talks to.
type Bank string

// The banks in scope.
const (
	Halkbank  Bank = "halkbank"
	QNB       Bank = "qnb"
	VakifBank Bank = "vakifbank"
)

// Banks returns every known bank, sorted.
func Banks() []Bank { return []Bank{Halkbank, QNB, VakifBank} }

// Service names one endpoint of a bank.
type Service string

// The endpoints of each bank (pos-protocols.md §1.1, §2.1, §3A.1, §3B).
const (
	ESTGate Service = "est_gate" // Halkbank 3-D gate (est3Dgate)
	ESTAPI  Service = "est_api"  // Halkbank /fim/api

	PayForGate Service = "payfor_gate" // QNB Default.aspx (3DModel/3DPay)
	PayForHost Service = "payfor_host" // QNB 3DHost.aspx
	PayForAPI  Service = "payfor_api"  // QNB XMLGate.aspx

	VakifMPI        Service = "vakif_mpi"         // MPI enrollment
	VakifVPOS       Service = "vakif_vpos"        // VPOS Vposreq
	VakifSearch     Service = "vakif_search"      // SearchRequest (status)
	VakifCPRegister Service = "vakif_cp_register" // Common Payment RegisterTransaction
	VakifCPPage     Service = "vakif_cp_page"     // SecurePayment page (the register answer gives the exact URL; it must be on this host)
	VakifCPQuery    Service = "vakif_cp_query"    // Common Payment VposTransaction
)

// Environments and VakıfBank host sets accepted by Lookup.
const (
	EnvTest = "test"
	EnvProd = "prod"

	// HostSetClassic is VakıfBank's :4443 onlineodeme/3dsecure hosts, the
	// ones the reference library uses. An empty host set means this one.
	HostSetClassic = "classic"
	// HostSetAPIGW is VakıfBank's 2026 API-gateway hosts (apigw… and
	// inbound.apigateway… on :8443) for MPI and VPOS. Search and Common
	// Payment stay on their classic hosts.
	HostSetAPIGW = "apigw"
)

// Endpoints maps a bank's services to full http(s) URLs.
type Endpoints map[Service]string

// URLs returns the endpoint URLs, sorted and without duplicates, ready for
// NewList.
func (e Endpoints) URLs() []string {
	urls := make([]string, 0, len(e))
	for _, u := range e {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	return slices.Compact(urls)
}

// List returns the allowlist of these endpoints.
func (e Endpoints) List() (*List, error) { return NewList(e.URLs()...) }

type tableKey struct {
	bank    Bank
	env     string
	hostSet string // "" for banks without host sets
}

// table holds the built-in endpoints. Where pos-protocols.md marks a point
// UNCERTAIN the comment names the section and the choice made; the
// alternative is always reachable through a custom environment (Custom).
var table = map[tableKey]Endpoints{
	// §1.1. Test: the shared Asseco sandbox.
	{Halkbank, EnvTest, ""}: {
		ESTGate: "https://entegrasyon.asseco-see.com.tr/fim/est3Dgate",
		ESTAPI:  "https://entegrasyon.asseco-see.com.tr/fim/api",
	},
	// §1.1 UNCERTAIN (and §7 item 1): path case est3dgate (library) vs
	// est3Dgate (CP.VPOS, nestpay.go, every other EST bank and the test
	// host). The document recommends est3Dgate; IIS paths are
	// case-insensitive in practice, and only the path differs, so the
	// allowlisted host:port is the same either way.
	{Halkbank, EnvProd, ""}: {
		ESTGate: "https://sanalpos.halkbank.com.tr/fim/est3Dgate",
		ESTAPI:  "https://sanalpos.halkbank.com.tr/fim/api",
	},
	// §2.1.
	{QNB, EnvTest, ""}: {
		PayForGate: "https://vpostest.qnbfinansbank.com/Gateway/Default.aspx",
		PayForHost: "https://vpostest.qnbfinansbank.com/Gateway/3DHost.aspx",
		PayForAPI:  "https://vpostest.qnbfinansbank.com/Gateway/XMLGate.aspx",
	},
	// §2.1 UNCERTAIN (and §7 item 5): QNB sent "new submission addresses"
	// in 2026, probably vpos.qnb.com.tr / vpostest.qnb.com.tr, but only as
	// an image. The documented qnbfinansbank.com hosts stay the default;
	// a merchant told to use the new name configures a custom environment
	// with base https://vpos.qnb.com.tr (same /Gateway/ paths).
	{QNB, EnvProd, ""}: {
		PayForGate: "https://vpos.qnbfinansbank.com/Gateway/Default.aspx",
		PayForHost: "https://vpos.qnbfinansbank.com/Gateway/3DHost.aspx",
		PayForAPI:  "https://vpos.qnbfinansbank.com/Gateway/XMLGate.aspx",
	},
	// §3A.1 and §3B, classic hosts.
	{VakifBank, EnvTest, HostSetClassic}: {
		VakifMPI:        "https://3dsecuretest.vakifbank.com.tr:4443/MPIAPI/MPI_Enrollment.aspx",
		VakifVPOS:       "https://onlineodemetest.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx",
		VakifSearch:     "https://onlineodemetest.vakifbank.com.tr:4443/UIService/Search.aspx",
		VakifCPRegister: "https://cptest.vakifbank.com.tr/CommonPayment/api/RegisterTransaction",
		VakifCPPage:     "https://cptest.vakifbank.com.tr/CommonPayment/SecurePayment",
		VakifCPQuery:    "https://cptest.vakifbank.com.tr/CommonPayment/api/VposTransaction",
	},
	// §3A.1: the production MPI URL is the one VakıfBank support gave
	// (https://3dsecure.vakifbank.com.tr/MPIAPI/MPI_Enrollment.aspx, port
	// 443), not the library's :4443 form. In mewebstudio/pos issue #186 the
	// :4443 form sent the shopper to a "Site is working" page instead of
	// the callback in production, and the bank's answer was the port-less
	// URL; the bank's own word beats the library's config. The test MPI
	// keeps :4443, which works (no report says otherwise). VPOS and Search
	// keep :4443 in production: VakıfBank's own sample uses it for VPOS and
	// issue #229 for Search.
	{VakifBank, EnvProd, HostSetClassic}: {
		VakifMPI:        "https://3dsecure.vakifbank.com.tr/MPIAPI/MPI_Enrollment.aspx",
		VakifVPOS:       "https://onlineodeme.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx",
		VakifSearch:     "https://onlineodeme.vakifbank.com.tr:4443/UIService/Search.aspx",
		VakifCPRegister: "https://cpweb.vakifbank.com.tr/CommonPayment/api/RegisterTransaction",
		VakifCPPage:     "https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment",
		VakifCPQuery:    "https://cpweb.vakifbank.com.tr/CommonPayment/api/VposTransaction",
	},
	// §3A.1 UNCERTAIN (and §7 item 6): the 2026 API-gateway hosts
	// (CP.VPOS commit c34b9fb). Only MPI and VPOS moved; Search and Common
	// Payment stay on the classic hosts. Which set a merchant must use is
	// the bank's call, hence the explicit host set.
	{VakifBank, EnvTest, HostSetAPIGW}: {
		VakifMPI:        "https://inbound.apigatewaytest.vakifbank.com.tr:8443/threeDGateway/Enrollment",
		VakifVPOS:       "https://apiportalprep.vakifbank.com.tr:8443/virtualPos/Vposreq",
		VakifSearch:     "https://onlineodemetest.vakifbank.com.tr:4443/UIService/Search.aspx",
		VakifCPRegister: "https://cptest.vakifbank.com.tr/CommonPayment/api/RegisterTransaction",
		VakifCPPage:     "https://cptest.vakifbank.com.tr/CommonPayment/SecurePayment",
		VakifCPQuery:    "https://cptest.vakifbank.com.tr/CommonPayment/api/VposTransaction",
	},
	{VakifBank, EnvProd, HostSetAPIGW}: {
		VakifMPI:        "https://inbound.apigateway.vakifbank.com.tr:8443/threeDGateway/Enrollment",
		VakifVPOS:       "https://apigw.vakifbank.com.tr:8443/virtualPos/Vposreq",
		VakifSearch:     "https://onlineodeme.vakifbank.com.tr:4443/UIService/Search.aspx",
		VakifCPRegister: "https://cpweb.vakifbank.com.tr/CommonPayment/api/RegisterTransaction",
		VakifCPPage:     "https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment",
		VakifCPQuery:    "https://cpweb.vakifbank.com.tr/CommonPayment/api/VposTransaction",
	},
}

// standardPaths are each bank's endpoint paths, used by Custom.
var standardPaths = map[Bank]map[Service]string{
	Halkbank: {
		ESTGate: "/fim/est3Dgate",
		ESTAPI:  "/fim/api",
	},
	QNB: {
		PayForGate: "/Gateway/Default.aspx",
		PayForHost: "/Gateway/3DHost.aspx",
		PayForAPI:  "/Gateway/XMLGate.aspx",
	},
	VakifBank: {
		VakifMPI:        "/MPIAPI/MPI_Enrollment.aspx",
		VakifVPOS:       "/VposService/v3/Vposreq.aspx",
		VakifSearch:     "/UIService/Search.aspx",
		VakifCPRegister: "/CommonPayment/api/RegisterTransaction",
		VakifCPPage:     "/CommonPayment/SecurePayment",
		VakifCPQuery:    "/CommonPayment/api/VposTransaction",
	},
}

func checkBank(bank Bank) error {
	if _, ok := standardPaths[bank]; !ok {
		return fmt.Errorf("allowlist: unknown bank %q; use halkbank, qnb or vakifbank", string(bank))
	}
	return nil
}

// Lookup returns the built-in endpoints of bank in env ("test" or "prod").
// hostSet matters only for VakıfBank: "classic" (the :4443
// onlineodeme/3dsecure hosts; also what "" means) or "apigw" (the 2026
// apigw/inbound.apigateway :8443 hosts for MPI and VPOS; Search and Common
// Payment stay on their classic hosts). Other banks accept "" or either name
// and ignore it. The returned map is the caller's to keep.
func Lookup(bank Bank, env, hostSet string) (Endpoints, error) {
	if err := checkBank(bank); err != nil {
		return nil, err
	}
	if env != EnvTest && env != EnvProd {
		return nil, fmt.Errorf("allowlist: unknown environment %q for %s; use %q (the bank's sandbox) or %q, or a custom environment with a base URL",
			env, bank, EnvTest, EnvProd)
	}
	switch hostSet {
	case "", HostSetClassic, HostSetAPIGW:
	default:
		return nil, fmt.Errorf("allowlist: unknown VakıfBank host set %q; use %q (the :4443 onlineodeme/3dsecure hosts) or %q (the 2026 :8443 API-gateway hosts)",
			hostSet, HostSetClassic, HostSetAPIGW)
	}
	key := tableKey{bank, env, ""}
	if bank == VakifBank {
		key.hostSet = hostSet
		if key.hostSet == "" {
			key.hostSet = HostSetClassic
		}
	}
	src, ok := table[key]
	if !ok { // unreachable while the table covers every valid key
		return nil, fmt.Errorf("allowlist: no built-in endpoints for %s %s %s; configure a custom environment", bank, env, hostSet)
	}
	eps := make(Endpoints, len(src))
	for s, u := range src {
		eps[s] = u
	}
	return eps, nil
}

// Custom returns the endpoints of bank for a custom environment (a simulator
// or a bank's new host) rooted at baseURL, using the bank's standard paths:
// halkbank /fim/est3Dgate and /fim/api; qnb /Gateway/Default.aspx,
// /Gateway/3DHost.aspx, /Gateway/XMLGate.aspx; vakifbank
// /MPIAPI/MPI_Enrollment.aspx, /VposService/v3/Vposreq.aspx,
// /UIService/Search.aspx, /CommonPayment/api/RegisterTransaction,
// /CommonPayment/SecurePayment, /CommonPayment/api/VposTransaction.
//
// baseURL must be http or https with a host, and without user info, query or
// fragment. A path in baseURL is kept as a prefix
// (http://127.0.0.1:9000/sim + /fim/api). The host is normalised as by
// NormalizeHost.
func Custom(bank Bank, baseURL string) (Endpoints, error) {
	if err := checkBank(bank); err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("allowlist: custom base URL %q for %s: %s", baseURL, bank, fmt.Sprintf(format, args...))
	}
	if err := checkURLChars(baseURL); err != nil {
		return nil, fail("%v", err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fail("not a URL (%v); write it as https://host[:port]", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fail("scheme %q is not supported; use https:// (or http:// for a local simulator)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fail("no host; write it as %s://host[:port]", u.Scheme)
	}
	if u.User != nil {
		return nil, fail("user info is not allowed; remove the user@ part")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(baseURL, "#") {
		return nil, fail("query or fragment is not allowed; give only scheme, host, port and an optional path prefix")
	}
	host, err := NormalizeHost(u.Host)
	if err != nil {
		return nil, fail("%v", err)
	}
	if u.Scheme == "http" && !isLoopbackName(u.Hostname()) {
		// Bank credentials, signed forms and (for some models) card data
		// travel on this connection.
		return nil, fail("plain http is only for a simulator on this machine (localhost or a loopback address); use https://")
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	eps := make(Endpoints, len(standardPaths[bank]))
	for s, p := range standardPaths[bank] {
		eps[s] = u.Scheme + "://" + host + prefix + p
	}
	return eps, nil
}

// isLoopbackName reports whether host is localhost or a loopback address.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
