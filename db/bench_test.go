package db

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/unsubivr/unsubivr"
)

// benchSubscribers creates n subscribers, each holding CRBT, in
// transactions of 1000, and returns their numbers. Call it before the
// timer starts.
func benchSubscribers(tb testing.TB, d *DB, n int) []string {
	tb.Helper()
	ctx := context.Background()
	numbers := make([]string, n)
	for start := 0; start < n; start += 1000 {
		tx, err := d.beginTx(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		for i := start; i < n && i < start+1000; i++ {
			numbers[i] = fmt.Sprintf("150%08d", i)
			r, err := tx.ExecContext(tx.ctx, `INSERT INTO subscribers (number, password_hash, language, created_at)
				VALUES (?, 'x', 'zh-CN', ?)`, numbers[i], tx.nowText)
			if err != nil {
				tb.Fatal(err)
			}
			id, err := r.LastInsertId()
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := tx.ExecContext(tx.ctx, `INSERT INTO subscriptions (subscriber_id, service_code, status, subscribed_at)
				VALUES (?, 'CRBT', 'active', ?)`, id, tx.nowText); err != nil {
				tb.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	return numbers
}

func benchRequest() unsubivr.Request {
	return unsubivr.Request{
		ServiceCode: "CRBT",
		Channel:     unsubivr.ChannelIVR,
		CallID:      "bench",
		Consent:     unsubivr.Consent{Prompts: []string{"menu.main", "confirm.cancel"}, Key: "1"},
	}
}

// benchUnsubscribe cancels numbers' CRBT, failing unless each is Cancelled.
func benchUnsubscribe(tb testing.TB, d *DB, r unsubivr.Request, numbers []string) {
	ctx := context.Background()
	for _, n := range numbers {
		r.Number = n
		res, err := d.Unsubscribe(ctx, r)
		if err != nil {
			tb.Fatal(err)
		}
		if res.Outcome != unsubivr.Cancelled {
			tb.Fatal(res.Outcome)
		}
	}
}

// rawTables are the tables of the raw transaction.
var rawTables = []string{"raw_a", "raw_b", "raw_c"}

func createRawTables(tb testing.TB, d *DB) {
	for _, t := range rawTables {
		mustExec(tb, d, `CREATE TABLE `+t+` (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, v TEXT NOT NULL)`)
	}
}

// rawTx commits one transaction of three single-row inserts.
func rawTx(tb testing.TB, d *DB, i int) {
	tx, err := d.beginTx(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range rawTables {
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO `+t+` (n, v) VALUES (?, ?)`, i, "value"); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkUnsubscribe measures the Unsubscribe transaction (WAL,
// synchronous=FULL): each iteration cancels a fresh subscription.
func BenchmarkUnsubscribe(b *testing.B) {
	d, _ := MustOpenDB(b)
	numbers := benchSubscribers(b, d, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	benchUnsubscribe(b, d, benchRequest(), numbers)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkRawTx measures the floor: a transaction of three single-row
// inserts on the same file, settings and writer connection (BEGIN
// IMMEDIATE, WAL, synchronous=FULL).
func BenchmarkRawTx(b *testing.B) {
	d, _ := MustOpenDB(b)
	createRawTables(b, d)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawTx(b, d, i)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkUnsubscribeVsRaw alternates batches of 100 Unsubscribe and 100
// raw transactions on one database and reports both rates and their ratio.
// The disk's speed drifts by tens of percent from one second to the next
// on a shared machine; interleaving makes the ratio comparable.
func BenchmarkUnsubscribeVsRaw(b *testing.B) {
	const batch = 100
	d, _ := MustOpenDB(b)
	createRawTables(b, d)
	numbers := benchSubscribers(b, d, b.N)
	r := benchRequest()
	var tu, tr time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		j := min(i+batch, b.N)
		start := time.Now()
		benchUnsubscribe(b, d, r, numbers[i:j])
		tu += time.Since(start)
		start = time.Now()
		for k := i; k < j; k++ {
			rawTx(b, d, k)
		}
		tr += time.Since(start)
	}
	b.StopTimer()
	u, raw := float64(b.N)/tu.Seconds(), float64(b.N)/tr.Seconds()
	b.ReportMetric(u, "unsub-tx/s")
	b.ReportMetric(raw, "raw-tx/s")
	b.ReportMetric(u/raw, "ratio")
}
