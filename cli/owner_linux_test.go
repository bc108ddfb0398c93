//go:build linux

package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// statResult is an os.Stat result owned by uid.
type statResult struct{ uid uint32 }

func (s statResult) Name() string       { return "posrelay" }
func (s statResult) Size() int64        { return 4096 }
func (s statResult) Mode() fs.FileMode  { return fs.ModeDir | 0o700 }
func (s statResult) ModTime() time.Time { return time.Time{} }
func (s statResult) IsDir() bool        { return true }
func (s statResult) Sys() any           { return &syscall.Stat_t{Uid: s.uid} }

// noOwner is a stat result that does not say who owns the file.
type noOwner struct{ statResult }

func (noOwner) Sys() any { return nil }

func TestCheckRootOwner(t *testing.T) {
	const service = 61834 // a DynamicUser= uid
	cases := []struct {
		name      string
		euid      int
		fi        fs.FileInfo
		allowRoot bool
		refused   bool
	}{
		{"non-root on its own directory", service, statResult{service}, false, false},
		{"non-root on another user's directory", 1000, statResult{service}, false, false},
		{"root on a root-owned directory", 0, statResult{0}, false, false},
		{"root on the service user's directory", 0, statResult{service}, false, true},
		{"root on the service user's directory with --allow-root", 0, statResult{service}, true, false},
		{"root on a directory of unknown owner", 0, noOwner{}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRootOwner(tc.euid, "/var/lib/posrelay", tc.fi, tc.allowRoot)
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *rootOwnedError
			if !errors.As(err, &re) || re.Owner != service || re.Path != "/var/lib/posrelay" {
				t.Fatalf("err = %v; want a rootOwnedError for uid %d", err, service)
			}
		})
	}
}

// TestRootOwnedAdvice checks the refusal says why and how to run instead.
func TestRootOwnedAdvice(t *testing.T) {
	e := &rootOwnedError{Path: "/var/lib/posrelay", Dir: "/var/lib/posrelay", Owner: 61834, OwnerName: "posrelay",
		Rerun: "payments list --state /var/lib/posrelay"}
	msg := e.Error()
	for _, s := range []string{
		"/var/lib/posrelay is owned by uid 61834 (posrelay), not root",
		"journal.db-wal",
		"sudo systemd-run --pipe --wait --quiet -p DynamicUser=yes -p User=posrelay -p StateDirectory=posrelay posrelay payments list --state /var/lib/posrelay",
		"sudo -u posrelay posrelay payments list --state /var/lib/posrelay",
		"--allow-root",
		"sudo chown 61834 /var/lib/posrelay/journal.db*",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	// Outside /var/lib there is no StateDirectory= to name; an unnamed
	// uid is given to sudo by number.
	e = &rootOwnedError{Path: "/srv/relay state", Owner: 4242}
	msg = e.Error()
	if strings.Contains(msg, "systemd-run") || !strings.Contains(msg, "sudo -u '#4242' posrelay <command>") || strings.Contains(msg, "chown") {
		t.Errorf("want no systemd-run or chown line, sudo -u '#4242':\n%s", msg)
	}
}

func TestStateDirectoryName(t *testing.T) {
	cases := []struct {
		name, path, want string
	}{
		{"state directory", "/var/lib/posrelay", "posrelay"},
		{"journal in it", "/var/lib/posrelay/journal.db", "posrelay"},
		{"dynamic user's real path", "/var/lib/private/posrelay", "posrelay"},
		{"elsewhere", "/srv/posrelay", ""},
		{"/var/lib itself", "/var/lib", ""},
		{"/var/lib/private itself", "/var/lib/private", ""},
		{"relative", "state", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := stateDirectoryName(tc.path)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("stateDirectoryName(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
			}
		})
	}
}

// TestJournalCommandsAsRoot runs the journal commands as a (pretend) root
// on a state directory another uid owns: refused with advice, and let
// through with --allow-root.
func TestJournalCommandsAsRoot(t *testing.T) {
	state, cfg := seedJournal(t)
	owner := os.Geteuid()
	if owner == 0 { // make the directory somebody else's, as the service's is
		owner = 4242
		for _, p := range []string{state, filepath.Join(state, "journal.db")} {
			if err := os.Chown(p, owner, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	orig := geteuid
	geteuid = func() int { return 0 }
	t.Cleanup(func() { geteuid = orig })

	cases := []struct {
		name string
		args []string
		exit int
		want []string // in stderr
	}{
		{"payments list refused", []string{"payments", "list", "--state", state, "--date", "2025-03-10"}, 1,
			[]string{"refusing to run as root", "not root", "--allow-root", "posrelay payments list --state " + state + " --date=2025-03-10"}},
		{"payments show via --config refused", []string{"payments", "show", "pay_redact1", "--config", cfg}, 1,
			[]string{"refusing to run as root", "posrelay payments show pay_redact1 --state " + state}},
		{"webhooks redeliver refused", []string{"webhooks", "redeliver", "msg_redact1", "--state", state}, 1,
			[]string{"refusing to run as root"}},
		{"report daily refused", []string{"report", "daily", "--config", cfg, "--date", "2025-03-10", "--csv"}, 1,
			[]string{"refusing to run as root", "posrelay report daily --config=" + cfg}},
		{"payments list with --allow-root", []string{"payments", "list", "--state", state, "--date", "2025-03-10", "--allow-root"}, 0, nil},
		{"webhooks list with --allow-root", []string{"webhooks", "list", "--allow-root", "--state", state}, 0, nil},
		{"report daily with --allow-root", []string{"report", "daily", "--config", cfg, "--date", "2025-03-10", "--csv", "--allow-root"}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args, "")
			if code != tc.exit {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.exit, out, errOut)
			}
			for _, s := range tc.want {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
}
