package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group commit.
//
// Every write of the journal (CreatePayment, UpdatePayment, RecordAttempt,
// Redeliver) is a request to one committer goroutine, which owns the write
// connection. When it is free it takes the request that woke it and every
// request already waiting (up to maxBatch), runs them in one BEGIN IMMEDIATE
// transaction, each inside its own SAVEPOINT, and commits once: one WAL
// fsync for the whole batch instead of one per write. With synchronous=FULL
// the fsync is most of a write's cost, so this is what lets concurrent
// creations outrun the disk's fsync rate.
//
// What callers see does not change:
//   - a request's error (or panic) rolls back to its savepoint: its writes
//     are undone, the other requests' are not;
//   - no caller is answered before COMMIT has returned, so an acknowledged
//     write is as durable as with one transaction each; if COMMIT fails,
//     every request of the batch gets the error and none of them is stored;
//   - requests run one after another, in arrival order: a later request of
//     the batch sees an earlier one's writes (serial execution, as before);
//   - at low load a batch is a single request: nothing waits for company.
//
// A request's context is checked before it runs; once running, its
// statements ignore cancellation, because SQLite answers an interrupted
// write by rolling back the whole transaction, the other requests' work
// included.

// maxBatch bounds a batch: more requests amortise the fsync further but
// make the first of them wait for the others' statements.
const maxBatch = 64

var errClosed = errors.New("the journal is closed")

type writeReq struct {
	ctx      context.Context
	fn       func(ctx context.Context, tx writeTx) error
	err      error
	panicked any // what fn panicked with; re-panicked in the caller
	done     chan struct{}
}

// writeTx is a write transaction that runs the statements OpenSQLite
// prepared (preparedWrites) without parsing them again.
type writeTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (tx writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmts[query]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

func (tx writeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.stmts[query]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// write runs fn in a write transaction, possibly shared with other writes
// (see above), and returns once that transaction is committed or rolled
// back. fn gets the context to run its statements with. If fn returns an
// error its writes are undone and the error is returned as is.
func (s *SQLite) write(ctx context.Context, fn func(ctx context.Context, tx writeTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosed
	}
	// Taken: wait for the outcome even if ctx ends now, so that the caller
	// never reports a failure for a write that was committed.
	<-r.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// commitLoop is the committer goroutine.
func (s *SQLite) commitLoop() {
	defer close(s.stopped)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-s.queue:
			batch = append(batch[:0], r)
		case <-s.closing:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.queue: // a writer already waiting
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.runBatch(batch)
		for i, r := range batch {
			close(r.done)
			batch[i] = nil
		}
	}
}

// runBatch runs the requests in one transaction and sets each one's
// outcome.
func (s *SQLite) runBatch(batch []*writeReq) {
	bg := context.Background()
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		failBatch(batch, err)
		return
	}
	wtx := writeTx{tx, s.stmts}
	// abort ends the transaction when it can no longer be trusted (a
	// savepoint statement failed: SQLite may already have rolled it all
	// back); every request that has no error of its own fails with err.
	abort := func(err error) {
		tx.Rollback() // its error adds nothing: SQLite may have rolled back already
		failBatch(batch, fmt.Errorf("write transaction: %w", err))
	}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if _, err := tx.ExecContext(bg, "SAVEPOINT w"); err != nil {
			abort(err)
			return
		}
		r.panicked, r.err = call(context.WithoutCancel(r.ctx), wtx, r.fn)
		if r.err != nil || r.panicked != nil {
			if _, err := tx.ExecContext(bg, "ROLLBACK TO w"); err != nil {
				abort(err)
				return
			}
		}
		if _, err := tx.ExecContext(bg, "RELEASE w"); err != nil {
			abort(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		failBatch(batch, err)
	}
}

// call runs fn, turning a panic into a value to re-panic with.
func call(ctx context.Context, tx writeTx, fn func(context.Context, writeTx) error) (panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return nil, fn(ctx, tx)
}

// failBatch gives err to every request that has no error or panic of its
// own: none of their writes was committed.
func failBatch(batch []*writeReq, err error) {
	for _, r := range batch {
		if r.err == nil && r.panicked == nil {
			r.err = err
		}
	}
}
