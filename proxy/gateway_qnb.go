package proxy

import (
	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/bank/payfor"
	"github.com/posrelay/posrelay/config"
)

func init() {
	gatewayFactories[config.QNB] = func(_ *config.Site, a *config.Account, doer bank.Doer) (gateway, error) {
		return payfor.New(payfor.Config{
			MbrID: a.MbrID, MerchantID: a.MerchantID, UserCode: a.UserCode, UserPass: a.UserPass.Reveal(),
			MerchantPass: a.MerchantPass.Reveal(), Model: a.Model,
			GateURL: a.Endpoints[allowlist.PayForGate], HostURL: a.Endpoints[allowlist.PayForHost], APIURL: a.Endpoints[allowlist.PayForAPI],
		}, doer)
	}
}
