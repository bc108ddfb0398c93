package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteOptions tunes OpenSQLite. The zero value is the durable default.
type SQLiteOptions struct {
	// Synchronous is "full" (the default when empty: the WAL is fsynced on
	// every commit, so a committed payment survives a power cut) or
	// "normal" (fsync only at checkpoints: a power cut may lose the last
	// commits, never corrupt the file; a process crash loses nothing).
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock another process
	// holds (e.g. a maintenance command on the same file) before failing.
	// Zero means 5 s. Writers inside this process never wait on it: they
	// queue for the one write connection instead.
	BusyTimeout time.Duration
}

// DefaultBusyTimeout is the busy timeout used when SQLiteOptions.BusyTimeout
// is zero.
const DefaultBusyTimeout = 5 * time.Second

// SQLite is the embedded Journal: one SQLite file in WAL mode.
//
// Writes go through a pool of exactly one connection, used by one committer
// goroutine that batches concurrent writes into one transaction each with
// its own savepoint (group commit, see groupcommit.go). Its transactions
// start with BEGIN IMMEDIATE: writers in this process queue in Go (and
// honour their contexts while queued) instead of spinning in SQLite's busy
// handler, and a read-then-write transaction can never fail with
// SQLITE_BUSY on lock upgrade; the busy timeout only matters against
// another process. Reads use a separate pool of query-only connections; in
// WAL mode they neither block the writer nor wait for it, and see only
// committed data.
type SQLite struct {
	path  string
	w     *sql.DB // one connection, BEGIN IMMEDIATE; used by the committer only
	r     readDB  // readers, PRAGMA query_only
	stmts map[string]*sql.Stmt
	now   func() time.Time

	// Group commit (groupcommit.go).
	queue     chan *writeReq // unbuffered: a send is taken by the committer
	closing   chan struct{}  // closed by Close
	stopped   chan struct{}  // closed when the committer has returned
	closeOnce sync.Once
	closeErr  error
}

var _ Journal = (*SQLite)(nil)

