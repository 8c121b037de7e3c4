// Package db implements unsubivr.Store on SQLite (mattn/go-sqlite3, sqlx).
//
// One file holds everything. All writes go through one connection, held for
// the life of the DB and handed to one transaction at a time; every
// transaction starts with BEGIN IMMEDIATE, so writers in other processes
// queue on the lock instead of failing a lock upgrade, and commits are
// durable (WAL, synchronous=FULL) before a confirmation code is returned.
// Reads that need no transaction use a separate read-only pool, so a caller
// browsing the menu does not wait behind a commit.
//
// Store methods follow one shape: begin → defer rollback → unexported
// helpers taking the transaction → commit. The transaction carries a fixed
// now taken from DB.Now, which tests replace.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/unsubivr/unsubivr"
)

//go:embed migration/*.sql
var embedded embed.FS

// migrationFS holds the migrations under migration/. Tests replace it.
var migrationFS fs.FS = embedded

// BusyTimeout is how long a connection waits for a lock held by another
// process before it gives up with SQLITE_BUSY.
const BusyTimeout = 5 * time.Second

// readPoolSize is the number of read-only connections. Two cores; reads are
// short.
const readPoolSize = 4

// Compile-time check that DB implements the domain's store.
var _ unsubivr.Store = (*DB)(nil)

// DB is the SQLite store. Open it with Open; it is safe for concurrent use.
type DB struct {
	// The writer is one connection taken from a pool of one and kept.
	// Transactions on it are plain BEGIN IMMEDIATE / COMMIT statements
	// rather than database/sql's Tx, which starts a goroutine per
	// transaction and per query and cost a third of a cancel's time.
	write  *sqlx.DB      // pool of exactly one connection: conn
	conn   *sqlx.Conn    // the writer connection
	writer chan struct{} // capacity 1: held by the transaction using conn
	read   *sqlx.DB      // read-only pool for queries outside transactions
	path   string
	isNew  bool
	stmts  stmts

	// Now returns the current time. Tests replace it; it must not be
	// changed while the DB is in use by other goroutines.
	Now func() time.Time
}

// Open opens (creating it and its directory if missing) the database file
// at path and applies pending migrations. Every error is one line naming
// the path ("db: open /x/y.db: ..."); a file that Open created is removed
// again if Open fails.
//
// A database that had no schema before this Open reports IsNew; callers
// that want demo data on a fresh file call Seed then:
//
//	d, err := db.Open(ctx, path)
//	...
//	if d.IsNew() && demo {
//		err = d.Seed(ctx)
//	}
func Open(ctx context.Context, path string) (*DB, error) {
	d, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %s", path, oneLine(err))
	}
	return d, nil
}

func open(ctx context.Context, path string) (_ *DB, err error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, err
	}
	// Create the file ourselves, private (it holds phone numbers), so that
	// we know whether to remove it if anything below fails. SQLite takes an
	// empty file as an empty database and gives the -wal and -shm files the
	// same mode.
	created := false
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		created = true
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, err
	} else if fi, err := os.Stat(abs); err != nil {
		return nil, err
	} else if fi.IsDir() {
		return nil, errors.New("is a directory")
	}

	d := &DB{path: path, Now: time.Now, writer: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			d.close()
			if created {
				for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
					os.Remove(abs + suffix)
				}
			}
		}
	}()

	busy := strconv.Itoa(int(BusyTimeout / time.Millisecond))
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL") // a code is read out only once its commit is durable
	q.Set("_foreign_keys", "1")
	q.Set("_busy_timeout", busy)
	// No per-connection mutex: only the goroutine holding d.writer uses the
	// connection, and sqlite3_interrupt needs none.
	q.Set("_mutex", "no")
	if d.write, err = sqlx.Open("sqlite3", fileURI(abs, q)); err != nil {
		return nil, err
	}
	d.write.SetMaxOpenConns(1)
	d.write.SetMaxIdleConns(1)
	d.write.SetConnMaxLifetime(0)
	d.write.SetConnMaxIdleTime(0)
	if d.conn, err = d.write.Connx(ctx); err != nil {
		return nil, err
	}
	if err := d.prepareTx(ctx); err != nil {
		return nil, err
	}
	if err := d.checkPragmas(ctx); err != nil {
		return nil, err
	}
	if d.isNew, err = d.migrate(ctx); err != nil {
		return nil, err
	}

	q = url.Values{}
	q.Set("mode", "ro")
	q.Set("_foreign_keys", "1")
	q.Set("_busy_timeout", busy)
	q.Set("_stmt_cache_size", "32")
	if d.read, err = sqlx.Open("sqlite3", fileURI(abs, q)); err != nil {
		return nil, err
	}
	d.read.SetMaxOpenConns(readPoolSize)
	d.read.SetMaxIdleConns(readPoolSize)
	if err := d.read.PingContext(ctx); err != nil {
		return nil, err
	}
	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// fileURI returns an SQLite URI for the absolute path abs with query q.
func fileURI(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	// file:///abs/path: SQLite takes an empty authority as localhost.
	return u.String()
}

