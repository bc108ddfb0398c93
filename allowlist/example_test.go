package allowlist_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/posrelay/posrelay/allowlist"
)

func Example() {
	eps, err := allowlist.Lookup(allowlist.VakifBank, allowlist.EnvProd, allowlist.HostSetClassic)
	if err != nil {
		panic(err)
	}
	list, err := eps.List()
	if err != nil {
		panic(err)
	}
	fmt.Println(list.HostPorts())

	// A payment-page URL from the bank's register answer must be on the list
	// before the shopper is sent there.
	fmt.Println(list.CheckURL("https://cpweb.vakifbank.com.tr/CommonPayment/SecurePayment?Ptkn=abc") == nil)
	err = list.CheckURL("https://cpweb.vakifbank.com.tr.evil.example/CommonPayment/SecurePayment")
	fmt.Println(errors.Is(err, allowlist.ErrDenied))

	// The dialer for fasthttp.HostClient.DialTimeout or http.Transport.DialContext.
	d := &allowlist.Dialer{List: list, SourceIP: netip.MustParseAddr("198.51.100.20")}
	fmt.Printf("%q\n", d.Classify(netip.MustParseAddr("169.254.169.254")))
	// Output:
	// [3dsecure.vakifbank.com.tr:443 cpweb.vakifbank.com.tr:443 onlineodeme.vakifbank.com.tr:4443]
	// true
	// true
	// "link-local, the cloud metadata service (169.254.169.254/32)"
}

func ExampleNormalizeHost() {
	for _, h := range []string{"SanalPos.Halkbank.com.TR.", "ödeme.örnek.tr:0443", "[2001:DB8::1]:443", "2130706433"} {
		n, err := allowlist.NormalizeHost(h)
		fmt.Println(n, err != nil)
	}
	// Output:
	// sanalpos.halkbank.com.tr false
	// xn--deme-4qa.xn--rnek-4qa.tr:443 false
	// [2001:db8::1]:443 false
	//  true
}
