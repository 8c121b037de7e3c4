-- 0002: the HTTP API's idempotency keys (api/, db/api.go).
--
-- One row per Idempotency-Key a caller sent with a POST. The first request
-- claims the key (response_status NULL, claim_token set); when it succeeds
-- the row keeps the response, and a retry with the same key and the same
-- request gets that response back (an error deletes the claim instead). A claim whose request never
-- finished (the process died) may be taken over once claimed_at is older
-- than the lease (db.IdempotencyLease). Rows older than db.IdempotencyTTL
-- are deleted when a new key is claimed: hence the index on created_at.
--
-- No foreign keys: the table stands beside the domain, and a cancel's own
-- guarantees (one record per cancel, AlreadyCancelled with the same code)
-- do not depend on it.
CREATE TABLE api_idempotency (
	key             TEXT    PRIMARY KEY,                -- the Idempotency-Key header, as sent
	request_hash    TEXT    NOT NULL,                   -- hex SHA-256 of the route and the canonical request
	claim_token     TEXT    NOT NULL,                   -- random, per claim: only its holder stores the response
	claimed_at      TEXT    NOT NULL,
	response_status INTEGER,                            -- NULL while the request runs
	response_body   BLOB,
	created_at      TEXT    NOT NULL,
	CHECK ((response_status IS NULL) = (response_body IS NULL))
) WITHOUT ROWID;
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
