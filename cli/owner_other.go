//go:build !linux

package cli

import "io/fs"

// fileOwner does not know owners outside Linux (the relay's systemd unit
// is what makes a root run harmful), so checkRootOwner lets every run
// through there.
func fileOwner(fs.FileInfo) (uid int, ok bool) { return 0, false }