// OpenSQLite opens (creating it if needed, mode 0600) the journal at path,
// whose directory must exist, and brings its schema up to date.
func OpenSQLite(path string, opts SQLiteOptions) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: open: empty journal path: set the state directory")
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("store: open %s: %w", path, fmt.Errorf(format, a...))
	}
	syncMode, err := synchronousMode(opts.Synchronous)
	if err != nil {
		return nil, fail("%w", err)
	}
	busy := opts.BusyTimeout
	if busy == 0 {
		busy = DefaultBusyTimeout
	}
	if busy < 0 {
		return nil, fail("negative busy timeout %v", busy)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fail("%w", err)
	}
	dir := filepath.Dir(abs)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail("directory %s does not exist: create the state directory first", dir)
	case err != nil:
		return nil, fail("%w: check the state directory is readable", err)
	case !fi.IsDir():
		return nil, fail("%s is not a directory", dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fail("it is a directory: give the journal a file name, e.g. %s", filepath.Join(abs, "journal.db"))
	}
	// Create the file ourselves so it is 0600 from the start; SQLite gives
	// the -wal and -shm files the database file's permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fail("%w: check the state directory is writable", err)
	}
	if err := f.Close(); err != nil {
		return nil, fail("%w", err)
	}

	busyMS := fmt.Sprint(busy.Milliseconds())
	w, err := sql.Open("sqlite", dsn(abs,
		"busy_timeout("+busyMS+")",
		"foreign_keys(1)",
		"synchronous("+syncMode+")",
		// Each write of a batch runs in a savepoint, whose rollback
		// journal SQLite keeps in a temporary file by default: a pwrite
		// per changed page, a fifth of a creation's CPU time. In memory
		// it costs no system call; it only ever serves ROLLBACK TO, so
		// durability is the WAL's, as before.
		"temp_store(memory)",
	))
	if err != nil {
		return nil, fail("%w", err)
	}
	w.SetMaxOpenConns(1) // the committer's, kept open
	w.SetMaxIdleConns(1)

	s := &SQLite{path: abs, w: w, now: time.Now}
	ctx := context.Background()
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		w.Close()
		return nil, fail("%w: is it a posrelay journal?", err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fail("journal mode is %q, not wal: the file system must support shared memory (no network file systems)", mode)
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fail("%w", err)
	}

	// Parsing the statements every payment write runs took a fifth of a
	// creation's CPU time: prepare them once. The map is read-only from
	// here on.
	s.stmts = make(map[string]*sql.Stmt, len(preparedWrites))
	for _, q := range preparedWrites {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			w.Close()
			return nil, fail("prepare %.40q…: %v", q, err)
		}
		s.stmts[q] = st
	}

	r, err := sql.Open("sqlite", dsn(abs,
		"busy_timeout("+busyMS+")",
		"query_only(1)",
	))
	if err != nil {
		w.Close()
		return nil, fail("%w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	// Parsing a payment SELECT took a fifth of a refreshed payment read's
	// CPU time, as with the writes: prepare the reads of request handling
	// once too.
	s.r = readDB{DB: r, stmts: make(map[string]*sql.Stmt, len(preparedReads))}
	for _, q := range preparedReads {
		st, err := r.PrepareContext(ctx, q)
		if err != nil {
			r.Close()
			w.Close()
			return nil, fail("prepare %.40q…: %v", q, err)
		}
		s.r.stmts[q] = st
	}
	s.queue, s.closing, s.stopped = make(chan *writeReq), make(chan struct{}), make(chan struct{})
	go s.commitLoop()
	return s, nil
}

// readDB is the reader pool. Queries of preparedReads run as statements
// prepared once: database/sql prepares each on a reader connection the
// first time that connection runs it and keeps it there.
type readDB struct {
	*sql.DB
	stmts map[string]*sql.Stmt // read-only after OpenSQLite
}

func (d readDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := d.stmts[query]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.DB.QueryContext(ctx, query, args...)
}

func (d readDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := d.stmts[query]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.DB.QueryRowContext(ctx, query, args...)
}

// dsn builds a file: URI for the modernc driver: the path is escaped (a '?'
// in a directory name must not start the query) and every connection the
// pool opens runs the pragmas and starts transactions with BEGIN IMMEDIATE.
func dsn(path string, pragmas ...string) string {
	q := url.Values{"_txlock": {"immediate"}}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

func synchronousMode(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "full":
		return "FULL", nil
	case "normal":
		return "NORMAL", nil
	}
	return "", fmt.Errorf("synchronous %q: want \"full\" (the default) or \"normal\"", s)
}

// Path returns the journal file's absolute path.
func (s *SQLite) Path() string { return s.path }

// Close lets the write under way finish, refuses further writes and closes
// the journal. The last connection to close checkpoints the WAL into the
// database file.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.stopped
		if err := errors.Join(s.r.Close(), s.w.Close()); err != nil {
			s.closeErr = fmt.Errorf("store: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// kindError is an error callers branch on with errors.Is (ErrNotFound,
// ErrDuplicate, ErrConflict) that still says what was not found or
// duplicated.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errKind(kind error, format string, a ...any) error {
	return &kindError{msg: "store: " + fmt.Sprintf(format, a...), kind: kind}
}

// duplicate names what a unique or primary-key violation was about, or
// returns "" when err is not one.
func duplicate(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
	default:
		return ""
	}
	msg := se.Error()
	for _, c := range []struct{ col, what string }{
		{"payments.id", "payment id"},
		{"payments.pay_token", "pay token"},
		{"payments.callback_token", "callback token"},
		{"payments.bank_order_id", "bank order id"},
		{"idempotency.site_id", "idempotency key"},
		{"webhooks.id", "webhook id"},
		{"events.payment_id", "event"},
	} {
		if strings.Contains(msg, c.col) {
			return c.what
		}
	}
	return "record"
}
