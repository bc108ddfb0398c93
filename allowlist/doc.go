// Package allowlist decides where the relay may connect to.
//
// It holds three things:
//
//   - the banks' endpoints per bank and environment (Lookup), and the same
//     paths under a custom base URL for simulators or a bank's new host
//     (Custom), as written in pos-protocols.md §1.1, §2.1, §3A.1 and §3B;
//   - host normalisation (NormalizeHost), so that two spellings of one host
//     compare equal, and the List of allowed host:port pairs built from
//     endpoint URLs, with CheckURL for URLs a bank hands back (the VakıfBank
//     payment page) before the relay sends a shopper there;
//   - the Dialer every outbound connection goes through. It checks the list,
//     resolves each name once, refuses loopback, private, link-local,
//     metadata and other special-purpose addresses unless configured ranges
//     allow them, connects to the very address it checked (so DNS rebinding
//     has no window), and binds to the relay's whitelisted source address.
//     Its DialTimeout plugs into fasthttp.HostClient, DialContext into
//     net/http.
//
// Every refusal wraps ErrDenied and says how to allow what was refused. The
// package depends on the standard library and golang.org/x/net/idna (the
// UTS #46 code the standard library itself vendors), and performs no I/O
// except in the Dialer.
package allowlist
