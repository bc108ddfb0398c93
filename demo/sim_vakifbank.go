package demo

import (
	"net/http"
	"net/netip"

	"github.com/posrelay/posrelay/banksim/vakif"
)

func init() {
	bankDefaults["vakifbank"] = simBank{
		account: func() BankInfo {
			// Extra lists the simulator's endpoints; the demo makes them
			// absolute once the simulator listens.
			return BankInfo{Model: "mpi", Fields: map[string]string{
				"merchantId": "000100000013506", "terminalNo": "VP000579", "password": randomSecret(),
			}, Extra: map[string]string{
				"mpiUrl": vakif.MPIPath, "vposUrl": vakif.VPOSPath, "searchUrl": vakif.SearchPath,
				"cpRegisterUrl": vakif.CPRegisterPath, "cpPageUrl": vakif.CPPagePath, "cpQueryUrl": vakif.CPQueryPath,
			}}
		},
		simulator: func(bi BankInfo, relayIP netip.Addr) (http.Handler, error) {
			f := bi.Fields
			cfg := vakif.Config{MerchantID: f["merchantId"], TerminalNo: f["terminalNo"], Password: f["password"], Now: bi.Now}
			// Server calls only from the relay's egress address, as
			// VakıfBank registers the merchant's IPs (1105 otherwise).
			cfg.RelayIPs = relayPrefixes(relayIP)
			return vakif.New(cfg).Handler(), nil
		},
	}
}
