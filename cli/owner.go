package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// checkRootOwner refuses an operator command running as root (euid 0) on
// path, fi being its stat result, when another uid owns it: SQLite would
// create journal.db-wal and journal.db-shm owned by root, and the relay,
// running as its service user (DynamicUser=, StateDirectory=), could then
// no longer write its journal. allowRoot (--allow-root) lets the run
// through. A file whose owner is unknown (as everywhere but Linux) passes.
func checkRootOwner(euid int, path string, fi fs.FileInfo, allowRoot bool) error {
	if euid != 0 || allowRoot {
		return nil
	}
	owner, ok := fileOwner(fi)
	if !ok || owner == euid {
		return nil
	}
	return &rootOwnedError{Path: path, Owner: owner}
}

// checkJournalOwner runs checkRootOwner on the state directory and on
// journal.db in it. Paths it cannot stat are left to store.OpenSQLite,
// which says what is wrong with them. rerun is the command line (without
// "posrelay") the refusal suggests running as the owner.
func checkJournalOwner(stateDir string, allowRoot bool, rerun string) error {
	euid := geteuid()
	if euid != 0 || allowRoot {
		return nil
	}
	for _, p := range []string{stateDir, filepath.Join(stateDir, "journal.db")} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if err := checkRootOwner(euid, p, fi, allowRoot); err != nil {
			var re *rootOwnedError
			if errors.As(err, &re) {
				re.Dir, re.Rerun = stateDir, rerun
				if u, err := user.LookupId(strconv.Itoa(re.Owner)); err == nil {
					re.OwnerName = u.Username
				}
			}
			return err
		}
	}
	return nil
}

// rootOwnedError is checkRootOwner's refusal. Path is owned by Owner
// (OwnerName when the uid has a name); Dir is the state directory and
// Rerun the command line to suggest, both optional.
type rootOwnedError struct {
	Path, Dir        string
	Owner            int
	OwnerName, Rerun string
}

func (e *rootOwnedError) Error() string {
	who, sudoUser := "uid "+strconv.Itoa(e.Owner), shellQuote("#"+strconv.Itoa(e.Owner))
	if e.OwnerName != "" {
		who += " (" + e.OwnerName + ")"
		sudoUser = shellQuote(e.OwnerName)
	}
	rerun := e.Rerun
	if rerun == "" {
		rerun = "<command>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to run as root: %s is owned by %s, not root; journal files root creates there "+
		"(journal.db-wal, journal.db-shm) would belong to root and the relay could no longer write its journal. "+
		"Run the command as the owner instead:\n", e.Path, who)
	// A systemd dynamic user exists only while a unit runs and cannot
	// reach /var/lib/private from outside one: run a unit with the same
	// user name (it gets the same uid) and the same StateDirectory=.
	if state, ok := stateDirectoryName(e.Path); ok {
		unitUser := e.OwnerName
		if unitUser == "" {
			unitUser = "posrelay" // DynamicUser= names the user after the unit
		}
		fmt.Fprintf(&b, "  sudo systemd-run --pipe --wait --quiet -p DynamicUser=yes -p User=%s -p StateDirectory=%s posrelay %s   (the unit's DynamicUser=)\n",
			shellQuote(unitUser), shellQuote(state), rerun)
	}
	fmt.Fprintf(&b, "  sudo -u %s posrelay %s   (a regular service user)\n", sudoUser, rerun)
	b.WriteString("or add --allow-root to run as root anyway")
	if e.Dir != "" {
		fmt.Fprintf(&b, ", then give the files back: sudo chown %d %s/journal.db*", e.Owner, shellQuote(e.Dir))
	}
	return b.String()
}

// stateDirectoryName returns the StateDirectory= name of a directory (or a
// file in one) under /var/lib, e.g. "posrelay" for /var/lib/posrelay.
func stateDirectoryName(path string) (string, bool) {
	rel, err := filepath.Rel("/var/lib", filepath.Clean(path))
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || !filepath.IsAbs(path) {
		return "", false
	}
	rel = strings.TrimPrefix(rel, "private/")
	first, _, _ := strings.Cut(rel, "/")
	if first == "" || first == "private" {
		return "", false
	}
	return first, true
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
