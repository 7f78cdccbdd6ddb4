package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Client calls the invite API of one server with one API key: the Go side of what
// curl does in docs/http-api.md.
// A status that is not a success comes back as an *Error (wrapped, so use errors.As or
// errors.Is with ErrNotFound and the other sentinels); a failure to reach the server as
// the transport's error.
// A Client is safe for concurrent use.
type Client struct {
	base string       // the API's URL, without a trailing slash
	auth string       // the Authorization field
	hc   *http.Client // a copy of the caller's, never following redirects
}

// maxResponseBytes bounds an answer the Client reads: a page of 500 invites, or an
// invite with thousands of redemptions, is far smaller.
const maxResponseBytes = 64 << 20

// NewClient returns a Client of the API at baseURL, the URL it is mounted at (such as
// "https://chat.example/invites_api"), authenticating with key, an API key ID/SECRET
// as "invites-plugin keys create" prints it.
// hc carries the requests (its Transport and Timeout apply); nil means a client with
// http.DefaultTransport. The Client never follows redirects: a 303 is an answer.
func NewClient(baseURL, key string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("the API's URL %q must be an http or https URL without a query, such as https://chat.example/invites_api", baseURL)
	}
	if _, _, err := core.ParseKey(key); err != nil {
		return nil, errors.New("the API key must be of the form ID/SECRET, as \"invites-plugin keys create\" prints it")
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), auth: "Bearer " + key, hc: &http.Client{}}
	if hc != nil {
		*c.hc = *hc
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// Create makes an account invite and returns it with its Token, URI and, when the
// host has one, LandingPage (the invite's link).
func (c *Client) Create(ctx context.Context, p CreateParams) (Invite, error) {
	form := url.Values{}
	if p.TTL != 0 {
		ttl := p.TTL.String()
		if p.TTL%time.Second == 0 {
			ttl = strconv.FormatInt(int64(p.TTL/time.Second), 10)
		}
		form.Set("ttl", ttl)
	}
	set := func(name, v string) {
		if v != "" {
			form.Set(name, v)
		}
	}
	set("username", p.Username)
	set("note", p.Note)
	set("email", p.Email)
	set("welcome", p.Welcome)
	if p.MaxUses != nil {
		form.Set("max_uses", strconv.Itoa(*p.MaxUses))
	}
	for _, g := range p.Groups {
		form.Add("group", g)
	}
	if p.Redirect {
		form.Set("redirect", "true")
	}
	if p.Approval {
		form.Set("approval", "true")
	}
	var inv Invite
	err := c.do(ctx, http.MethodPost, "", nil, "application/x-www-form-urlencoded", []byte(form.Encode()), &inv,
		http.StatusCreated, http.StatusSeeOther)
	if err != nil {
		return Invite{}, fmt.Errorf("creating an invite: %w", err)
	}
	return inv, nil
}

// List returns one page of the invites the key may see (its own, or every invite of
// its host for a key made with --manage), newest first, without tokens or
// redemptions; NextCursor, when not empty, is the Cursor of the next page.
func (c *Client) List(ctx context.Context, p ListParams) (InviteList, error) {
	q := url.Values{}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.ExpiringWithin != 0 {
		q.Set("expiring_within", strconv.FormatInt(int64(p.ExpiringWithin.Round(time.Second)/time.Second), 10))
	}
	var l InviteList
	if err := c.do(ctx, http.MethodGet, "/invites", q, "", nil, &l, http.StatusOK); err != nil {
		return InviteList{}, fmt.Errorf("listing invites: %w", err)
	}
	return l, nil
}

// Invites lists every invite List would, page after page from p.Cursor, and stops at
// the first error, which it yields.
func (c *Client) Invites(ctx context.Context, p ListParams) iter.Seq2[Invite, error] {
	return func(yield func(Invite, error) bool) {
		for {
			page, err := c.List(ctx, p)
			if err != nil {
				yield(Invite{}, err)
				return
			}
			for _, inv := range page.Invites {
				if !yield(inv, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			if page.NextCursor == p.Cursor {
				yield(Invite{}, errors.New("listing invites: the server gave the same page twice"))
				return
			}
			p.Cursor = page.NextCursor
		}
	}
}

// Show returns the invite id with the accounts that used it (Redemptions).
func (c *Client) Show(ctx context.Context, id string) (Invite, error) {
	var inv Invite
	if err := c.do(ctx, http.MethodGet, invitePath(id), nil, "", nil, &inv, http.StatusOK); err != nil {
		return Invite{}, fmt.Errorf("showing invite %s: %w", id, err)
	}
	return inv, nil
}

// Update changes the invite id as p says and returns it as changed.
func (c *Client) Update(ctx context.Context, id string, p Patch) (Invite, error) {
	body, err := json.Marshal(p)
	if err != nil { // a time beyond year 9999
		return Invite{}, fmt.Errorf("changing invite %s: %w", id, err)
	}
	var inv Invite
	if err := c.do(ctx, http.MethodPatch, invitePath(id), nil, "application/merge-patch+json", body, &inv, http.StatusOK); err != nil {
		return Invite{}, fmt.Errorf("changing invite %s: %w", id, err)
	}
	return inv, nil
}

// Revoke withdraws the invite id at once; its record stays, revoked. Revoking it again
// is no error.
func (c *Client) Revoke(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, invitePath(id), nil, "", nil, nil, http.StatusNoContent); err != nil {
		return fmt.Errorf("revoking invite %s: %w", id, err)
	}
	return nil
}

// Resend mails the invite id again with a fresh token (its earlier links die), to email
// or, when email is empty, to the address it was mailed to.
func (c *Client) Resend(ctx context.Context, id, email string) (Invite, error) {
	form := url.Values{}
	if email != "" {
		form.Set("email", email)
	}
	var inv Invite
	if err := c.do(ctx, http.MethodPost, invitePath(id)+"/resend", nil, "application/x-www-form-urlencoded",
		[]byte(form.Encode()), &inv, http.StatusAccepted); err != nil {
		return Invite{}, fmt.Errorf("resending invite %s: %w", id, err)
	}
	return inv, nil
}

// invitePath is the path of one invite below the base.
func invitePath(id string) string { return "/invites/" + url.PathEscape(id) }

// do sends one request to the API and decodes an answer of one of the statuses want
// into out (when not nil); another status is an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, ctype string, body []byte, out any, want ...int) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("reading the answer (%s): %w", resp.Status, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("the answer (%s) is larger than %d MiB", resp.Status, maxResponseBytes>>20)
	}
	for _, s := range want {
		if resp.StatusCode != s {
			continue
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the answer (%s) is not the JSON expected: %w", resp.Status, err)
		}
		return nil
	}
	return answerError(resp, data)
}

// answerError makes the *Error of an answer of status that is not a success: its
// problem details, or its text, and its Retry-After.
func answerError(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/problem+json", "application/json":
		var p Problem
		if json.Unmarshal(data, &p) == nil {
			// Bounded as WriteError bounds them: the answer may come from anywhere.
			e.Detail = truncate(p.Detail, maxDetailBytes)
			for _, fe := range p.Errors[:min(len(p.Errors), maxErrors)] {
				e.Errors = append(e.Errors, FieldError{Field: truncate(fe.Field, maxFieldBytes), Detail: truncate(fe.Detail, maxDetailBytes)})
			}
		}
	case "text/plain":
		// A proxy's or an older server's answer: its first line, bounded.
		line, _, _ := strings.Cut(string(data), "\n")
		e.Detail = truncate(strings.ToValidUTF8(strings.TrimSpace(line), "\uFFFD"), maxDetailBytes)
	}
	return e
}

// retryAfter reads a Retry-After field: whole seconds, or an HTTP date; zero when
// absent or malformed.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 && s < 1<<31 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
