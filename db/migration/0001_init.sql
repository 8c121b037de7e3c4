-- 0001: the initial schema of the unsubscribe hotline.
--
-- Times are TEXT in UTC, fixed width ("2006-01-02T15:04:05.000000000Z"), so
-- that they sort as strings. Money is INTEGER fen.
--
-- Foreign-key child columns without an index (records.subscriber_id,
-- subscriptions.cancel_record_id) are deliberate: subscribers and records
-- are never deleted or re-keyed, so SQLite never has to look up their
-- children, and each index would cost a page per cancel. Inserts into
-- those parent tables must stay plain single-row INSERTs: RETURNING or ON
-- CONFLICT makes SQLite scan the child tables for the new key.

CREATE TABLE subscribers (
	id               INTEGER PRIMARY KEY,
	number           TEXT    NOT NULL UNIQUE,           -- 11 digits
	password_hash    TEXT    NOT NULL,                  -- bcrypt
	language         TEXT    NOT NULL DEFAULT 'zh-CN',
	pin_locked_until TEXT,                              -- NULL: not locked
	created_at       TEXT    NOT NULL
);

CREATE TABLE services (
	code            TEXT    PRIMARY KEY,
	short_name      TEXT    NOT NULL DEFAULT '',
	name_zh         TEXT    NOT NULL,
	name_en         TEXT    NOT NULL DEFAULT '',
	monthly_fee_fen INTEGER NOT NULL CHECK (monthly_fee_fen >= 0),
	kind            TEXT    NOT NULL CHECK (kind IN ('ringback', 'video', 'marketing')),
	purge_on_cancel INTEGER NOT NULL DEFAULT 0 CHECK (purge_on_cancel IN (0, 1))
) WITHOUT ROWID;

-- records: one confirmed cancel, under one confirmation code. The code is
-- the rowid: 8 random digits, the first not 0, so the unique code needs no
-- index of its own (one page fewer per cancel) and a lookup by code is a
-- rowid lookup. number is the number at the time of the cancel (numbers are
-- recycled; subscriber_id is the account).
CREATE TABLE records (
	id            INTEGER PRIMARY KEY CHECK (id BETWEEN 10000000 AND 99999999),
	code          TEXT GENERATED ALWAYS AS (CAST(id AS TEXT)) VIRTUAL,
	subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
	number        TEXT    NOT NULL,
	channel       TEXT    NOT NULL CHECK (channel IN ('ivr', 'agent', 'api', 'sms')),
	call_id       TEXT    NOT NULL DEFAULT '',
	agent_id      TEXT    NOT NULL DEFAULT '',
	consent       TEXT    NOT NULL DEFAULT '{}',        -- JSON unsubivr.Consent
	purged        INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1)),
	created_at    TEXT    NOT NULL
);
CREATE INDEX records_number ON records (number);

-- record_items: the services a record cancelled, in the order they were
-- listed to the caller.
CREATE TABLE record_items (
	record_id    INTEGER NOT NULL REFERENCES records (id),
	seq          INTEGER NOT NULL,
	service_code TEXT    NOT NULL REFERENCES services (code),
	PRIMARY KEY (record_id, seq)
) WITHOUT ROWID;

CREATE TABLE subscriptions (
	id               INTEGER PRIMARY KEY,
	subscriber_id    INTEGER NOT NULL REFERENCES subscribers (id),
	service_code     TEXT    NOT NULL REFERENCES services (code),
	status           TEXT    NOT NULL CHECK (status IN ('active', 'cancelled')),
	subscribed_at    TEXT    NOT NULL,
	cancelled_at     TEXT,
	cancel_record_id INTEGER REFERENCES records (id),   -- NULL if cancelled elsewhere
	UNIQUE (subscriber_id, service_code),
	CHECK ((status = 'active') = (cancelled_at IS NULL))
);

-- marketing_profiles: the subscriber's marketing data, deleted by a cancel
-- of a purge_on_cancel service (PIPL).
CREATE TABLE marketing_profiles (
	id            INTEGER PRIMARY KEY,
	subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
	key           TEXT    NOT NULL,
	value         TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL,
	UNIQUE (subscriber_id, key)
);

-- outbox: events written in the same transaction as the change they
-- announce (transactional outbox), delivered at least once, in id order per
-- number. Ids only grow (rows are marked sent, never deleted) and a
-- number's events are written in commit order.
--
-- A dispatcher reads the pending events from outbox_cursor.low_id up, in id
-- order (a rowid range scan: the outbox has no index, so a cancel writes no
-- index page for it), and per number takes only the first: a later event
-- of a number waits until the earlier one is sent or parked, and until its
-- next_attempt_at. It advances low_id past the events that are all sent or
-- parked. Receivers deduplicate on idempotency_key, unique by construction
-- (it contains the record's unique code).
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	number          TEXT    NOT NULL,
	kind            TEXT    NOT NULL,                   -- 'unsubscribe', 'sms'
	payload         TEXT    NOT NULL,                   -- JSON
	idempotency_key TEXT    NOT NULL,
	status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT    NOT NULL,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      TEXT    NOT NULL
);

-- outbox_cursor: one row; every outbox event with id <= low_id is sent or
-- parked. Only the dispatcher moves it, and only forward.
CREATE TABLE outbox_cursor (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	low_id INTEGER NOT NULL
);
INSERT INTO outbox_cursor (id, low_id) VALUES (1, 0);

-- pin_attempts: failed password checks inside the lockout window.
CREATE TABLE pin_attempts (
	id            INTEGER PRIMARY KEY,
	subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
	failed_at     TEXT    NOT NULL
);
CREATE INDEX pin_attempts_subscriber ON pin_attempts (subscriber_id, failed_at);

CREATE TABLE call_logs (
	call_id      TEXT PRIMARY KEY,
	caller       TEXT NOT NULL DEFAULT '',
	number       TEXT NOT NULL DEFAULT '',
	agent_id     TEXT NOT NULL DEFAULT '',
	language     TEXT NOT NULL DEFAULT '',
	flow_version TEXT NOT NULL DEFAULT '',
	started_at   TEXT NOT NULL,
	ended_at     TEXT,
	outcome      TEXT NOT NULL DEFAULT '',
	trace        TEXT NOT NULL DEFAULT '[]'             -- JSON []unsubivr.CallEvent
);
CREATE INDEX call_logs_started ON call_logs (started_at);
CREATE INDEX call_logs_number ON call_logs (number, started_at);
CREATE INDEX call_logs_caller ON call_logs (caller, started_at);
