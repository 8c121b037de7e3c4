package db

import (
	"context"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

func TestVerifyPassword(t *testing.T) {
	ctx := context.Background()
	const number, right, wrong = "13800138000", "123456", "000000"

	t.Run("OK", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		if err := d.VerifyPassword(ctx, number, right); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrWrong", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, ""), unsubivr.EUNAUTHORIZED)
		if n := count(t, d, `SELECT count(*) FROM pin_attempts`); n != 2 {
			t.Fatalf("%d failures recorded, want 2", n)
		}
	})

	t.Run("Lockout", func(t *testing.T) {
		d, c := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		c.Add(time.Minute)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		c.Add(time.Minute)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.ELOCKED) // the 3rd failure locks
		locked := c.Now()
		wantCode(t, d.VerifyPassword(ctx, number, right), unsubivr.ELOCKED) // right, but locked
		if got := str(t, d, `SELECT pin_locked_until FROM subscribers WHERE number = ?`, number); got != dbTime(locked.Add(15*time.Minute)) {
			t.Fatalf("locked until %s", got)
		}
		// Other numbers are not locked.
		if err := d.VerifyPassword(ctx, "13900139000", "654321"); err != nil {
			t.Fatal(err)
		}
		c.Add(15*time.Minute - time.Second)
		wantCode(t, d.VerifyPassword(ctx, number, right), unsubivr.ELOCKED)
		c.Add(time.Second)
		if err := d.VerifyPassword(ctx, number, right); err != nil {
			t.Fatalf("after 15 minutes: %v", err)
		}
		if got := count(t, d, `SELECT count(*) FROM subscribers WHERE number = ? AND pin_locked_until IS NULL`, number); got != 1 {
			t.Fatal("lock not cleared")
		}
		// A fresh count: one failure does not lock again.
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
	})

	t.Run("LockExpiresWithoutSuccess", func(t *testing.T) {
		d, c := MustOpenDB(t)
		for i := 0; i < 2; i++ {
			wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		}
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.ELOCKED)
		c.Add(15 * time.Minute)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.ELOCKED)
	})

	t.Run("SuccessClearsFailures", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		if err := d.VerifyPassword(ctx, number, right); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, `SELECT count(*) FROM pin_attempts`); n != 0 {
			t.Fatalf("%d failures left", n)
		}
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.ELOCKED)
	})

	t.Run("OldFailuresForgotten", func(t *testing.T) {
		d, c := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		c.Add(15 * time.Minute)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.EUNAUTHORIZED)
		wantCode(t, d.VerifyPassword(ctx, number, wrong), unsubivr.ELOCKED)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, "13600136000", right), unsubivr.ENOTFOUND)
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		d, _ := MustOpenDB(t)
		wantCode(t, d.VerifyPassword(ctx, "138", right), unsubivr.EINVALID)
	})
}
