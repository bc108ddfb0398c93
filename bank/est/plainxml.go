package est

import (
	"bytes"
	"strings"
)

// parsePlain reads the plain XML a CC5Response is in practice — an
// optional declaration, then elements without attributes, text with the
// five predefined entities — in a single pass over the bytes, for what
// encoding/xml (with its charset reader) would give. Every refreshed
// payment read parses a status answer, and encoding/xml took a fifth of
// that request's CPU time and most of its garbage.
//
// It reports false for anything outside that subset (attributes,
// comments, CDATA, character references, namespaces, non-ASCII names,
// control characters, another root after the first…) and for anything
// broken (mismatched or unclosed tags, another root element): the caller
// then parses with encoding/xml, so such an answer gets exactly the
// result or error it always got. FuzzParsePlain holds the two to the
// same results.
func parsePlain(body []byte) (*cc5Response, bool) {
	table, rest, ok := plainDecl(body)
	if !ok {
		return nil, false
	}
	// A status answer has about 25 Extra fields.
	r := &cc5Response{Extra: make(map[string]string, 32)}
	var stack [8][]byte // open element names
	depth := 0
	text := make([]byte, 0, 256)
	sawRoot, rootClosed := false, false
	end := func() {
		v := string(bytes.TrimSpace(text)) // as strings.TrimSpace: Unicode white space
		switch {
		case depth == 2:
			r.set(string(stack[1]), v)
		case depth == 3 && string(stack[1]) == "Extra":
			r.Extra[string(stack[2])] = v
		}
		depth--
		text = text[:0]
		if depth == 0 {
			rootClosed = true
		}
	}
	for len(rest) > 0 {
		if rest[0] != '<' {
			i := bytes.IndexByte(rest, '<')
			if i < 0 {
				i = len(rest)
			}
			seg := rest[:i]
			rest = rest[i:]
			if depth == 0 {
				if !isXMLSpace(seg) {
					return nil, false
				}
				continue
			}
			if text, ok = appendText(text, seg, table); !ok {
				return nil, false
			}
			continue
		}
		if len(rest) > 1 && rest[1] == '/' {
			name := plainName(rest[2:])
			if len(name) == 0 || len(rest) < 2+len(name)+1 || rest[2+len(name)] != '>' ||
				depth == 0 || !bytes.Equal(stack[depth-1], name) {
				return nil, false
			}
			rest = rest[2+len(name)+1:]
			end()
			continue
		}
		name := plainName(rest[1:])
		if len(name) == 0 || rootClosed || depth == len(stack) {
			return nil, false
		}
		after := rest[1+len(name):]
		closed := false
		switch {
		case len(after) > 0 && after[0] == '>':
			rest = after[1:]
		case len(after) > 1 && after[0] == '/' && after[1] == '>':
			rest, closed = after[2:], true
		default:
			return nil, false
		}
		if depth == 0 {
			if string(name) != "CC5Response" {
				return nil, false
			}
			sawRoot = true
		}
		stack[depth] = name
		depth++
		text = text[:0]
		if closed {
			end()
		}
	}
	if !sawRoot || depth != 0 {
		return nil, false
	}
	return r, true
}

// plainDecl reads the XML declaration, if any, in the one spelling the
// banks use, and returns the UTF-8 table of its charset (nil: UTF-8) and
// what follows it.
func plainDecl(body []byte) (*[256]string, []byte, bool) {
	const prefix, suffix = `<?xml version="1.0"`, `?>`
	if !bytes.HasPrefix(body, []byte(`<?xml`)) {
		return nil, body, len(body) > 0 && body[0] == '<'
	}
	i := bytes.Index(body, []byte(suffix))
	if i < 0 {
		return nil, nil, false
	}
	decl, rest := string(body[:i]), body[i+len(suffix):]
	attrs, ok := strings.CutPrefix(decl, prefix)
	if !ok {
		return nil, nil, false
	}
	if attrs == "" {
		return nil, rest, true
	}
	label, ok := strings.CutPrefix(attrs, ` encoding="`)
	if !ok {
		return nil, nil, false
	}
	if label, ok = strings.CutSuffix(label, `"`); !ok || strings.ContainsAny(label, `" `) {
		return nil, nil, false
	}
	switch strings.ToLower(label) {
	case "iso-8859-9", "iso8859-9", "latin5":
		return latin5, rest, true
	case "windows-1254", "cp1254":
		return windows1254, rest, true
	case "utf-8", "utf8":
		return nil, rest, true
	}
	return nil, nil, false
}

// plainName returns the element name b starts with: ASCII letters,
// digits, '_', '-' and '.' (no namespace prefix).
func plainName(b []byte) []byte {
	n := 0
	for n < len(b) {
		c := b[n]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			break
		}
		n++
	}
	return b[:n]
}

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// appendText appends character data as encoding/xml delivers it: through
// the charset's table (nil: UTF-8, where only ASCII is taken here),
// "\r\n" and "\r" as "\n", the predefined entities replaced. It reports
// false for what it leaves to encoding/xml.
func appendText(dst, seg []byte, table *[256]string) ([]byte, bool) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '&':
			j := bytes.IndexByte(seg[i:], ';')
			if j < 0 {
				return nil, false
			}
			switch string(seg[i+1 : i+j]) {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "apos":
				dst = append(dst, '\'')
			case "quot":
				dst = append(dst, '"')
			default:
				return nil, false
			}
			i += j
		case c == '\r':
			dst = append(dst, '\n')
			if i+1 < len(seg) && seg[i+1] == '\n' {
				i++
			}
		case c == ']' && bytes.HasPrefix(seg[i:], []byte("]]>")):
			return nil, false
		case c < 0x20 && c != '\t' && c != '\n':
			return nil, false
		case c < 0x80:
			dst = append(dst, c)
		case table == nil:
			return nil, false
		default:
			dst = append(dst, table[c]...)
		}
	}
	return dst, true
}
