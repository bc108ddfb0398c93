package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys walks the YAML document beside the type it decodes into and
// reports every mapping key the type does not have, by its key path
// (sites[0].webhook.urll), so the message points where check-config's
// other messages point. The decoder's own error names only a line and a
// Go type.
func unknownKeys(doc *yaml.Node) Problems {
	var ps Problems
	walkKeys(doc, reflect.TypeFor[fileConfig](), "", &ps)
	return ps
}

func walkKeys(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkKeys(c, t, path, ps)
		}
	case yaml.AliasNode:
		// An alias repeats a node already walked where it was defined.
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return // a type mismatch, which the decoder reports
		}
		for i, c := range n.Content {
			walkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // a merge key: its keys are checked where they are defined
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			switch t.Kind() {
			case reflect.Map:
				walkKeys(v, t.Elem(), p, ps)
			case reflect.Struct:
				ft, ok := fieldByYAMLName(t, k.Value)
				if !ok {
					*ps = append(*ps, Problem{Path: p, Msg: fmt.Sprintf("is not a known key (line %d); check the spelling against config.example.yaml", k.Line)})
					continue
				}
				walkKeys(v, ft, p, ps)
			}
		}
	}
}

// fieldByYAMLName returns the type of t's field whose yaml tag (or, with
// none, lower-cased name, as yaml.v3 does) is name.
func fieldByYAMLName(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}
