package bank

import (
	"strings"
	"testing"
)

func TestScrubText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Onaylandı", "Onaylandı"},
		{"card number", "Kart 4355084355084358 geçersiz", "Kart [number] geçersiz"},
		{"card number at the end", "pan=4355084355084358", "pan=[number]"},
		{"short codes stay", "ISO8583-51 CORE-2508", "ISO8583-51 CORE-2508"},
		{"QNB echo of a field", "Cvv2 alani hatali uzunlukta Gelen : 1234", "Cvv2 alani hatali uzunlukta Gelen: [removed]"},
		{"echo in lower case", "Pan alanı gelen:5555444433332222", "Pan alanı Gelen: [removed]"},
		{"control characters", "a\r\nb\x00c", "a  b c"},
		{"long text is cut", string(make([]byte, 400)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScrubText(tt.in); got != tt.want {
				t.Errorf("ScrubText(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := ScrubText(strings.Repeat("ğ", 200)); len(got) > 300 {
		t.Errorf("cut text is %d bytes", len(got))
	}
}
