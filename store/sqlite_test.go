package store

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/posrelay/posrelay/bank"
)

func openTestSQLite(t testing.TB, path string, opts SQLiteOptions) *SQLite {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "journal.db")
	}
	s, err := OpenSQLite(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeJournal(t testing.TB, j Journal) {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// fast is for tests about behaviour, not durability: the commits are the
// same, without waiting for this machine's fsync, whose latency swings
// between 0.2 and 400 ms. The durability tests use the default, "full".
var fast = SQLiteOptions{Synchronous: "normal"}

func TestSQLiteJournal(t *testing.T) {
	testJournal(t, func(t *testing.T) Journal { return openTestSQLite(t, "", fast) })
}

// pragma reads a PRAGMA on the write connection.
func pragma(t *testing.T, s *SQLite, name string) string {
	t.Helper()
	var v string
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestSQLiteSettings(t *testing.T) {
	tests := []struct {
		name        string
		opts        SQLiteOptions
		synchronous string // PRAGMA synchronous: 1 NORMAL, 2 FULL
		busy        string
	}{
		{"defaults", SQLiteOptions{}, "2", "5000"},
		{"full", SQLiteOptions{Synchronous: "full", BusyTimeout: time.Second}, "2", "1000"},
		{"normal", SQLiteOptions{Synchronous: "NORMAL"}, "1", "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestSQLite(t, "", tt.opts)
			defer closeJournal(t, s)
			for name, want := range map[string]string{
				"synchronous":  tt.synchronous,
				"busy_timeout": tt.busy,
				"journal_mode": "wal",
				"foreign_keys": "1",
			} {
				if got := pragma(t, s, name); got != want {
					t.Errorf("PRAGMA %s = %s, want %s", name, got, want)
				}
			}
			// The read pool cannot write.
			_, err := s.r.ExecContext(t.Context(), "INSERT INTO schema_migrations VALUES (99, 'x', 0)")
			if err == nil {
				t.Error("insert through the read pool succeeded")
			}
		})
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE things (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		name string
		path string
		opts SQLiteOptions
		want string // in the error
	}{
		{"empty path", "", SQLiteOptions{}, "empty journal path"},
		{"missing directory", filepath.Join(dir, "nope", "journal.db"), SQLiteOptions{}, "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"parent is a file", filepath.Join(file, "journal.db"), SQLiteOptions{}, "is not a directory"},
		{"path is a directory", dir, SQLiteOptions{}, "it is a directory: give the journal a file name"},
		{"bad synchronous", filepath.Join(dir, "j.db"), SQLiteOptions{Synchronous: "off"}, `synchronous "off": want "full"`},
		{"negative busy timeout", filepath.Join(dir, "j.db"), SQLiteOptions{BusyTimeout: -time.Second}, "negative busy timeout"},
		{"not a database", garbage, SQLiteOptions{}, "is it a posrelay journal?"},
		{"another application's database", other, SQLiteOptions{}, "not a posrelay journal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenSQLite(tt.path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("OpenSQLite succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "store: open") {
				t.Errorf("error %q, want it to start with \"store: open\" and contain %q", err, tt.want)
			}
		})
	}
}

func TestSQLiteUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to any directory")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err := OpenSQLite(filepath.Join(dir, "journal.db"), SQLiteOptions{})
	if err == nil || !strings.Contains(err.Error(), "check the state directory is writable") {
		t.Errorf("OpenSQLite in a read-only directory: %v", err)
	}
}

func TestSQLiteFileMode(t *testing.T) {
	s := openTestSQLite(t, "", SQLiteOptions{})
	defer closeJournal(t, s)
	mustCreate(t, s, newPayment("pay_1", "site_a", "o1", t0)) // makes the WAL and its index
	for _, name := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}

func TestSQLiteDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s := openTestSQLite(t, path, SQLiteOptions{})
	p := newPayment("pay_1", "site_a", "o1", t0)
	mustCreate(t, s, p)
	want := mustUpdate(t, s, "pay_1", func(p *Payment) (*Change, error) {
		p.Status, p.Stage = StatusSucceeded, StageDone
		return &Change{
			Events:   []Event{{Kind: "succeeded"}},
			Webhooks: []Webhook{{ID: "msg_1", EventType: "payment.succeeded", Body: []byte("{}")}},
		}, nil
	})
	closeJournal(t, s)
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL is left after Close (%v): it should be checkpointed into the database", err)
	}

	s = openTestSQLite(t, path, SQLiteOptions{})
	defer closeJournal(t, s)
	got, err := s.GetPayment(t.Context(), "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, "after reopen", got, want)
	if evs, err := s.Events(t.Context(), "pay_1"); err != nil || len(evs) != 2 {
		t.Errorf("Events after reopen = %d, %v; want 2", len(evs), err)
	}
	if ws, err := s.DueWebhooks(t.Context(), t0.Add(time.Hour), 0); err != nil || len(ws) != 1 {
		t.Errorf("DueWebhooks after reopen = %d, %v; want 1", len(ws), err)
	}
}

func TestSQLiteMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	latest := len(ms)

	// Opening again applies nothing twice.
	for range 3 {
		s := openTestSQLite(t, path, SQLiteOptions{})
		if got := pragma(t, s, "user_version"); got != fmt.Sprint(latest) {
			t.Errorf("user_version = %s, want %d", got, latest)
		}
		var n int
		if err := s.r.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != latest {
			t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, latest)
		}
		closeJournal(t, s)
	}

	// A file from a newer posrelay is refused, and left alone.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", latest+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenSQLite(path, SQLiteOptions{})
	want := fmt.Sprintf("journal schema version %d is newer than this posrelay supports (%d)", latest+1, latest)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("opening a newer schema: %v, want %q", err, want)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string // error, "" for none
	}{
		{"in order", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/0002_b.sql": file("b")}, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/0003_c.sql": file("c")}, "want the name 0002_<what>.sql"},
		{"no number", fstest.MapFS{"migrations/init.sql": file("a")}, "want the name 0001_<what>.sql"},
		{"none", fstest.MapFS{}, "no migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fs)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want == "" && (len(ms) != 2 || ms[1].version != 2 || ms[1].name != "0002_b" || ms[1].sql != "b"):
				t.Errorf("migrations = %+v", ms)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSQLiteEventsAppendOnly(t *testing.T) {
	s := openTestSQLite(t, "", SQLiteOptions{})
	defer closeJournal(t, s)
	mustCreate(t, s, newPayment("pay_1", "site_a", "o1", t0))
	tests := []struct {
		name, sql string
		want      string
	}{
		{"update", "UPDATE events SET kind = 'succeeded' WHERE payment_id = 'pay_1'", "append-only"},
		{"delete", "DELETE FROM events WHERE payment_id = 'pay_1'", "append-only"},
		{"event of no payment", "INSERT INTO events (payment_id, seq, at, kind) VALUES ('pay_nope', 1, 0, 'x')", "FOREIGN KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.w.ExecContext(t.Context(), tt.sql)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %v, want an error with %q", tt.sql, err, tt.want)
			}
		})
	}
	evs, err := s.Events(t.Context(), "pay_1")
	if err != nil || len(evs) != 1 || evs[0].Kind != "created" {
		t.Errorf("Events = %+v, %v; want the created event untouched", evs, err)
	}
}

// readCardData reads testdata/card_data.txt.
func readCardData(t *testing.T) (pans, cvvs []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "card_data.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch kind {
		case "", "#":
		case "pan":
			pans = append(pans, v)
		case "cvv":
			cvvs = append(cvvs, v)
		default:
			t.Fatalf("card_data.txt: unknown line %q", sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pans) == 0 || len(cvvs) == 0 {
		t.Fatal("card_data.txt: no PANs or CVVs")
	}
	return pans, cvvs
}

