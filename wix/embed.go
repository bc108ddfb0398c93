// Package wix holds the Velo kit a Wix site pastes in (backend/), its Node
// test harness and stand-ins for the wix-* modules (testing/, test/), and
// the Go test that runs those Node tests against a real relay. Kit embeds
// the kit and the stand-ins so `posrelay demo` can run the same code as the
// demo shop's backend when Node is installed.
package wix

import "embed"

// Kit is backend/ and testing/ (with package.json) as they are in the repository.
//
//go:embed package.json backend testing
var Kit embed.FS
