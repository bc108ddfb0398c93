package proxy

import (
	"crypto/x509"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// gatewayFactory builds the adapter for one merchant account of a bank.
type gatewayFactory func(site *config.Site, a *config.Account, doer bank.Doer) (gateway, error)

// gatewayFactories has one entry per bank; each bank's file registers it
// (gateway_halkbank.go, …).
var gatewayFactories = map[string]gatewayFactory{}

func newGateway(site *config.Site, a *config.Account, doer bank.Doer) (gateway, error) {
	f, ok := gatewayFactories[a.Bank]
	if !ok {
		return nil, fmt.Errorf("bank %s is not supported by this build", a.Bank)
	}
	return f(site, a, doer)
}

// buildGateways makes every site's adapters, sharing one upstream client
// whose allowlist is the union of all configured bank endpoints.
func (r *Relay) buildGateways(roots *x509.CertPool) error {
	var urls []string
	for _, s := range r.cfg.Sites {
		for _, a := range s.Accounts {
			urls = append(urls, a.Endpoints.URLs()...)
		}
	}
	slices.Sort(urls)
	list, err := allowlist.NewList(slices.Compact(urls)...)
	if err != nil {
		return fmt.Errorf("bank endpoints: %w", err)
	}
	eg := r.cfg.Egress
	dialer := &allowlist.Dialer{List: list, AllowRanges: eg.AllowRanges, SourceIP: eg.SourceIP, ConnectTimeout: eg.DialTimeout}
	r.bankList = list
	r.upstream = newUpstream(dialer, eg.BankTimeout, roots)
	r.gateways = map[string]gateway{}
	for _, s := range r.cfg.Sites {
		for _, a := range s.Accounts {
			accountList, err := a.Endpoints.List()
			if err != nil {
				return fmt.Errorf("site %s account %s endpoints: %w", s.ID, a.Name, err)
			}
			doer := accountDoer{u: r.upstream, list: accountList}
			g, err := newGateway(s, a, doer)
			if err != nil {
				return fmt.Errorf("site %s account %s: %w", s.ID, a.Name, err)
			}
			r.gateways[gatewayKey(s.ID, a.Name, a.Model)] = g
			// A payment keeps the model it was created with, so one still
			// open when the operator changes the account's model finishes
			// as it began. Credentials and endpoints are the account's for
			// every model; a model the account's settings cannot serve is
			// left out (its payments then log errNoGateway).
			for _, m := range config.Models(a.Bank) {
				if m == a.Model {
					continue
				}
				alt := *a
				alt.Model = m
				ga, err := newGateway(s, &alt, doer)
				if err != nil {
					r.log.Warn("an account's settings cannot serve another model: its payments made under that model, if any, cannot be finished",
						zap.String(logSite, s.ID), zap.String("account", a.Name), zap.String("model", m), zap.Error(err))
					continue
				}
				r.gateways[gatewayKey(s.ID, a.Name, m)] = ga
			}
		}
	}
	return nil
}

// gatewayKey names the adapter for one model of a site's account.
func gatewayKey(site, account, model string) string {
	return site + "\x00" + account + "\x00" + model
}

// errNoGateway is the cause logged when a payment's account is no longer
// in the configuration.
func errNoGateway(p *store.Payment) error {
	return fmt.Errorf("no gateway for account %s of site %s with model %s: was the account removed from the configuration?", p.Account, p.SiteID, p.Model)
}
