package est

import (
	"bytes"
	"io"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// The byte decoder gives what x/text's charmap decoders give, for every byte,
// whatever the read sizes.
func TestByteDecoderMatchesCharmap(t *testing.T) {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	all = append(all, all...)
	for _, c := range []struct {
		name string
		cm   *charmap.Charmap
		tab  *[256]string
	}{{"ISO-8859-9", charmap.ISO8859_9, latin5}, {"windows-1254", charmap.Windows1254, windows1254}} {
		t.Run(c.name, func(t *testing.T) { testByteDecoder(t, all, c.cm, c.tab) })
	}
}

// testByteDecoder compares newByteDecoder with x/text's decoder of cm on
// all, read whole and in 3-byte reads.
func testByteDecoder(t *testing.T, all []byte, cm *charmap.Charmap, tab *[256]string) {
	t.Helper()
	want, _ := io.ReadAll(cm.NewDecoder().Reader(bytes.NewReader(all)))
	got, _ := io.ReadAll(newByteDecoder(bytes.NewReader(all), tab))
	if !bytes.Equal(got, want) {
		t.Fatal("whole reads differ")
	}
	// Reads of 3 bytes split the 2-byte sequences.
	d := newByteDecoder(bytes.NewReader(all), tab)
	var got2 []byte
	buf := make([]byte, 3)
	for {
		n, err := d.Read(buf)
		got2 = append(got2, buf[:n]...)
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got2, want) {
		t.Fatal("small reads differ")
	}
}
