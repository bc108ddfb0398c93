package signer

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// nonceKey scopes a nonce to the key that signed it: the SHA-256 of key id
// and nonce. A fixed-size array holds no pointers, so the hundreds of
// thousands of entries a busy relay remembers cost the garbage collector
// nothing to scan (string keys made it the relay's largest source of tail
// latency under load).
type nonceKey [sha256.Size]byte

func newNonceKey(keyID, nonce string) nonceKey {
	h := sha256.New()
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write([]byte(nonce))
	var k nonceKey
	h.Sum(k[:0])
	return k
}

// replayOutcome is the answer of replayCache.checkAndAdd.
type replayOutcome int

const (
	added    replayOutcome = iota // the nonce was unseen and is now recorded
	replayed                      // the nonce is recorded and not yet expired
	full                          // the nonce is unseen but there is no room
)

// replayCache remembers accepted nonces until they expire.
//
// Expiry follows the verifier's clock, which tests inject, while the
// expirable LRU expires entries by the real clock. So each entry's value is
// its expiry by the verifier's clock, and an entry whose stored expiry is at
// or before now counts as absent. The LRU's own TTL is only a longer backstop
// that frees memory; its size limit is off, so nothing is ever evicted before
// it expires — a full cache refuses instead.
type replayCache struct {
	mu       sync.Mutex                      // held around check and add: the LRU has no atomic add-if-absent
	lru      *expirable.LRU[nonceKey, int64] // expiry, Unix nanoseconds by the verifier's clock
	capacity int
	// earliest is a lower bound on the expiry of every entry (zero: unknown).
	// While now is before it, nothing has expired and a full cache need not
	// be scanned.
	earliest time.Time
}

func newReplayCache(capacity int, ttl time.Duration) *replayCache {
	return &replayCache{
		lru:      expirable.NewLRU[nonceKey, int64](0, nil, ttl),
		capacity: capacity,
	}
}

// checkAndAdd records k with the given expiry unless it is already recorded
// and unexpired at now, or the cache holds capacity unexpired entries.
func (c *replayCache) checkAndAdd(k nonceKey, expiry, now time.Time) replayOutcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.lru.Peek(k); ok && exp > now.UnixNano() {
		return replayed
	}
	if c.lru.Len() >= c.capacity {
		c.purgeExpired(now)
		if c.lru.Len() >= c.capacity {
			return full
		}
	}
	c.lru.Add(k, expiry.UnixNano()) // replaces an expired entry for k, if any
	if c.earliest.IsZero() || expiry.Before(c.earliest) {
		c.earliest = expiry
	}
	return added
}

// purgeExpired removes every entry whose expiry is at or before now. It scans
// the whole cache, but only when some entry may have expired.
func (c *replayCache) purgeExpired(now time.Time) {
	if !c.earliest.IsZero() && now.Before(c.earliest) {
		return
	}
	var earliest time.Time
	for _, k := range c.lru.Keys() {
		e, ok := c.lru.Peek(k)
		exp := time.Unix(0, e)
		if !ok || !exp.After(now) {
			c.lru.Remove(k)
			continue
		}
		if earliest.IsZero() || exp.Before(earliest) {
			earliest = exp
		}
	}
	c.earliest = earliest
}

// entries reports how many entries the cache holds, expired or not.
func (c *replayCache) entries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
