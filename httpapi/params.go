package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// params are a request's parameters, checked.
type params struct {
	credential string        // "" when none was given
	ttl        time.Duration // 0 when none was given
	username   string        // "" when none was given
	redirect   bool
	maxUses    *int     // nil when none was given
	note       string   // "" when none was given
	groups     []string // from every group parameter, query then form
	email      string   // "" when none was given
	welcome    string   // "" when none was given
	approval   bool     // the accounts it makes wait for an administrator's approval
	refused    error    // the refusals of the parameters' syntax (core.FieldErrors)
}

// badRequest returns a 400 with a detail for the client.
func badRequest(format string, args ...any) *statusError {
	return &statusError{status: http.StatusBadRequest, detail: fmt.Sprintf(format, args...)}
}

// readParams gathers the credential and parameters from the Authorization header, the
// query string and, for POST, a form body, and checks their syntax.
// A request that cannot be read (a malformed query, two keys) is an error; the
// refusals of single parameters are collected in p.refused, for the core to report
// with its own (bounds that depend on the key, such as ttl's, are the core's to check).
func (h *Handler) readParams(r *http.Request) (params, error) {
	var p params
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return p, badRequest("malformed query string")
	}
	var form url.Values
	if r.Method == http.MethodPost {
		if form, err = h.readForm(r); err != nil {
			return p, err
		}
	}

	if p.credential, err = credential(r.Header, query, form); err != nil {
		return p, err
	}
	var errs []error
	value := func(name string) (string, bool) {
		v, ok, err := single(name, query, form)
		errs = append(errs, err)
		return v, ok && err == nil
	}
	if v, ok := value(core.FieldTTL); ok {
		p.ttl, err = core.ParseTTL(v)
		errs = append(errs, err)
	}
	if v, ok := value(core.FieldUsername); ok {
		p.username = v
	}
	if v, ok := value(core.FieldMaxUses); ok && v != "" {
		n, err := core.ParseMaxUses(v)
		errs = append(errs, err)
		if err == nil {
			p.maxUses = &n
		}
	}
	p.note, _ = value(core.FieldNote)
	p.email, _ = value(core.FieldEmail)
	p.welcome, _ = value(core.FieldWelcome)
	for _, vs := range [][]string{query[core.FieldGroup], form[core.FieldGroup]} {
		for _, g := range vs {
			if g != "" {
				p.groups = append(p.groups, g)
			}
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"redirect", &p.redirect}, {core.FieldApproval, &p.approval}} {
		if v, ok := value(b.name); ok {
			switch strings.ToLower(v) {
			case "", "true", "1", "yes", "on":
				*b.dst = true
			case "false", "0", "no", "off":
			default:
				errs = append(errs, fieldError(b.name, "must be empty, true, 1, yes, on, false, 0, no or off"))
			}
		}
	}
	p.refused = errors.Join(errs...)
	return p, nil
}

// formTypes are the media types a form body may have.
var formTypes = []string{"application/x-www-form-urlencoded"}

// readForm reads an application/x-www-form-urlencoded body of at most maxBody bytes.
// An empty body of any type is no form; a non-empty one of another type is a 415.
func (h *Handler) readForm(r *http.Request) (url.Values, error) {
	body, err := h.readBody(r, formTypes)
	if err != nil || len(body) == 0 {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	return form, nil
}

// readBody reads a request body of at most maxBody bytes (413 beyond). A body that is
// not empty must have one of the media types given (415 else); an empty one is
// returned as nil, whatever its type.
func (h *Handler) readBody(r *http.Request, types []string) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	tooLarge := &statusError{status: http.StatusRequestEntityTooLarge,
		detail: "body larger than " + strconv.FormatInt(h.maxBody, 10) + " bytes"}
	if r.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, badRequest("reading body: incomplete")
	}
	if int64(len(body)) > h.maxBody {
		return nil, tooLarge
	}
	if len(body) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		return nil, &statusError{status: http.StatusUnsupportedMediaType,
			detail: "body must be " + strings.Join(types, " or ")}
	}
	return body, nil
}

// single returns the value of a parameter given in the query, the form or both,
// which must agree wherever and however often it appears (a refusal of the parameter
// else).
func single(name string, query, form url.Values) (string, bool, error) {
	var v string
	var ok bool
	for _, vs := range [][]string{query[name], form[name]} {
		for _, x := range vs {
			if ok && x != v {
				return "", false, fieldError(name, "given twice with different values")
			}
			v, ok = x, true
		}
	}
	return v, ok, nil
}

// credential returns the API key a request carries in its Authorization header
// (scheme Bearer, any case), its key query parameter or its key form field, or ""
// when it carries none.
// Two different keys make the request ambiguous: a 400.
// A Bearer header without a well-formed token68 yields a credential the core rejects.
func credential(hdr http.Header, query, form url.Values) (string, error) {
	var cred string
	var found bool
	add := func(c string) error {
		if found && c != cred {
			return badRequest("conflicting API keys in one request")
		}
		cred, found = c, true
		return nil
	}
	for _, v := range hdr.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue // another scheme, perhaps for a proxy: not ours
		}
		token := strings.Trim(rest, " \t")
		if token == "" {
			token = "malformed" // present but empty: a bad credential, not a missing one
		}
		if err := add(token); err != nil {
			return "", err
		}
	}
	for _, vs := range [][]string{query["key"], form["key"]} {
		for _, v := range vs {
			if v == "" {
				continue // key= with nothing: as if absent
			}
			if err := add(v); err != nil {
				return "", err
			}
		}
	}
	return cred, nil
}

// listParams are the query parameters of a list, checked for syntax; the core checks
// their values.
type listParams struct {
	credential     string
	status         core.Status
	limit          int
	cursor         string
	expiringWithin time.Duration
}

// readListParams reads the credential, status, limit and cursor of a list request.
// The refusals of single parameters are returned together, joined.
func readListParams(r *http.Request) (listParams, error) {
	var p listParams
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return p, badRequest("malformed query string")
	}
	if p.credential, err = credential(r.Header, query, nil); err != nil {
		return p, err
	}
	var errs []error
	if v, _, err := single(core.FieldStatus, query, nil); err != nil {
		errs = append(errs, err)
	} else if p.status, err = core.ParseStatus(v); err != nil {
		errs = append(errs, err)
	}
	if v, ok, err := single(core.FieldLimit, query, nil); err != nil {
		errs = append(errs, err)
	} else if ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > core.MaxListLimit {
			errs = append(errs, fieldError(core.FieldLimit, "must be a whole number from 1 to %d", core.MaxListLimit))
		}
		p.limit = n
	}
	if v, _, err := single(core.FieldCursor, query, nil); err != nil {
		errs = append(errs, err)
	} else {
		p.cursor = v
	}
	if v, ok, err := single(core.FieldExpiringWithin, query, nil); err != nil {
		errs = append(errs, err)
	} else if ok {
		d, err := core.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fieldError(core.FieldExpiringWithin, "must be a duration such as 2d or 12h"))
		}
		p.expiringWithin = d
	}
	return p, errors.Join(errs...)
}

// queryCredential reads the credential of a request that takes no other parameter.
func queryCredential(r *http.Request) (string, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", badRequest("malformed query string")
	}
	return credential(r.Header, query, nil)
}
