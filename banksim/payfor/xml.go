package payfor

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// maxXMLBytes bounds a PayforRequest.
const maxXMLBytes = 64 << 10

// parsePayforRequest decodes a PayforRequest (§2.7): UTF-8 (ISO-8859-9 and
// windows-1254 declarations are read too), one level of elements under the
// root, values whitespace-trimmed. A repeated element, a nested element,
// text next to elements, a namespace or any root other than PayforRequest
// is an error.
func parsePayforRequest(body []byte) (map[string]string, error) {
	if len(body) > maxXMLBytes {
		return nil, fmt.Errorf("request larger than %d bytes", maxXMLBytes)
	}
	body = bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\xef\xbb\xbf"))
	if len(body) == 0 {
		return nil, errors.New("empty request")
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = charsetReader
	req := map[string]string{}
	var (
		stack   []string
		text    strings.Builder
		sawRoot bool
	)
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
			case depth == 0 && name != "PayforRequest":
				return nil, fmt.Errorf("root element is %s, want PayforRequest", name)
			case depth == 1 && strings.TrimSpace(text.String()) != "":
				return nil, errors.New("PayforRequest mixes text and elements")
			case depth >= 2:
				return nil, fmt.Errorf("element %s may not contain elements", stack[1])
			}
			sawRoot = true
			stack = append(stack, name)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(stack) == 2 {
				name := stack[1]
				if _, dup := req[name]; dup {
					return nil, fmt.Errorf("element %s repeated", name)
				}
				req[name] = strings.TrimSpace(text.String())
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if !sawRoot {
		return nil, errors.New("no PayforRequest element")
	}
	return req, nil
}

func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	case "iso-8859-9", "iso8859-9", "latin5":
		return charmap.ISO8859_9.NewDecoder().Reader(input), nil
	case "windows-1254", "cp1254":
		return charmap.Windows1254.NewDecoder().Reader(input), nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}

// kv is one element of an answer, in order.
type kv struct{ k, v string }

// renderResponse writes a PayforResponse the way the bank does: CRLF line
// ends, one element a line, and CRLF plus indentation inside an empty
// element (§2.7: "<MD>\r\n</MD>").
func renderResponse(elems []kv) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n<PayforResponse>\r\n")
	for _, e := range elems {
		b.WriteString("<" + e.k + ">")
		if e.v == "" {
			b.WriteString("\r\n  ")
		} else {
			_ = xml.EscapeText(&b, []byte(e.v))
		}
		b.WriteString("</" + e.k + ">\r\n")
	}
	b.WriteString("</PayforResponse>")
	return b.Bytes()
}

// historyItem is one PaymentRequestExtended of a TxnHistoryReport.
type historyItem struct {
	fields []kv
	extra  []kv // ExtraParameters: IsBatchClosed, SettlementDate
}

// renderHistory writes a TxnHistoryReport shaped like the serializer
// sample of §2.7: indented, empty elements self-closed, the PaymentRequest
// and ExtraParameters in the ocean.smartway.com namespace.
func renderHistory(items []historyItem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n")
	b.WriteString(`<TxnHistoryReport xsi:noNamespaceSchemaLocation="TxnHistoryReport.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\r\n")
	leaf := func(indent, k, v string) {
		if v == "" {
			b.WriteString(indent + "<" + k + " />\r\n")
			return
		}
		b.WriteString(indent + "<" + k + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + k + ">\r\n")
	}
	for _, it := range items {
		b.WriteString("  <PaymentRequestExtended>\r\n")
		b.WriteString(`    <PaymentRequest xmlns="http://ocean.smartway.com/">` + "\r\n")
		for _, e := range it.fields {
			leaf("      ", e.k, e.v)
		}
		b.WriteString("    </PaymentRequest>\r\n")
		b.WriteString(`    <ExtraParameters xmlns="http://ocean.smartway.com/">` + "\r\n")
		for _, e := range it.extra {
			b.WriteString("      <ArrayOfString>\r\n")
			leaf("        ", "string", e.k)
			leaf("        ", "string", e.v)
			b.WriteString("      </ArrayOfString>\r\n")
		}
		b.WriteString("    </ExtraParameters>\r\n")
		b.WriteString("  </PaymentRequestExtended>\r\n")
	}
	b.WriteString("</TxnHistoryReport>")
	return b.Bytes()
}
