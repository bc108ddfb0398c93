package banksim

import (
	"sync"
	"time"
)

// Turkey is Türkiye time, UTC+3 all year (no daylight saving since 2016).
// The banks' dates, end-of-day and settlement batches are in this zone.
var Turkey = time.FixedZone("TRT", 3*60*60)

// EndOfDay returns the first midnight, Türkiye time, strictly after t: the
// moment the bank closes the batch t belongs to.
func EndOfDay(t time.Time) time.Time {
	l := t.In(Turkey)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, Turkey)
}

// SettledBy reports whether something captured at t is in a closed batch at
// now: the clock has reached the end of t's day.
func SettledBy(t, now time.Time) bool {
	return !t.IsZero() && !now.Before(EndOfDay(t))
}

// BatchNumber is a bank-style batch (settlement) number for the day of t:
// the number of days since 2019-01-01 in Türkiye time, e.g. 2287.
func BatchNumber(t time.Time) int {
	l := t.In(Turkey)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	return int(day.Sub(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// ManualClock is a settable clock for tests and demos. Its Now method fits
// the simulators' Config.Now. The zero value starts at the zero time; use
// NewManualClock.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock standing at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
