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
		cm  *charmap.Charmap
		tab *[256]string
	}{{charmap.ISO8859_9, latin5}, {charmap.Windows1254, windows1254}} {
		want, _ := io.ReadAll(c.cm.NewDecoder().Reader(bytes.NewReader(all)))
		got, _ := io.ReadAll(newByteDecoder(bytes.NewReader(all), c.tab))
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: differ", c.cm)
		}
		// Reads of 3 bytes split the 2-byte sequences.
		d := newByteDecoder(bytes.NewReader(all), c.tab)
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
			t.Fatalf("%v: small reads differ", c.cm)
		}
	}
}
