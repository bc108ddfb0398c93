package proxy

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/posrelay/posrelay/config"
)

type whoamiAccount struct {
	Bank        string `json:"bank"`
	Account     string `json:"account"`
	Environment string `json:"environment"`
	Model       string `json:"model"`
}

type whoamiBody struct {
	Site            string          `json:"site"`
	KeyID           string          `json:"keyId"`
	Banks           []whoamiAccount `json:"banks"`
	EgressIPs       []string        `json:"egressIps"`
	PublicURL       string          `json:"publicUrl"`
	ReturnOrigins   []string        `json:"returnOrigins"`
	MaxInstallments int             `json:"maxInstallments"`
	Version         string          `json:"version"`
	Time            string          `json:"time"`
}

// whoami tells a Velo developer which site their key belongs to, what the
// relay will talk to and which address the bank must whitelist.
func (r *Relay) whoami(ctx *fasthttp.RequestCtx, rs *reqState, site *config.Site) {
	b := whoamiBody{
		Site:            site.ID,
		KeyID:           rs.keyID,
		EgressIPs:       r.cfg.Egress.AdvertisedIPs,
		PublicURL:       r.cfg.Server.PublicURL.String(),
		ReturnOrigins:   site.ReturnOrigins,
		MaxInstallments: site.MaxInstallments,
		Version:         r.version,
		Time:            r.now().UTC().Format(time.RFC3339),
	}
	if b.EgressIPs == nil {
		b.EgressIPs = []string{}
	}
	for _, a := range site.Accounts {
		b.Banks = append(b.Banks, whoamiAccount{Bank: a.Bank, Account: a.Name, Environment: a.Environment, Model: a.Model})
	}
	rs.decision = "whoami"
	writeJSON(ctx, fasthttp.StatusOK, b)
}
