package db

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/unsubivr/unsubivr"
)

func TestMain(m *testing.M) {
	BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// MustOpenDB opens a new database file in a temporary directory, seeds the
// demo data and drives it with a fake clock. It is closed at the end of
// the test.
func MustOpenDB(tb testing.TB) (*DB, *clock) {
	tb.Helper()
	d := mustOpenEmpty(tb, filepath.Join(tb.TempDir(), "unsubivr.db"))
	c := &clock{t: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)}
	d.Now = c.Now
	if err := d.Seed(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return d, c
}

// mustOpenEmpty opens the database at path, closed at the end of the test.
func mustOpenEmpty(tb testing.TB, path string) *DB {
	tb.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// clock is a replaceable DB.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// onWriter runs fn with the writer connection, outside any transaction.
func onWriter(tb testing.TB, d *DB, fn func(c *sqlx.Conn) error) {
	tb.Helper()
	d.writer <- struct{}{}
	defer func() { <-d.writer }()
	if err := fn(d.conn); err != nil {
		tb.Fatal(err)
	}
}

// count returns the single integer the query returns, read on the writer.
func count(tb testing.TB, d *DB, query string, args ...any) int {
	tb.Helper()
	var n int
	onWriter(tb, d, func(c *sqlx.Conn) error {
		if err := c.GetContext(context.Background(), &n, query, args...); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		return nil
	})
	return n
}

// str returns the single string the query returns, read on the writer.
func str(tb testing.TB, d *DB, query string, args ...any) string {
	tb.Helper()
	var s string
	onWriter(tb, d, func(c *sqlx.Conn) error {
		if err := c.GetContext(context.Background(), &s, query, args...); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		return nil
	})
	return s
}

// mustExec runs a statement on the writer, outside any transaction.
func mustExec(tb testing.TB, d *DB, query string, args ...any) {
	tb.Helper()
	onWriter(tb, d, func(c *sqlx.Conn) error {
		if _, err := c.ExecContext(context.Background(), query, args...); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		return nil
	})
}

// wantCode fails unless err carries the error code want.
func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := unsubivr.ErrorCode(err); got != want {
		tb.Fatalf("error code %q (%v), want %q", got, err, want)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("CreatesDirAndSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "x.db")
		d := mustOpenEmpty(t, path)
		if !d.IsNew() {
			t.Error("IsNew = false on a new file")
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("file mode %o, want 600", mode)
		}
		if got := str(t, d, `PRAGMA journal_mode`); got != "wal" {
			t.Errorf("journal_mode %q", got)
		}
		if got := count(t, d, `PRAGMA synchronous`); got != 2 {
			t.Errorf("synchronous %d, want 2 (FULL)", got)
		}
		if got := count(t, d, `PRAGMA foreign_keys`); got != 1 {
			t.Errorf("foreign_keys %d", got)
		}
		if got := count(t, d, `SELECT count(*) FROM schema_migrations WHERE version = 1`); got != 1 {
			t.Errorf("migration 1 recorded %d times", got)
		}
		// The read pool must not be able to write.
		if _, err := d.read.Exec(`DELETE FROM services`); err == nil {
			t.Error("read pool can write")
		}
	})

	t.Run("ReopenKeepsSchemaAndData", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.db")
		d, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Seed(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := d.Unsubscribe(ctx, unsubivr.Request{Number: "13800138000", ServiceCode: "CRBT", Channel: unsubivr.ChannelIVR})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			d := mustOpenEmpty(t, path)
			if d.IsNew() {
				t.Error("IsNew = true on reopen")
			}
			if got, want := count(t, d, `SELECT count(*) FROM schema_migrations`), len(mustGlob(t, migrationFS)); got != want {
				t.Errorf("%d migrations recorded, want %d", got, want)
			}
			rec, err := d.RecordByCode(ctx, res.Record.Code)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Number != "13800138000" || len(rec.Services) != 1 || rec.Services[0] != "CRBT" {
				t.Errorf("record after reopen %+v", rec)
			}
		}
	})

	bad := func(t *testing.T, path string) {
		t.Helper()
		d, err := Open(ctx, path)
		if err == nil {
			d.Close()
			t.Fatal("no error")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "db: open "+path+": ") || strings.Contains(msg, "\n") {
			t.Fatalf("error %q: want one line starting with %q", msg, "db: open "+path+": ")
		}
		t.Log(msg)
	}

	t.Run("ErrParentIsFile", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		bad(t, filepath.Join(file, "x.db"))
	})

	t.Run("ErrPathIsDirectory", func(t *testing.T) {
		bad(t, t.TempDir())
	})

	t.Run("ErrEmptyPath", func(t *testing.T) {
		if _, err := Open(ctx, ""); err == nil || !strings.HasPrefix(err.Error(), "db: open : ") {
			t.Fatalf("error %v", err)
		}
	})

	t.Run("ErrNotADatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "junk.db")
		junk := []byte(strings.Repeat("this is not an SQLite file\n", 200))
		if err := os.WriteFile(path, junk, 0o600); err != nil {
			t.Fatal(err)
		}
		bad(t, path)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(junk) {
			t.Error("Open changed a file that is not a database")
		}
	})

	t.Run("ErrNewerSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.db")
		d := mustOpenEmpty(t, path)
		mustExec(t, d, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')`)
		d.Close()
		bad(t, path)
	})

	t.Run("ErrMigrationFailsRemovesNewFile", func(t *testing.T) {
		old := migrationFS
		t.Cleanup(func() { migrationFS = old })
		migrationFS = fstest.MapFS{
			"migration/0001_ok.sql":  {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
			"migration/0002_bad.sql": {Data: []byte(`CREATE TABLE b (x INTEGER); SELECT no_such_function();`)},
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "x.db")
		bad(t, path)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("left behind: %s", e.Name())
		}
	})

	t.Run("FailedMigrationRollsBack", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.db")
		mustOpenEmpty(t, path).Close()

		old := migrationFS
		t.Cleanup(func() { migrationFS = old })
		bodies := fstest.MapFS{}
		for _, name := range mustGlob(t, old) {
			b, _ := readFS(old, name)
			bodies[name] = &fstest.MapFile{Data: b}
		}
		bodies["migration/9999_bad.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (x INTEGER); SELECT no_such_function();`)}
		migrationFS = bodies
		bad(t, path)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("existing file removed: %v", err)
		}

		migrationFS = old
		d := mustOpenEmpty(t, path)
		if got := count(t, d, `SELECT count(*) FROM sqlite_schema WHERE name = 'half'`); got != 0 {
			t.Error("half-applied migration left a table")
		}
		if got, want := count(t, d, `SELECT max(version) FROM schema_migrations`), len(mustGlob(t, old)); got != want {
			t.Errorf("schema version %d, want %d (migrations are numbered 1, 2, …)", got, want)
		}
	})

	t.Run("SeedOnlyNew", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.db")
		d, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if d.IsNew() {
			if err := d.Seed(ctx); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
		d = mustOpenEmpty(t, path)
		if d.IsNew() {
			t.Fatal("IsNew on second open")
		}
		if got := count(t, d, `SELECT count(*) FROM subscribers`); got != 3 {
			t.Errorf("%d subscribers, want 3", got)
		}
	})
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	d, _ := MustOpenDB(t)
	counts := func() [5]int {
		return [5]int{
			count(t, d, `SELECT count(*) FROM services`),
			count(t, d, `SELECT count(*) FROM subscribers`),
			count(t, d, `SELECT count(*) FROM subscriptions WHERE status = 'active'`),
			count(t, d, `SELECT count(*) FROM marketing_profiles`),
			count(t, d, `SELECT count(*) FROM subscriptions`),
		}
	}
	if got, want := counts(), [5]int{3, 3, 3, 3, 3}; got != want {
		t.Fatalf("after seed: %v, want %v", got, want)
	}

	t.Run("Twice", func(t *testing.T) {
		if err := d.Seed(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := counts(), [5]int{3, 3, 3, 3, 3}; got != want {
			t.Fatalf("after second seed: %v, want %v", got, want)
		}
	})

	t.Run("DoesNotResurrect", func(t *testing.T) {
		if _, err := d.UnsubscribeAll(ctx, unsubivr.Request{Number: "13800138000", Channel: unsubivr.ChannelIVR}); err != nil {
			t.Fatal(err)
		}
		if err := d.Seed(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := counts(), [5]int{3, 3, 1, 0, 3}; got != want {
			t.Fatalf("after cancel and seed: %v, want %v", got, want)
		}
	})

	t.Run("Passwords", func(t *testing.T) {
		for _, s := range DemoSubscribers {
			if err := d.VerifyPassword(ctx, s.Number, s.Password); err != nil {
				t.Errorf("%s: %v", s.Number, err)
			}
		}
	})

	t.Run("Services", func(t *testing.T) {
		subs, err := d.ActiveSubscriptions(ctx, "13900139000")
		if err != nil {
			t.Fatal(err)
		}
		want := unsubivr.Service{Code: "VRBT", ShortName: "SP", NameZh: "视频彩铃", NameEn: "video ring-back tone",
			MonthlyFeeFen: 600, Kind: unsubivr.KindVideo}
		if len(subs) != 1 || subs[0].Service != want {
			t.Fatalf("subscriptions %+v", subs)
		}
		if purge := count(t, d, `SELECT purge_on_cancel FROM services WHERE code = 'BLUE_DIAMOND'`); purge != 1 {
			t.Fatalf("BLUE_DIAMOND purge_on_cancel %d", purge)
		}
	})
}

func mustGlob(tb testing.TB, fsys fs.FS) []string {
	tb.Helper()
	names, err := fs.Glob(fsys, "migration/*.sql")
	if err != nil || len(names) == 0 {
		tb.Fatalf("glob: %v %v", names, err)
	}
	return names
}

func readFS(fsys fs.FS, name string) ([]byte, error) { return fs.ReadFile(fsys, name) }
