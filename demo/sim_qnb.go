package demo

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/posrelay/posrelay/banksim/payfor"
)

func init() {
	bankDefaults["qnb"] = simBank{
		account: func() BankInfo {
			return BankInfo{Model: "3DHost", Fields: map[string]string{
				"mbrId": "5", "merchantId": "085300000001907", "userCode": "POSRELAY_API",
				"userPass": randomSecret(), "merchantPass": randomSecret(),
			}}
		},
		simulator: func(bi BankInfo, relayIP netip.Addr) (http.Handler, error) {
			f := bi.Fields
			cfg := payfor.Config{
				MbrID: f["mbrId"], MerchantID: f["merchantId"], UserCode: f["userCode"], UserPass: f["userPass"],
				MerchantPass: f["merchantPass"], Now: bi.Now, HangFor: 15 * time.Second,
			}
			// Since 2026 QNB takes the 3-D form and XMLGate calls only from
			// the merchant's registered address: the relay's egress address.
			cfg.RelayIPs = relayPrefixes(relayIP)
			return payfor.New(cfg).Handler(), nil
		},
	}
}
