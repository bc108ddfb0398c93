package proxy

import (
	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/bank/est"
	"github.com/posrelay/posrelay/config"
)

func init() {
	gatewayFactories[config.Halkbank] = func(site *config.Site, a *config.Account, doer bank.Doer) (gateway, error) {
		return est.New(est.Config{
			ClientID: a.ClientID, StoreKey: a.StoreKey.Reveal(), APIUser: a.APIUser, APIPassword: a.APIPassword.Reveal(),
			Model: a.Model, GateURL: a.Endpoints[allowlist.ESTGate], APIURL: a.Endpoints[allowlist.ESTAPI],
			AllowHalfSecure: site.AllowHalfSecure,
		}, doer)
	}
}