// TestSQLiteNoCardData runs every write path with what the relay derives
// from a card (masked PAN, brand) and checks that the card number and CVV
// appear nowhere in the database file or its WAL. The store is never given
// card data; this guards the schema and the row mapping against a column
// or a JSON field that would carry it.
func TestSQLiteNoCardData(t *testing.T) {
	pans, cvvs := readCardData(t)
	s := openTestSQLite(t, "", SQLiteOptions{})
	ctx := t.Context()
	for i, pan := range pans {
		id := fmt.Sprintf("pay_%d", i)
		masked := bank.MaskPAN(pan)
		p := newPayment(id, "site_a", fmt.Sprintf("order-%d", i), t0)
		p.Model = "3d_pay"
		idem := &Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "key-" + id, RequestHash: "ab", ResourceID: id, Status: 201, Body: []byte(`{"id":"` + id + `"}`)}
		if err := s.CreatePayment(ctx, p, created(t0), idem); err != nil {
			t.Fatal(err)
		}
		mustUpdate(t, s, id, func(p *Payment) (*Change, error) {
			p.Stage, p.CallbackToken = StageBankStep, "cb_"+id
			p.BankState = map[string]string{"enrollmentId": "enr-" + id, "brand": bank.BrandOf(pan)}
			return &Change{Events: []Event{{Kind: "bank_step", Detail: map[string]string{"brand": bank.BrandOf(pan)}}}}, nil
		})
		ref := bank.Ref{AuthCode: "A" + id, HostRef: "H" + id, TransID: "T" + id, MaskedPAN: masked}
		res := bank.NewResult(bank.CodeApproved, "00", "Approved")
		mustUpdate(t, s, id, func(p *Payment) (*Change, error) {
			p.Status, p.Stage, p.Result, p.Ref, p.Captured = StatusSucceeded, StageDone, &res, ref, p.Amount
			p.UpdatedAt, p.FinalAt = t0.Add(time.Minute), t0.Add(time.Minute)
			return &Change{
				Events:   []Event{{Kind: "succeeded", Detail: map[string]string{"maskedPan": masked, "authCode": ref.AuthCode}}},
				Webhooks: []Webhook{{ID: "msg_" + id, EventType: "payment.succeeded", Body: []byte(`{"maskedPan":"` + masked + `"}`)}},
			}, nil
		})
		mustUpdate(t, s, id, func(p *Payment) (*Change, error) {
			p.Refunded, p.UpdatedAt = 100, t0.Add(2*time.Minute)
			return &Change{
				Operations:  []*Operation{{ID: "op_" + id, Kind: bank.OpRefund, Amount: 100, Status: OpSucceeded, Result: &res, Ref: ref, CreatedAt: t0.Add(2 * time.Minute)}},
				Idempotency: []*Idempotency{{SiteID: "site_a", Scope: "refund " + id, Key: "r-" + id}},
			}, nil
		})
	}

	check := func(name string, mustHaveMasked bool) {
		t.Helper()
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range append(pans, cvvs...) {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains card data %q", filepath.Base(name), secret)
			}
		}
		// The control: what was written is in the file we searched.
		if mustHaveMasked && !bytes.Contains(b, []byte(bank.MaskPAN(pans[0]))) {
			t.Errorf("%s does not hold the masked PAN: the search looked at the wrong bytes", filepath.Base(name))
		}
	}
	check(s.Path(), false)
	check(s.Path()+"-wal", true)
	closeJournal(t, s)
	check(s.Path(), true) // checkpointed
}

var benchSeq atomic.Int64

// benchPayment returns a new payment as the relay creates one, with its
// idempotency record.
func benchPayment() (*Payment, *Idempotency) {
	n := benchSeq.Add(1)
	id := fmt.Sprintf("pay_%012d", n)
	p := newPayment(id, "site_a", fmt.Sprint("order-", n), t0)
	p.WixTransactionID = "wix-" + id
	return p, &Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: id, RequestHash: "3f5a", ResourceID: id}
}

// BenchmarkCreatePayment measures payment creations per second (metric
// creations/s), each with its first event and idempotency record, as
// CreatePayment makes them. full/* use the default synchronous=full: a
// creation returns once it is fsynced. serial is one caller, so every
// creation waits for its own fsync; parallel runs 8 × GOMAXPROCS callers, as
// an HTTP server would, and group commit shares each fsync among the
// creations waiting for it.
func BenchmarkCreatePayment(b *testing.B) {
	cases := []struct {
		name     string
		sync     string
		parallel bool
	}{
		{"full/serial", "full", false},
		{"full/parallel", "full", true},
		{"normal/parallel", "normal", true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := openTestSQLite(b, "", SQLiteOptions{Synchronous: bc.sync})
			defer closeJournal(b, s)
			ctx := b.Context()
			createOne := func() {
				p, idem := benchPayment()
				if err := s.CreatePayment(ctx, p, created(t0), idem); err != nil {
					b.Error(err)
				}
			}
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						createOne()
					}
				})
			} else {
				for range b.N {
					createOne()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creations/s")
		})
	}
}
