-- 0001: the journal's first schema.
--
-- Times are INTEGER unix milliseconds, UTC; NULL stands for the zero time.
-- JSON columns hold encoding/json output of the store's Go types.
-- Card numbers, expiry dates and CVVs have no column here and must never get
-- one (DESIGN.md §5): only the masked PAN inside ref.

CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE payments (
	id                 TEXT    PRIMARY KEY,
	site_id            TEXT    NOT NULL,
	bank               TEXT    NOT NULL,
	account            TEXT    NOT NULL,
	model              TEXT    NOT NULL,
	order_id           TEXT    NOT NULL,
	bank_order_id      TEXT    NOT NULL,
	amount             INTEGER NOT NULL,
	currency           TEXT    NOT NULL,
	installments       INTEGER NOT NULL,
	type               TEXT    NOT NULL,
	language           TEXT    NOT NULL,
	return_urls        TEXT    NOT NULL, -- JSON ReturnURLs
	customer           TEXT    NOT NULL, -- JSON Customer
	wix_transaction_id TEXT    NOT NULL,
	pay_token          TEXT,             -- NULL when empty, so the unique index allows many
	callback_token     TEXT,             -- NULL until armed
	status             TEXT    NOT NULL,
	stage              TEXT    NOT NULL,
	result             TEXT,             -- JSON bank.Result, NULL until the bank answered
	ref                TEXT    NOT NULL, -- JSON bank.Ref
	bank_state         TEXT,             -- JSON map[string]string, NULL when nil
	captured           INTEGER NOT NULL,
	refunded           INTEGER NOT NULL,
	refund_pending     INTEGER NOT NULL DEFAULT 0, -- refunds sent whose outcome is open
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER,
	expires_at         INTEGER,
	final_at           INTEGER,
	version            INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX payments_pay_token ON payments (pay_token);
CREATE UNIQUE INDEX payments_callback_token ON payments (callback_token);
-- A bank order number names one payment: status answers and refunds are by it.
CREATE UNIQUE INDEX payments_bank_order ON payments (bank, bank_order_id);
CREATE INDEX payments_site_order ON payments (site_id, order_id, created_at);
CREATE INDEX payments_site_created ON payments (site_id, created_at);
CREATE INDEX payments_status ON payments (status);
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX payments_expires ON payments (expires_at);

CREATE TABLE events (
	payment_id TEXT    NOT NULL REFERENCES payments (id),
	seq        INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	kind       TEXT    NOT NULL,
	detail     TEXT,             -- JSON map[string]string, NULL when nil
	PRIMARY KEY (payment_id, seq)
) STRICT, WITHOUT ROWID;

-- The history is append-only: the code has no UPDATE or DELETE path for
-- events, and these triggers refuse one from anywhere else too.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only: update refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only: delete refused');
END;

CREATE TABLE operations (
	id              TEXT    PRIMARY KEY,
	payment_id      TEXT    NOT NULL REFERENCES payments (id),
	site_id         TEXT    NOT NULL,
	kind            TEXT    NOT NULL,
	amount          INTEGER NOT NULL,
	status          TEXT    NOT NULL,
	idempotency_key TEXT    NOT NULL,
	wix_refund_id   TEXT    NOT NULL,
	result          TEXT,             -- JSON bank.Result, NULL until the bank answered
	ref             TEXT    NOT NULL, -- JSON bank.Ref
	bank_state      TEXT,             -- JSON map[string]string, NULL when nil
	bank_calls      INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER,
	final_at        INTEGER
) STRICT;

CREATE INDEX operations_payment ON operations (payment_id, created_at);
CREATE INDEX operations_created ON operations (created_at);
CREATE INDEX operations_status ON operations (status, created_at);

CREATE TABLE idempotency (
	site_id      TEXT    NOT NULL,
	scope        TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	request_hash TEXT    NOT NULL,
	resource_id  TEXT    NOT NULL,
	status       INTEGER NOT NULL,
	body         BLOB,             -- NULL: rebuild the answer from the resource
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (site_id, scope, key)
) STRICT, WITHOUT ROWID;

-- The webhook outbox. seq is the insertion order (AUTOINCREMENT: never
-- reused), which keeps each payment's messages in the order they were
-- enqueued.
CREATE TABLE webhooks (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT    NOT NULL UNIQUE,
	site_id         TEXT    NOT NULL,
	payment_id      TEXT    NOT NULL REFERENCES payments (id),
	event_type      TEXT    NOT NULL,
	body            BLOB    NOT NULL,
	status          TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	last_status     INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	delivered_at    INTEGER
) STRICT;

CREATE INDEX webhooks_due ON webhooks (status, next_attempt_at);
CREATE INDEX webhooks_payment ON webhooks (payment_id, status, seq);
CREATE INDEX webhooks_site ON webhooks (site_id, seq);
