package api_test

import (
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Requests derived from the OpenAPI document: a test that walks every
// operation builds its paths and query strings from the declared schemas,
// so a new route is covered as soon as it is documented.

// params are an operation's parameters, path-level ones included.
func params(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range list {
			out = append(out, ref.Value)
		}
	}
	return out
}

// exampleValue is a valid value of p: its example, its schema's example,
// its first enum value, or the smallest value its type and bounds allow.
func exampleValue(p *openapi3.Parameter) string {
	if p.Example != nil {
		return fmt.Sprint(p.Example)
	}
	sc := p.Schema.Value
	if sc.Type.Is("array") {
		sc = sc.Items.Value
	}
	switch {
	case sc.Example != nil:
		return fmt.Sprint(sc.Example)
	case len(sc.Enum) > 0:
		return fmt.Sprint(sc.Enum[0])
	case sc.Type.Is("integer"), sc.Type.Is("number"):
		if sc.Min != nil {
			return fmt.Sprint(int64(*sc.Min))
		}
		return "1"
	case sc.Type.Is("boolean"):
		return "true"
	default:
		return "x"
	}
}

// examplePath fills path's {name} segments with valid values.
func examplePath(path string, ps []*openapi3.Parameter) string {
	for _, p := range ps {
		if p.In == openapi3.ParameterInPath {
			path = strings.ReplaceAll(path, "{"+p.Name+"}", exampleValue(p))
		}
	}
	return path
}
