package demo

import (
	"net/http"
	"net/netip"

	"github.com/posrelay/posrelay/banksim/est"
)

func init() {
	bankDefaults["halkbank"] = simBank{
		account: func() BankInfo {
			return BankInfo{Model: "3d_pay_hosting", Fields: map[string]string{
				"clientId": "190100000", "apiUser": "POSRELAYAPI", "storeKey": randomSecret(), "apiPassword": randomSecret(),
			}}
		},
		simulator: func(bi BankInfo, _ netip.Addr) (http.Handler, error) {
			f := bi.Fields
			return est.New(est.Config{ClientID: f["clientId"], StoreKey: f["storeKey"], APIUser: f["apiUser"], APIPassword: f["apiPassword"], Now: bi.Now}).Handler(), nil
		},
	}
}
