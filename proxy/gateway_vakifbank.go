package proxy

import (
	"fmt"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/bank/payflex"
	"github.com/posrelay/posrelay/bank/vakifcp"
	"github.com/posrelay/posrelay/config"
)

// VakıfBank models (config bankModels): GET 7/24 MPI + VPOS, or Common
// Payment. The endpoints come with the account's host set applied.
func init() {
	gatewayFactories[config.VakifBank] = func(site *config.Site, a *config.Account, doer bank.Doer) (gateway, error) {
		eps := a.Endpoints
		switch a.Model {
		case "mpi":
			return payflex.New(payflex.Config{
				MerchantID: a.MerchantID, TerminalNo: a.TerminalNo, Password: a.Password.Reveal(),
				MerchantType: a.MerchantType, SubMerchantID: a.SubMerchantID,
				MPIURL: eps[allowlist.VakifMPI], VPOSURL: eps[allowlist.VakifVPOS], SearchURL: eps[allowlist.VakifSearch],
				AllowHalfSecure: site.AllowHalfSecure,
			}, doer)
		case "", "common_payment":
			return vakifcp.New(vakifcp.Config{
				MerchantID: a.MerchantID, TerminalNo: a.TerminalNo, Password: a.Password.Reveal(),
				RegisterURL: eps[allowlist.VakifCPRegister], PageURL: eps[allowlist.VakifCPPage], QueryURL: eps[allowlist.VakifCPQuery],
				VPOSURL: eps[allowlist.VakifVPOS], SearchURL: eps[allowlist.VakifSearch],
				AllowHalfSecure: site.AllowHalfSecure,
			}, doer)
		}
		return nil, fmt.Errorf("vakifbank model %q is not supported; use mpi or common_payment", a.Model)
	}
}
