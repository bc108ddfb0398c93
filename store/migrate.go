package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migrations are numbered SQL files, migrations/NNNN_name.sql, applied in
// order at open, each in its own transaction together with its row in
// schema_migrations and the new PRAGMA user_version. user_version is the
// schema version; a migration, once released, is never edited: changes go in
// a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// applicationID marks a SQLite file as a posrelay journal ("PRSL").
const applicationID = 0x5052534C

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations and checks they are numbered
// 1, 2, … without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for i, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want the name %04d_<what>.sql", name, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations embedded")
	}
	return ms, nil
}

// migrate applies the migrations the file lacks. It refuses a file written
// by a newer binary and a SQLite file that is not a posrelay journal.
func (s *SQLite) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	for {
		done, err := s.migrateOne(ctx, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration, if any, in one BEGIN IMMEDIATE
// transaction; it reads the version inside that transaction, so two
// processes opening the same new file cannot both apply a migration.
func (s *SQLite) migrateOne(ctx context.Context, ms []migration) (done bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var version, appID, objects int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("read schema version: %w: is it a posrelay journal?", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return false, err
	}
	if appID != applicationID {
		if appID != 0 {
			return false, fmt.Errorf("not a posrelay journal (SQLite application_id %#x)", appID)
		}
		err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects)
		if err != nil {
			return false, err
		}
		if version != 0 || objects != 0 {
			return false, fmt.Errorf("not a posrelay journal (a SQLite database with %d other tables and indexes)", objects)
		}
	}
	latest := len(ms)
	switch {
	case version > latest:
		return false, fmt.Errorf("journal schema version %d is newer than this posrelay supports (%d): run the newer posrelay, or restore a backup taken before the upgrade", version, latest)
	case version == latest:
		return true, nil
	}
	m := ms[version]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, s.now().UnixMilli()); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	// PRAGMA takes no parameters; both values are integers we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", m.version, applicationID)); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return m.version == latest, nil
}
