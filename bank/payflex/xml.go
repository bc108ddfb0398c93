package payflex

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/bank"
)

// DecodeXML reads one of VakıfBank's XML answers (MPI, VPOS, Search,
// Common Payment) into v and returns the name of its root element. It
// accepts UTF-8 and the Turkish single-byte charsets. A body that is not
// XML — an HTML page from a WAF or a web server standing in for the answer
// (§0.1), a JSON error from the API gateway, a truncated document — is an
// error wrapping bank.ErrMalformed. The error never quotes the body.
func DecodeXML(body []byte, v any) (string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", fmt.Errorf("%w: empty answer", bank.ErrMalformed)
	}
	if trimmed[0] != '<' {
		return "", fmt.Errorf("%w: answer is not XML (starts with %q)", bank.ErrMalformed, trimmed[:1])
	}
	d := xml.NewDecoder(bytes.NewReader(trimmed))
	d.CharsetReader = charsetReader
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%w: answer has no XML element", bank.ErrMalformed)
		}
		if err != nil {
			return "", fmt.Errorf("%w: answer is not XML: %v", bank.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root := t.Name.Local
			if strings.EqualFold(root, "html") {
				return root, fmt.Errorf("%w: answer is an HTML page, not XML (a WAF or the wrong URL?)", bank.ErrMalformed)
			}
			if err := d.DecodeElement(v, &t); err != nil {
				return root, fmt.Errorf("%w: <%s> is not readable: %v", bank.ErrMalformed, root, err)
			}
			return root, nil
		case xml.Directive:
			if bytes.HasPrefix(bytes.ToLower(bytes.TrimSpace(t)), []byte("doctype html")) {
				return "", fmt.Errorf("%w: answer is an HTML page, not XML (a WAF or the wrong URL?)", bank.ErrMalformed)
			}
		}
	}
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "":
		return in, nil
	case "iso-8859-9", "iso8859-9", "latin5":
		return charmap.ISO8859_9.NewDecoder().Reader(in), nil
	case "windows-1254", "cp1254":
		return charmap.Windows1254.NewDecoder().Reader(in), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", label)
}

// Text is an element's character data without surrounding white space.
type Text string

// UnmarshalText keeps b without surrounding white space.
func (t *Text) UnmarshalText(b []byte) error {
	*t = Text(strings.TrimSpace(string(b)))
	return nil
}

type text = Text

// element is one XML element of a request, written in order.
type element struct{ name, value string }

// writeElements writes <name>value</name> for each element, escaping the
// values.
func writeElements(b *strings.Builder, els []element) {
	for _, e := range els {
		b.WriteString("<" + e.name + ">")
		_ = xml.EscapeText(b, []byte(e.value))
		b.WriteString("</" + e.name + ">")
	}
}
