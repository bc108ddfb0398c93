package banksim

import (
	"errors"
	"testing"
	"time"
)

var day1 = time.Date(2024, 5, 17, 15, 0, 0, 0, Turkey)

func TestEndOfDay(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"afternoon", day1, time.Date(2024, 5, 18, 0, 0, 0, 0, Turkey)},
		{"just before midnight", time.Date(2024, 5, 17, 23, 59, 59, 0, Turkey), time.Date(2024, 5, 18, 0, 0, 0, 0, Turkey)},
		{"at midnight", time.Date(2024, 5, 18, 0, 0, 0, 0, Turkey), time.Date(2024, 5, 19, 0, 0, 0, 0, Turkey)},
		{"UTC evening is the next Turkish day", time.Date(2024, 5, 17, 22, 30, 0, 0, time.UTC), time.Date(2024, 5, 19, 0, 0, 0, 0, Turkey)},
		{"year end", time.Date(2024, 12, 31, 12, 0, 0, 0, Turkey), time.Date(2025, 1, 1, 0, 0, 0, 0, Turkey)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EndOfDay(tc.at); !got.Equal(tc.want) {
				t.Errorf("EndOfDay = %v, want %v", got, tc.want)
			}
		})
	}
	if BatchNumber(day1) != 1963 {
		t.Errorf("BatchNumber = %d", BatchNumber(day1))
	}
	c := NewManualClock(day1)
	c.Advance(time.Hour)
	if !c.Now().Equal(day1.Add(time.Hour)) {
		t.Error("ManualClock")
	}
}

func sale(kind TxnKind, amount int64, at time.Time) Txn {
	t := Txn{Kind: kind, Status: TxnApproved, Amount: amount, Currency: "949", At: at, ProcCode: "00"}
	if kind == KindSale {
		t.Captured, t.CapturedAt = amount, at
	}
	return t
}

func TestLedgerRules(t *testing.T) {
	next := EndOfDay(day1)
	tests := []struct {
		name string
		run  func(h *History) error
		want error
	}{
		{"refund before settlement", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			return h.CheckRefund(100, "949", day1.Add(time.Hour))
		}, ErrNotSettled},
		{"refund after settlement", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			return h.CheckRefund(1000, "", next)
		}, nil},
		{"refund over net", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			h.Append(Txn{Kind: KindRefund, Status: TxnApproved, Amount: 600})
			return h.CheckRefund(401, "949", next)
		}, ErrExceedsNet},
		{"refund on zero net", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			h.Append(Txn{Kind: KindRefund, Status: TxnApproved, Amount: 1000})
			return h.CheckRefund(1, "949", next)
		}, ErrZeroNet},
		{"declined refunds do not count", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			h.Append(Txn{Kind: KindRefund, Status: TxnDeclined, Amount: 1000})
			return h.CheckRefund(1000, "949", next)
		}, nil},
		{"refund in another currency", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			return h.CheckRefund(1, "840", next)
		}, ErrCurrency},
		{"refund without sale", func(h *History) error {
			h.Append(Txn{Kind: KindSale, Status: TxnDeclined})
			return h.CheckRefund(1, "", next)
		}, ErrNoSale},
		{"refund of open pre-auth", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			return h.CheckRefund(1, "", next.Add(72*time.Hour))
		}, ErrNotCaptured},
		{"void same day", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			_, err := h.Void(next.Add(-time.Nanosecond))
			return err
		}, nil},
		{"void at midnight", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			_, err := h.Void(next)
			return err
		}, ErrSettled},
		{"void twice", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			if _, err := h.Void(day1); err != nil {
				return err
			}
			_, err := h.Void(day1)
			return err
		}, ErrNothingToVoid},
		{"void of an open pre-auth days later", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, err := h.Void(next.Add(72 * time.Hour))
			return err
		}, nil},
		{"capture full", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			t, err := h.Capture(0, "", false, day1)
			if err == nil && t.Captured != 1000 {
				return errors.New("captured wrong amount")
			}
			return err
		}, nil},
		{"capture over without statement", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, err := h.Capture(1001, "", false, day1)
			return err
		}, ErrExceedsPreAuth},
		{"capture at tolerance", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, err := h.Capture(1150, "", true, day1)
			return err
		}, nil},
		{"capture beyond tolerance", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, err := h.Capture(1151, "", true, day1)
			return err
		}, ErrExceedsPreAuth},
		{"capture a sale", func(h *History) error {
			h.Append(sale(KindSale, 1000, day1))
			_, err := h.Capture(0, "", false, day1)
			return err
		}, ErrNotPreAuth},
		{"capture twice", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, _ = h.Capture(0, "", false, day1)
			_, err := h.Capture(0, "", false, day1)
			return err
		}, ErrAlreadyCapture},
		{"capture a voided pre-auth", func(h *History) error {
			h.Append(sale(KindPreAuth, 1000, day1))
			_, _ = h.Void(day1)
			_, err := h.Capture(0, "", false, day1)
			return err
		}, ErrSaleVoided},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger()
			var err error
			_ = l.Do("o", func(h *History) error { err = tc.run(h); return nil })
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	l := NewLedger()
	if _, ok := l.Order("none", day1); ok {
		t.Error("unknown order found")
	}
	_ = l.Do("empty", func(*History) error { return nil })
	if _, ok := l.Order("empty", day1); ok {
		t.Error("an order without transactions is kept")
	}
	_ = l.Do("o", func(h *History) error {
		h.Append(Txn{Kind: KindSale, Status: TxnDeclined, Amount: 500, ProcCode: "51"})
		return nil
	})
	if o, _ := l.Order("o", day1); o.State != StateDeclined || o.ProcCode != "51" {
		t.Errorf("declined: %+v", o)
	}
	_ = l.Do("o", func(h *History) error {
		h.Append(sale(KindSale, 500, day1))
		h.Append(Txn{Kind: KindRefund, Status: TxnApproved, Amount: 200})
		return nil
	})
	o, _ := l.Order("o", EndOfDay(day1))
	if o.State != StateApproved || o.Captured != 500 || o.Refunded != 200 || !o.Settled || len(o.Txns) != 3 {
		t.Errorf("approved: %+v", o)
	}
}