// checkPragmas makes the first connection (which turns on WAL, and fails
// on a file that is not a database) and checks that the settings took.
func (d *DB) checkPragmas(ctx context.Context) error {
	var mode string
	if err := d.conn.GetContext(ctx, &mode, `PRAGMA journal_mode`); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var sync, fk int
	if err := d.conn.GetContext(ctx, &sync, `PRAGMA synchronous`); err != nil {
		return err
	}
	if err := d.conn.GetContext(ctx, &fk, `PRAGMA foreign_keys`); err != nil {
		return err
	}
	if sync != 2 || fk != 1 {
		return fmt.Errorf("synchronous=%d foreign_keys=%d, want 2 (FULL) and 1", sync, fk)
	}
	return nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, in version order, each in its own transaction. It
// reports whether the database had no migration applied before.
func (d *DB) migrate(ctx context.Context) (isNew bool, err error) {
	if _, err := d.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var ms []migration
	seen := map[int]string{}
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v <= 0 {
			return false, fmt.Errorf("migrate: %s: name must start with a positive version number", base)
		}
		if other, ok := seen[v]; ok {
			return false, fmt.Errorf("migrate: %s and %s have the same version", other, base)
		}
		seen[v] = base
		ms = append(ms, migration{v, base})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	var maxApplied sql.NullInt64
	if err := d.conn.GetContext(ctx, &maxApplied, `SELECT max(version) FROM schema_migrations`); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	isNew = !maxApplied.Valid
	if len(ms) > 0 && maxApplied.Int64 > int64(ms[len(ms)-1].version) {
		return false, fmt.Errorf("schema version %d is newer than this program knows (%d)", maxApplied.Int64, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if err := d.applyMigration(ctx, m.version, m.name); err != nil {
			return false, fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	return isNew, nil
}

func (d *DB) applyMigration(ctx context.Context, version int, name string) error {
	tx, err := d.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ctx = tx.ctx
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrationFS, "migration/"+name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, name, dbTime(d.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// IsNew reports whether the database had no schema when Open was called:
// a new file, or an empty one. Use it to seed demo data only once.
func (d *DB) IsNew() bool { return d.isNew }

// Path returns the path the database was opened with.
func (d *DB) Path() string { return d.path }

// Close closes the database; closing it again does nothing. It must not be
// called while other methods are running.
func (d *DB) Close() error {
	if err := d.close(); err != nil {
		return fmt.Errorf("db: close %s: %w", d.path, err)
	}
	return nil
}

func (d *DB) close() error {
	var errs []error
	d.stmts.close()
	d.stmts = stmts{}
	if d.read != nil {
		errs = append(errs, d.read.Close())
		d.read = nil
	}
	if d.conn != nil {
		errs = append(errs, d.conn.Close())
		d.conn = nil
	}
	if d.write != nil {
		errs = append(errs, d.write.Close())
		d.write = nil
	}
	return errors.Join(errs...)
}

// now returns the DB's current time, in UTC.
func (d *DB) now() time.Time { return d.Now().UTC() }

// writeTx is a write transaction on the writer connection, with a fixed
// time. Its methods (those of sqlx.Conn) must be called with its ctx. The
// prepared statements in DB.stmts are prepared on the same connection, so
// they run inside the open transaction: use them only while holding one.
type writeTx struct {
	*sqlx.Conn
	db      *DB
	ctx     context.Context // the caller's, without cancellation
	now     time.Time
	nowText string // now as stored
	done    bool
}

// beginTx waits for the writer connection (or ctx) and starts a
// transaction on it with BEGIN IMMEDIATE. Callers continue with tx.ctx:
// once begun, a transaction runs to its commit or rollback whatever
// happens to ctx (a confirmed cancel is completed even if the caller hangs
// up), and mattn/go-sqlite3 starts no goroutine per statement for a
// context that cannot be cancelled. Lock waits are bounded by
// BusyTimeout.
func (d *DB) beginTx(ctx context.Context) (*writeTx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case d.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	now := d.now()
	tx := &writeTx{Conn: d.conn, db: d, ctx: context.WithoutCancel(ctx), now: now, nowText: now.Format(timeLayout)}
	if _, err := d.stmts.begin.ExecContext(tx.ctx); err != nil {
		<-d.writer
		return nil, err
	}
	return tx, nil
}

// Commit commits tx and hands the writer on. If COMMIT fails the
// transaction is rolled back.
func (tx *writeTx) Commit() error {
	if tx.done {
		return sql.ErrTxDone
	}
	tx.done = true
	defer func() { <-tx.db.writer }()
	if _, err := tx.db.stmts.commit.ExecContext(tx.ctx); err != nil {
		tx.db.stmts.rollback.ExecContext(tx.ctx) // may find no transaction: fine
		return err
	}
	return nil
}

// Rollback rolls tx back and hands the writer on; after Commit it does
// nothing, so it can be deferred.
func (tx *writeTx) Rollback() error {
	if tx.done {
		return nil
	}
	tx.done = true
	defer func() { <-tx.db.writer }()
	_, err := tx.db.stmts.rollback.ExecContext(tx.ctx)
	return err
}

// timeLayout is fixed width so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// dbTime formats t for storage; the zero time is stored as NULL.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// nullTime scans a stored time; NULL scans as the zero time.
type nullTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *nullTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case time.Time:
		t.Time = v.UTC()
		return nil
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

func (t *nullTime) parse(s string) error {
	x, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("bad stored time %q: %w", s, err)
	}
	t.Time = x.UTC()
	return nil
}

// oneLine squashes an error message onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Error helpers: domain errors are returned as they are; everything else is
// wrapped with the operation ("db: unsubscribe: ...") and reads as
// EINTERNAL.
func internal(op string, err error) error {
	var e *unsubivr.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("db: %s: %w", op, err)
}

func errInvalid(format string, args ...any) error {
	return unsubivr.Errorf(unsubivr.EINVALID, format, args...)
}

func errNotFound(format string, args ...any) error {
	return unsubivr.Errorf(unsubivr.ENOTFOUND, format, args...)
}

// checkNumber returns EINVALID unless number is a valid mobile number.
func checkNumber(number string) error {
	if !unsubivr.ValidNumber(number) {
		return errInvalid("malformed phone number")
	}
	return nil
}

// isUniqueViolation reports whether err is a UNIQUE (or PRIMARY KEY)
// constraint failure.
func isUniqueViolation(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}
