package db

import "context"

// Ping checks that the database answers a read.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return internal("ping", err)
	}
	return nil
}
