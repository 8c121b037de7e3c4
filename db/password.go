package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/unsubivr/unsubivr"
)

// BcryptCost is the bcrypt cost of stored password hashes. Tests lower it
// to bcrypt.MinCost.
var BcryptCost = bcrypt.DefaultCost

// Password lockout: LockoutFailures wrong passwords within LockoutWindow
// lock the number for LockoutDuration, counted from the failure that locked
// it. Attempts while locked are refused without being checked or counted.
const (
	LockoutFailures = 3
	LockoutWindow   = 15 * time.Minute
	LockoutDuration = 15 * time.Minute
)

// hashPassword returns the bcrypt hash of password at BcryptCost.
func hashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	return string(h), err
}

// VerifyPassword checks number's service password. A success clears the
// failures counted so far. Returns EINVALID if number is malformed,
// ENOTFOUND for an unknown subscriber, EUNAUTHORIZED for a wrong password,
// and ELOCKED on the failure that locks the number and for every attempt
// while it is locked, right password or not.
//
// The bcrypt comparison runs outside any transaction; only a failure, or a
// success that has failures to clear, takes the writer.
func (d *DB) VerifyPassword(ctx context.Context, number, password string) error {
	if err := checkNumber(number); err != nil {
		return err
	}
	var (
		id       int64
		hash     string
		locked   nullTime
		failures int
	)
	err := d.read.QueryRowxContext(ctx, `SELECT id, password_hash, pin_locked_until,
		(SELECT count(*) FROM pin_attempts a WHERE a.subscriber_id = s.id)
		FROM subscribers s WHERE number = ?`, number).Scan(&id, &hash, &locked, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound("subscriber not found")
	} else if err != nil {
		return internal("verify password", err)
	}
	if now := d.now(); locked.After(now) {
		return errLocked()
	}

	err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	ok := err == nil
	if err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return internal("verify password", err)
	}
	if ok && failures == 0 && locked.IsZero() {
		return nil // nothing to clear
	}

	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("verify password", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	if err := recordAttempt(ctx, tx, id, ok); err != nil {
		if unsubivr.ErrorCode(err) == unsubivr.ELOCKED {
			// The lock is written with the failure that set it.
			if cerr := tx.Commit(); cerr != nil {
				return internal("verify password", cerr)
			}
		}
		return internal("verify password", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("verify password", err)
	}
	if !ok {
		return unsubivr.Errorf(unsubivr.EUNAUTHORIZED, "wrong password")
	}
	return nil
}

// recordAttempt records a checked password in tx: a success clears the
// failures and any expired lock; a failure is counted and locks the number
// at the LockoutFailures-th failure in the window (ELOCKED). It returns
// ELOCKED without writing if another attempt locked the number meanwhile.
func recordAttempt(ctx context.Context, tx *writeTx, subscriberID int64, ok bool) error {
	var locked nullTime
	if err := tx.QueryRowxContext(ctx, `SELECT pin_locked_until FROM subscribers WHERE id = ?`, subscriberID).
		Scan(&locked); err != nil {
		return err
	}
	if locked.After(tx.now) {
		return errLocked()
	}
	if ok {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_attempts WHERE subscriber_id = ?`, subscriberID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE subscribers SET pin_locked_until = NULL
			WHERE id = ? AND pin_locked_until IS NOT NULL`, subscriberID)
		return err
	}

	// Forget failures older than the window, count this one with the rest.
	since := dbTime(tx.now.Add(-LockoutWindow))
	if _, err := tx.ExecContext(ctx, `DELETE FROM pin_attempts WHERE subscriber_id = ? AND failed_at <= ?`,
		subscriberID, since); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pin_attempts (subscriber_id, failed_at) VALUES (?, ?)`,
		subscriberID, tx.nowText); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowxContext(ctx, `SELECT count(*) FROM pin_attempts WHERE subscriber_id = ?`,
		subscriberID).Scan(&n); err != nil {
		return err
	}
	if n < LockoutFailures {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET pin_locked_until = ? WHERE id = ?`,
		dbTime(tx.now.Add(LockoutDuration)), subscriberID); err != nil {
		return err
	}
	// The lock replaces the failures: after it, a fresh count starts.
	if _, err := tx.ExecContext(ctx, `DELETE FROM pin_attempts WHERE subscriber_id = ?`, subscriberID); err != nil {
		return err
	}
	return errLocked()
}

func errLocked() error {
	return unsubivr.Errorf(unsubivr.ELOCKED, "too many wrong passwords; try again in %d minutes",
		int(LockoutDuration/time.Minute))
}

// SetLanguage stores number's preferred language. Returns EINVALID for a
// malformed number or a language the hotline does not speak, ENOTFOUND for
// an unknown subscriber.
func (d *DB) SetLanguage(ctx context.Context, number string, lang unsubivr.Language) error {
	if err := checkNumber(number); err != nil {
		return err
	}
	if !lang.Valid() {
		return errInvalid("unsupported language %q", lang)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("set language", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	r, err := tx.ExecContext(ctx, `UPDATE subscribers SET language = ? WHERE number = ?`, string(lang), number)
	if err != nil {
		return internal("set language", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return internal("set language", err)
	} else if n == 0 {
		return errNotFound("subscriber not found")
	}
	if err := tx.Commit(); err != nil {
		return internal("set language", err)
	}
	return nil
}
