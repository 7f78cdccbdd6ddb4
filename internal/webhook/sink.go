package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

// The message types an endpoint may subscribe to.
const (
	TypeInviteCreated  = "invite.created"
	TypeInviteRedeemed = "invite.redeemed"
	TypeInviteRevoked  = "invite.revoked"
	TypeInviteExpiring = "invite.expiring"
	TypeInviteExpired  = "invite.expired"
	TypeAccountCreated = "account.created"
)

// The account events the accounts side writes, which endpoints may subscribe to too.
const (
	TypeAccountFirstLogin = "account.first_login"
	TypeAccountActive     = "account.active"
	TypeAccountPending    = "account.pending"
	TypeAccountApproved   = "account.approved"
	TypeAccountRejected   = "account.rejected"
	TypeAccountDisabled   = "account.disabled"
	TypeAccountEnabled    = "account.enabled"
	TypeAccountDeleted    = "account.deleted"
)

// Types lists the message types, in the order the documentation gives them.
func Types() []string {
	return []string{TypeInviteCreated, TypeInviteRedeemed, TypeInviteRevoked, TypeInviteExpiring, TypeInviteExpired,
		TypeAccountCreated, TypeAccountFirstLogin, TypeAccountActive, TypeAccountPending, TypeAccountApproved,
		TypeAccountRejected, TypeAccountDisabled, TypeAccountEnabled, TypeAccountDeleted}
}

// DefaultTimeout bounds one HTTP attempt.
const DefaultTimeout = 10 * time.Second

// maxResponseBytes bounds what is read of an endpoint's answer (and discarded).
const maxResponseBytes = 4 << 10

// Endpoint is one webhook receiver.
type Endpoint struct {
	// Name identifies the endpoint in the delivery log and the metrics; unique.
	Name string
	// URL is where messages are POSTed.
	URL string
	// Key is the secret's key (see ParseSecret).
	Key []byte
	// Types are the message types it wants; empty means all.
	Types []string
	// Timeout bounds one attempt. Zero means DefaultTimeout.
	Timeout time.Duration
}

func (e Endpoint) wants(typ string) bool {
	return len(e.Types) == 0 || slices.Contains(e.Types, typ)
}

// Options configure a Sink.
type Options struct {
	// Endpoints receive the messages. At least one is required.
	Endpoints []Endpoint
	// Client sends the messages; nil means a client with no redirects followed and
	// each endpoint's timeout.
	Client *http.Client
	// Now returns the current time, for the messages' timestamps; nil means time.Now.
	Now func() time.Time
}

// Sink is the outbox sink of the webhook endpoints: each event of a type an endpoint
// subscribes to becomes a signed POST to it (see the package documentation).
type Sink struct {
	endpoints []Endpoint
	client    *http.Client
	now       func() time.Time
	longest   time.Duration
}

var (
	_ outbox.Sink    = (*Sink)(nil)
	_ outbox.Bounded = (*Sink)(nil)
)

// New returns the Sink of the endpoints, or an error for options it cannot work with.
func New(opts Options) (*Sink, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("webhooks: no endpoint")
	}
	s := &Sink{client: opts.Client, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	seen := map[string]bool{}
	for i, e := range opts.Endpoints {
		if e.Name == "" || seen[e.Name] {
			return nil, fmt.Errorf("webhooks: endpoint %d has no name, or one used twice", i+1)
		}
		seen[e.Name] = true
		if len(e.Key) == 0 {
			return nil, fmt.Errorf("webhook %s: no secret", e.Name)
		}
		if e.Timeout <= 0 {
			e.Timeout = DefaultTimeout
		}
		s.longest = max(s.longest, e.Timeout)
		s.endpoints = append(s.endpoints, e)
	}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return s, nil
}

// Name implements outbox.Sink.
func (s *Sink) Name() string { return "webhook" }

// Wants implements outbox.Sink: the types some endpoint subscribes to.
func (s *Sink) Wants(t core.EventType) bool {
	if !slices.Contains(Types(), string(t)) {
		return false
	}
	for _, e := range s.endpoints {
		if e.wants(string(t)) {
			return true
		}
	}
	return false
}

// MaxDuration implements outbox.Bounded: every endpoint timing out on two messages
// (an event and one derived from it).
func (s *Sink) MaxDuration() time.Duration {
	return 2 * time.Duration(len(s.endpoints)) * s.longest
}

// Deliveries implements outbox.Sink: a message to each endpoint that subscribes to
// the event's type.
func (s *Sink) Deliveries(e core.Event) []outbox.Delivery {
	typ := string(e.Type)
	if !slices.Contains(Types(), typ) {
		return nil
	}
	data := e
	data.Actor.Remote = "" // the client's address stays in the audit log
	body, err := json.Marshal(struct {
		Type      string     `json:"type"`
		Timestamp time.Time  `json:"timestamp"`
		Data      core.Event `json:"data"`
	}{typ, e.Time.UTC(), data})
	var out []outbox.Delivery
	for _, ep := range s.endpoints {
		if !ep.wants(typ) {
			continue
		}
		out = append(out, outbox.Delivery{
			Key: doneKey(ep.Name, typ), Endpoint: ep.Name, Type: typ,
			Do: func(ctx context.Context, _ int) outbox.Result {
				if err != nil {
					return outbox.Result{Err: fmt.Errorf("encoding event: %w", err), Permanent: true}
				}
				return s.send(ctx, ep, e.ID, body)
			},
		})
	}
	return out
}

// doneKey names one message type delivered to one endpoint, in Entry.Done.
func doneKey(endpoint, typ string) string { return endpoint + " " + typ }

// send makes one attempt.
func (s *Sink) send(ctx context.Context, ep Endpoint, id string, body []byte) outbox.Result {
	ctx, cancel := context.WithTimeout(ctx, ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return outbox.Result{Err: errors.New("bad URL")}
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "invites-webhook/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Key, id, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return outbox.Result{Err: errors.New(describe(ctx, err))}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	r := outbox.Result{Status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.Err = errors.New("HTTP status " + strconv.Itoa(resp.StatusCode))
	}
	return r
}

// describe says why a request failed without its URL, which may hold a credential.
func describe(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "no answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Op + ": " + ne.Err.Error()
	}
	return err.Error()
}
