package est

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// latin5 converts a UTF-8 string to ISO-8859-9 bytes, the charset of the
// gateway's pages and callbacks; runes outside it become '?'.
func latin5(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteByte(byte(r))
			continue
		}
		if c, ok := charmap.ISO8859_9.EncodeRune(r); ok {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// xmlElem is one child of CC5Response; an element with Kids (Extra) is a
// container.
type xmlElem struct {
	Name  string
	Value string
	Kids  []xmlElem
	// CharRefs writes every non-ASCII rune as &#x…; (as Payten does for
	// CARDISSUER in the serializer sample) instead of an ISO-8859-9 byte.
	CharRefs  bool
	container bool
}

func el(name, value string) xmlElem { return xmlElem{Name: name, Value: value} }

func extra(kids ...xmlElem) xmlElem { return xmlElem{Name: "Extra", Kids: kids, container: true} }

// renderCC5 writes a CC5Response document in ISO-8859-9 with the XML
// declaration, indented like the gateway's answers.
func renderCC5(elems []xmlElem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Response>\n")
	for _, e := range elems {
		writeElem(&b, e, "  ")
	}
	b.WriteString("</CC5Response>\n")
	return b.Bytes()
}

func writeElem(b *bytes.Buffer, e xmlElem, indent string) {
	b.WriteString(indent + "<" + e.Name + ">")
	if e.container {
		if len(e.Kids) > 0 {
			b.WriteByte('\n')
			for _, k := range e.Kids {
				writeElem(b, k, indent+"  ")
			}
			b.WriteString(indent)
		}
	} else {
		writeText(b, e.Value, e.CharRefs)
	}
	b.WriteString("</" + e.Name + ">\n")
}

// writeText escapes markup and encodes the text in ISO-8859-9, with a
// character reference for anything that charset lacks. TABs stay literal
// (ORDERSTATUS and TRXn values are TAB-separated).
func writeText(b *bytes.Buffer, s string, charRefs bool) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r < utf8.RuneSelf):
			b.WriteByte(byte(r))
		case r < 0x20 || r == utf8.RuneError:
			// not allowed in XML 1.0: drop
		default:
			if c, ok := charmap.ISO8859_9.EncodeRune(r); ok && !charRefs {
				b.WriteByte(c)
			} else {
				b.WriteString("&#x" + strings.ToUpper(strconv.FormatInt(int64(r), 16)) + ";")
			}
		}
	}
}

// cc5Request is a decoded CC5Request: its leaf children, and the children of
// Extra and PbOrder.
type cc5Request struct {
	Fields  map[string]string
	Extra   map[string]string
	PbOrder map[string]string
}

func (r *cc5Request) get(name string) string { return r.Fields[name] }

func (r *cc5Request) has(name string) bool { _, ok := r.Fields[name]; return ok }

// maxXMLBytes bounds a CC5Request.
const maxXMLBytes = 64 << 10

// parseCC5Request decodes a CC5Request the way the gateway accepts it: the
// raw XML body, or an application/x-www-form-urlencoded body whose DATA
// field holds the XML (as some peers send it). The declaration may name
// ISO-8859-9, windows-1254 or UTF-8.
// Values are whitespace-trimmed. Nesting deeper than Extra/PbOrder, a
// repeated element, text next to child elements and any root other than
// CC5Request are errors.
func parseCC5Request(body []byte, contentType string) (*cc5Request, error) {
	if len(body) > maxXMLBytes {
		return nil, fmt.Errorf("request larger than %d bytes", maxXMLBytes)
	}
	trimmed := bytes.TrimSpace(body)
	if strings.HasPrefix(strings.ToLower(contentType), "application/x-www-form-urlencoded") || bytes.HasPrefix(trimmed, []byte("DATA=")) {
		form, err := parseDataForm(trimmed)
		if err != nil {
			return nil, err
		}
		trimmed = bytes.TrimSpace([]byte(form))
	}
	if len(trimmed) == 0 {
		return nil, errors.New("empty request")
	}
	d := xml.NewDecoder(bytes.NewReader(trimmed))
	d.Strict = true
	d.CharsetReader = charsetReader
	req := &cc5Request{Fields: map[string]string{}, Extra: map[string]string{}, PbOrder: map[string]string{}}
	var (
		stack []string
		text  strings.Builder
		// hadKids: the open element at each depth has child elements.
		hadKids []bool
	)
	sawRoot := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if t.Name.Space != "" {
				return nil, fmt.Errorf("namespaced element %s:%s", t.Name.Space, name)
			}
			switch depth := len(stack); {
			case depth == 0 && sawRoot:
				return nil, errors.New("more than one root element")
			case depth == 0 && name != "CC5Request":
				return nil, fmt.Errorf("root element is %s, want CC5Request", name)
			case depth == 2 && stack[1] != "Extra" && stack[1] != "PbOrder":
				return nil, fmt.Errorf("element %s may not contain elements", stack[1])
			case depth >= 3:
				return nil, fmt.Errorf("element %s nested too deep", name)
			}
			if n := len(hadKids); n > 0 {
				if strings.TrimSpace(text.String()) != "" {
					return nil, fmt.Errorf("element %s mixes text and elements", stack[n-1])
				}
				hadKids[n-1] = true
			}
			sawRoot = true
			stack = append(stack, name)
			hadKids = append(hadKids, false)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			depth := len(stack)
			name := stack[depth-1]
			leaf := !hadKids[depth-1]
			value := strings.TrimSpace(text.String())
			text.Reset()
			stack, hadKids = stack[:depth-1], hadKids[:depth-1]
			var m map[string]string
			switch {
			case depth == 2 && leaf:
				if name == "Extra" || name == "PbOrder" {
					if value != "" {
						return nil, fmt.Errorf("element %s holds text", name)
					}
					continue
				}
				m = req.Fields
			case depth == 3 && stack[1] == "Extra":
				m = req.Extra
			case depth == 3:
				m = req.PbOrder
			default:
				continue
			}
			if _, dup := m[name]; dup {
				return nil, fmt.Errorf("element %s repeated", name)
			}
			m[name] = value
		}
	}
	if !sawRoot {
		return nil, errors.New("no CC5Request element")
	}
	return req, nil
}

// parseDataForm returns the DATA field of a form body.
func parseDataForm(body []byte) (string, error) {
	for seg := range strings.SplitSeq(string(body), "&") {
		k, v, _ := strings.Cut(seg, "=")
		if k != "DATA" {
			continue
		}
		return url.QueryUnescape(v)
	}
	return "", errors.New("form body without a DATA field")
}

func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-9", "iso8859-9", "iso_8859-9", "latin5", "l5":
		return charmap.ISO8859_9.NewDecoder().Reader(input), nil
	case "windows-1254", "cp1254":
		return charmap.Windows1254.NewDecoder().Reader(input), nil
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}
