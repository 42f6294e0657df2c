package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/go-chi/chi/v5"

	"valise"
)

// The OpenAPI document is the one list of every operation's query and path
// parameters, with their types, enums and bounds; paramCheck holds every
// request to it before any handler runs, so a route added to the router
// and the document is covered without a line of its own. A parameter that
// is not declared, given twice, given empty, not valid UTF-8, holding a
// control character or outside its schema is a 422 problem naming it (a
// query string that does not parse is a 400). Headers and body media types
// stay with their handlers (Decode, ifMatch, the Idempotency-Key
// middleware).

// paramCheck validates requests against the document's parameters.
type paramCheck struct {
	routes chi.Routes              // the server's router, to find a request's route pattern
	ops    map[string]*operationPs // "GET /api/v1/bags/{id}" → its parameters
}

// operationPs are an operation's query and path parameters (path-level
// ones merged in), by name, and all of them in the document's order.
type operationPs struct {
	query, path map[string]*openapi3.Parameter
	ordered     []*openapi3.Parameter
}

// newParamCheck indexes the embedded document; a document that does not
// load is a build error that TestOpenAPIMatchesRouter reports.
func newParamCheck(routes chi.Routes) *paramCheck {
	pc := &paramCheck{routes: routes, ops: map[string]*operationPs{}}
	doc, err := openapi3.NewLoader().LoadFromData(openapiDoc)
	if err != nil {
		panic("load the embedded OpenAPI document: " + err.Error())
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ps := &operationPs{query: map[string]*openapi3.Parameter{}, path: map[string]*openapi3.Parameter{}}
			for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range list {
					switch p := ref.Value; p.In {
					case openapi3.ParameterInQuery:
						ps.query[p.Name] = p
						ps.ordered = append(ps.ordered, p)
					case openapi3.ParameterInPath:
						ps.path[p.Name] = p
						ps.ordered = append(ps.ordered, p)
					}
				}
			}
			pc.ops[strings.ToUpper(method)+" "+path] = ps
		}
	}
	return pc
}

// routePattern is the pattern chi would route r to, in the document's
// spelling (no "/*" of mounted routers, no trailing slash), or "".
func routePattern(routes chi.Routes, r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	p := routes.Find(chi.NewRouteContext(), r.Method, path)
	p = strings.ReplaceAll(p, "/*/", "/")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

func (pc *paramCheck) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pattern := routePattern(pc.routes, r)
		ps := pc.ops[r.Method+" "+pattern]
		if ps == nil { // no such route (404, 405), or one the document does not name (a test's)
			next.ServeHTTP(w, r)
			return
		}
		if err := ps.check(r, pattern); err != nil {
			// Refused before routing: name the route for the access log and metrics.
			if rctx := chi.RouteContext(r.Context()); rctx != nil && len(rctx.RoutePatterns) == 0 {
				rctx.RoutePatterns = append(rctx.RoutePatterns, pattern)
			}
			Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// check validates r's query and path parameters.
func (ps *operationPs) check(r *http.Request, pattern string) error {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return valise.Errorf(valise.EBADREQUEST, "the query string does not parse: %s", queryParseReason(err))
	}
	var fe []valise.FieldError
	bad := func(name, reason string) { fe = append(fe, valise.FieldError{Field: name, Reason: reason}) }
	for _, name := range slices.Sorted(maps.Keys(query)) {
		vals := query[name]
		p := ps.query[name]
		switch {
		case !cleanText(name):
			bad(strings.ToValidUTF8(name, "\uFFFD"), "not a parameter of this operation (and not clean UTF-8 text)")
			continue
		case p == nil:
			bad(name, "not a parameter of this operation")
			continue
		case len(vals) > 1:
			bad(name, "given more than once")
			continue
		case vals[0] == "" && !p.AllowEmptyValue:
			bad(name, "empty: give a value or leave the parameter out")
			continue
		case !cleanText(vals[0]):
			bad(name, "not valid UTF-8 text (or holds a control character such as NUL)")
			continue
		}
	}
	pathParams := pathValues(pattern, r)
	for name, v := range pathParams {
		if !cleanText(v) {
			bad(name, "not valid UTF-8 text (or holds a control character such as NUL)")
		}
	}
	if fe != nil {
		return valise.Invalid("bad parameters", fe...)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, QueryParams: query,
		Options: &openapi3filter.Options{SkipSettingDefaults: true}}
	ctx := context.WithoutCancel(r.Context())
	for _, p := range ps.ordered {
		if err := openapi3filter.ValidateParameter(ctx, in, p); err != nil {
			bad(p.Name, schemaReason(err))
		}
	}
	if fe != nil {
		return valise.Invalid("bad parameters", fe...)
	}
	return nil
}

// pathValues reads the values of pattern's {name} segments from r's path,
// split as chi splits it (the raw path when it has escapes).
func pathValues(pattern string, r *http.Request) map[string]string {
	out := map[string]string{}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	segs := strings.Split(path, "/")
	for i, s := range strings.Split(pattern, "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && i < len(segs) {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				v = segs[i]
			}
			out[strings.Trim(s, "{}")] = v
		}
	}
	return out
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// schemaReason is what a kin-openapi parameter error says, without the
// echo of the value or the schema.
func schemaReason(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return se.Reason
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		if pe.Reason != "" {
			return pe.Reason
		}
		if pe.Kind == openapi3filter.KindInvalidFormat {
			return "has the wrong type"
		}
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) && re.Reason != "" {
		return re.Reason
	}
	return fmt.Sprint(err)
}

func queryParseReason(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "bad percent-escape " + fmt.Sprintf("%q", string(ee))
	}
	return "bad syntax"
}
