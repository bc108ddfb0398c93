-- Nonces of the money-moving requests (refund, void, capture) the relay accepted, kept
-- until their timestamps go stale, so that a request captured before a
-- restart cannot be replayed after it. The in-memory cache answers first;
-- this table is what survives the process. id is the hex SHA-256 of key id
-- and nonce; expires_at is Unix milliseconds.
CREATE TABLE nonces (
	id         TEXT    NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX nonces_expiry ON nonces (expires_at);
