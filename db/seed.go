package db

import (
	"context"
	"time"

	"github.com/unsubivr/unsubivr"
)

// DemoServices are the services Seed creates.
var DemoServices = []unsubivr.Service{
	{Code: "CRBT", ShortName: "CL", NameZh: "彩铃", NameEn: "colour ring-back tone", MonthlyFeeFen: 500, Kind: unsubivr.KindRingback},
	{Code: "BLUE_DIAMOND", ShortName: "LZ", NameZh: "蓝钻", NameEn: "Blue Diamond", MonthlyFeeFen: 1000, Kind: unsubivr.KindMarketing, PurgeOnCancel: true},
	{Code: "VRBT", ShortName: "SP", NameZh: "视频彩铃", NameEn: "video ring-back tone", MonthlyFeeFen: 600, Kind: unsubivr.KindVideo},
}

// DemoSubscriber is a subscriber Seed creates.
type DemoSubscriber struct {
	Number    string
	Password  string
	Language  unsubivr.Language
	Services  []string          // active subscriptions, in subscription order
	Marketing map[string]string // marketing profile rows
}

// DemoSubscribers are the subscribers Seed creates.
var DemoSubscribers = []DemoSubscriber{
	{Number: "13800138000", Password: "123456", Language: unsubivr.ZhCN, Services: []string{"CRBT", "BLUE_DIAMOND"},
		Marketing: map[string]string{"segment": "high_arpu", "interests": "music,games", "last_campaign": "2024-spring"}},
	{Number: "13900139000", Password: "654321", Language: unsubivr.ZhCN, Services: []string{"VRBT"}},
	{Number: "13700137000", Password: "111111", Language: unsubivr.ZhCN},
}

// Seed creates the demo services and subscribers in one transaction. It is
// idempotent: existing services are left as they are, and an existing
// subscriber is not touched at all, so a second Seed neither duplicates
// rows nor brings back a cancelled subscription or purged marketing data.
func (d *DB) Seed(ctx context.Context) error {
	// Hash outside the transaction: bcrypt is slow on purpose.
	hashes := make([]string, len(DemoSubscribers))
	for i, s := range DemoSubscribers {
		h, err := hashPassword(s.Password)
		if err != nil {
			return internal("seed", err)
		}
		hashes[i] = h
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("seed", err)
	}
	defer tx.Rollback()
	ctx = tx.ctx // see beginTx
	if err := seed(ctx, tx, hashes); err != nil {
		return internal("seed", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("seed", err)
	}
	return nil
}

func seed(ctx context.Context, tx *writeTx, hashes []string) error {
	for _, s := range DemoServices {
		if _, err := tx.ExecContext(ctx, `INSERT INTO services
			(code, short_name, name_zh, name_en, monthly_fee_fen, kind, purge_on_cancel)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING`,
			s.Code, s.ShortName, s.NameZh, s.NameEn, s.MonthlyFeeFen, string(s.Kind), s.PurgeOnCancel); err != nil {
			return err
		}
	}
	for i, s := range DemoSubscribers {
		err := insertSubscriber(ctx, tx, s, hashes[i])
		if isUniqueViolation(err) {
			continue // exists: leave it alone
		} else if err != nil {
			return err
		}
	}
	return nil
}

// insertSubscriber adds s with its active subscriptions and marketing
// profile. A number that exists already gives a unique violation.
func insertSubscriber(ctx context.Context, tx *writeTx, s DemoSubscriber, hash string) error {
	// Plain INSERT, not ON CONFLICT/RETURNING: see insertRecord.
	r, err := tx.ExecContext(ctx, `INSERT INTO subscribers (number, password_hash, language, created_at)
		VALUES (?, ?, ?, ?)`, s.Number, hash, string(s.Language), dbTime(tx.now))
	if err != nil {
		return err
	}
	id, err := r.LastInsertId()
	if err != nil {
		return err
	}
	for j, code := range s.Services {
		// Subscribed a day apart, oldest first, so the order is stable.
		at := tx.now.Add(-time.Duration(len(s.Services)-j) * 24 * time.Hour)
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (subscriber_id, service_code, status, subscribed_at)
			VALUES (?, ?, 'active', ?)`, id, code, dbTime(at)); err != nil {
			return err
		}
	}
	for k, v := range s.Marketing {
		if _, err := tx.ExecContext(ctx, `INSERT INTO marketing_profiles (subscriber_id, key, value, updated_at)
			VALUES (?, ?, ?, ?)`, id, k, v, dbTime(tx.now)); err != nil {
			return err
		}
	}
	return nil
}

// AddSubscriber creates a subscriber with active subscriptions to s.Services
// (which must exist) and marketing profile s.Marketing, in one
// transaction. Returns EINVALID for a malformed number or language and
// ECONFLICT if the number exists.
func (d *DB) AddSubscriber(ctx context.Context, s DemoSubscriber) error {
	if err := checkNumber(s.Number); err != nil {
		return err
	}
	if s.Language == "" {
		s.Language = unsubivr.ZhCN
	}
	if !s.Language.Valid() {
		return errInvalid("unknown language %q", s.Language)
	}
	hash, err := hashPassword(s.Password)
	if err != nil {
		return internal("add subscriber", err)
	}
	tx, err := d.beginTx(ctx)
	if err != nil {
		return internal("add subscriber", err)
	}
	defer tx.Rollback()
	err = insertSubscriber(tx.ctx, tx, s, hash)
	switch {
	case isUniqueViolation(err):
		return unsubivr.Errorf(unsubivr.ECONFLICT, "subscriber %s exists", unsubivr.MaskNumber(s.Number))
	case err != nil:
		return internal("add subscriber", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("add subscriber", err)
	}
	return nil
}

// MarketingProfile returns number's marketing data (empty after a purge).
// Returns ENOTFOUND for an unknown subscriber.
func (d *DB) MarketingProfile(ctx context.Context, number string) (map[string]string, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	if _, err := d.Subscriber(ctx, number); err != nil {
		return nil, err
	}
	rows, err := d.read.QueryContext(ctx, `SELECT m.key, m.value FROM marketing_profiles m
		JOIN subscribers s ON s.id = m.subscriber_id WHERE s.number = ?`, number)
	if err != nil {
		return nil, internal("marketing profile", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, internal("marketing profile", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}
