package vakif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/posrelay/posrelay/banksim"
)

// maxXMLBytes bounds the XML messages the simulator reads.
const maxXMLBytes = 64 << 10

// xmlMsg is a request message: its root and its leaf elements by path
// below the root ("MerchantId", "MerchantCriteria/HostMerchantId"), in
// order.
type xmlMsg struct {
	Root   string
	Fields []banksim.Field
}

func (m *xmlMsg) get(path string) string {
	for _, f := range m.Fields {
		if f.Name == path {
			return f.Value
		}
	}
	return ""
}

// parseXMLMsg reads a VposRequest or SearchRequest: UTF-8, at most four
// levels, each leaf once, values trimmed.
func parseXMLMsg(body string) (*xmlMsg, error) {
	if len(body) > maxXMLBytes {
		return nil, fmt.Errorf("message larger than %d bytes", maxXMLBytes)
	}
	d := xml.NewDecoder(strings.NewReader(body))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return in, nil
		}
		return nil, fmt.Errorf("charset %q: send UTF-8", label)
	}
	m := &xmlMsg{}
	var path []string
	var text strings.Builder
	seen := map[string]bool{}
	leaf := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				if m.Root != "" {
					return nil, errors.New("more than one root element")
				}
				m.Root = t.Name.Local
			}
			if len(path) >= 4 {
				return nil, errors.New("nested too deep")
			}
			path = append(path, t.Name.Local)
			text.Reset()
			leaf = true
		case xml.CharData:
			if len(path) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, errors.New("text outside the root element")
				}
				continue
			}
			text.Write(t)
		case xml.EndElement:
			if leaf && len(path) > 1 {
				name := strings.Join(path[1:], "/")
				if seen[name] {
					return nil, fmt.Errorf("element %s appears twice", name)
				}
				seen[name] = true
				m.Fields = append(m.Fields, banksim.Field{Name: name, Value: strings.TrimSpace(text.String())})
			}
			path = path[:len(path)-1]
			text.Reset()
			leaf = false
		}
	}
	if m.Root == "" || len(path) != 0 {
		return nil, errors.New("no complete XML document")
	}
	return m, nil
}

// node is an element of an answer.
type node struct {
	name  string
	value string
	kids  []node
	empty bool // written as <name /> like the bank's empty InstallmentTable
}

func el(name, value string) node { return node{name: name, value: value} }
func group(name string, kids ...node) node {
	return node{name: name, kids: kids}
}
func emptyEl(name string) node { return node{name: name, empty: true} }

func (n node) write(b *bytes.Buffer) {
	switch {
	case n.empty:
		b.WriteString("<" + n.name + " />")
	case n.kids != nil:
		b.WriteString("<" + n.name + ">")
		for _, k := range n.kids {
			k.write(b)
		}
		b.WriteString("</" + n.name + ">")
	default:
		b.WriteString("<" + n.name + ">")
		_ = xml.EscapeText(b, []byte(n.value))
		b.WriteString("</" + n.name + ">")
	}
}

// render writes a UTF-8 document with its declaration, as the bank does
// (§3A.9 serializer sample).
func render(root node) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	root.write(&b)
	return b.Bytes()
}

func writeXML(w http.ResponseWriter, root node) { writeRaw(w, "text/xml; charset=utf-8", render(root)) }

func writeRaw(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Cache-Control", "no-store")
	banksim.WriteBody(w, contentType, body)
}

// writeWAF answers with the F5-style rejection page (§0.1).
func writeWAF(w http.ResponseWriter) {
	writeRaw(w, "text/html; charset=utf-8", banksim.WAFPage(banksim.RandDigits(19)))
}

func itoa(n int) string { return strconv.Itoa(n) }

// decimalComma writes an amount the way Common Payment answers carry it:
// "1,01" (CP-F3).
func decimalComma(minor int64) string {
	return strings.Replace(banksim.FormatAmount(minor), ".", ",", 1)
}
