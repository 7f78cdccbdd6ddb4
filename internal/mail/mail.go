package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/page"
)

// Jobs prepares the mails of invites: the core's Service implements it.
type Jobs interface {
	// PrepareMail returns the mail an outbox event asks for, with a fresh token, or
	// core.ErrMailSuperseded when it is no longer wanted.
	PrepareMail(ctx context.Context, inviteID, eventID string) (core.MailJob, error)
}

// Options configure a Sink.
type Options struct {
	// Config is the relay, normalized. Required.
	Config Config
	// Dir is the directory relative file names of Config are read from (the config
	// file's); "" means the working directory.
	Dir string
	// Jobs prepares the mails. Required.
	Jobs Jobs
	// Catalog words the mails, in each of its languages, the default first. Nil means
	// the page's embedded messages in English, German and French.
	Catalog *page.Catalog
	// SiteName names the service in the mails, such as "Example Chat"; "" means the
	// invite's host.
	SiteName string
	// Logger receives a line per mail sent or refused, without the address or the
	// token; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Sink is the outbox sink of invites sent by email (core.EventInviteEmail).
type Sink struct {
	cfg      Config
	jobs     Jobs
	cat      *page.Catalog
	site     string
	password string
	client   func() (*gomail.Client, error)
	log      *slog.Logger
	now      func() time.Time
}

var (
	_ outbox.Sink    = (*Sink)(nil)
	_ outbox.Bounded = (*Sink)(nil)
)

// New returns the Sink of a relay; it reads the password file and the certificate
// authorities now, so that a mistake fails the start.
func New(opts Options) (*Sink, error) {
	if !opts.Config.Enabled() || opts.Jobs == nil {
		return nil, errors.New("email: a relay and the invites' mails are required")
	}
	s := &Sink{cfg: opts.Config, jobs: opts.Jobs, cat: opts.Catalog, site: opts.SiteName, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cat == nil {
		var err error
		if s.cat, err = page.NewCatalog(nil, nil); err != nil {
			return nil, err
		}
	}
	var err error
	if s.password, err = opts.Config.password(opts.Dir); err != nil {
		return nil, fmt.Errorf("smtp.%w", err)
	}
	tlsCfg, err := opts.Config.tlsConfig(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("smtp.%w", err)
	}
	c := opts.Config
	copts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(time.Duration(c.Timeout)), gomail.WithTLSConfig(tlsCfg)}
	switch c.Security {
	case SecurityTLS:
		copts = append(copts, gomail.WithSSL())
	case SecurityNone:
		copts = append(copts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		copts = append(copts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.Username != "" {
		copts = append(copts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.Username), gomail.WithPassword(s.password))
	}
	s.client = func() (*gomail.Client, error) { return gomail.NewClient(c.Host, copts...) }
	if _, err := s.client(); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return s, nil
}

// Name implements outbox.Sink.
func (s *Sink) Name() string { return "email" }

// Wants implements outbox.Sink.
func (s *Sink) Wants(t core.EventType) bool { return t == core.EventInviteEmail }

// MaxDuration implements outbox.Bounded.
func (s *Sink) MaxDuration() time.Duration { return time.Duration(s.cfg.Timeout) }

// Deliveries implements outbox.Sink: one mail per event.
func (s *Sink) Deliveries(e core.Event) []outbox.Delivery {
	if e.Type != core.EventInviteEmail || e.InviteID == "" {
		return nil
	}
	outcome := func(st core.MailStatus, reason string, hash []byte) []outbox.Effect {
		return []outbox.Effect{{Mail: &outbox.MailOutcome{InviteID: e.InviteID, TokenHash: hash,
			Mail: core.Mail{Status: st, Error: reason, At: s.now().UTC(), Event: e.ID}}}}
	}
	return []outbox.Delivery{{
		Key: "email", Endpoint: s.cfg.Host, Type: string(e.Type),
		Do: func(ctx context.Context, _ int) outbox.Result { return s.send(ctx, e, outcome) },
		GiveUp: func(lastErr string) []outbox.Effect {
			return outcome(core.MailFailed, "not delivered within a day: "+lastErr, nil)
		},
	}}
}

// send makes one attempt at the mail e asks for.
func (s *Sink) send(ctx context.Context, e core.Event, outcome func(core.MailStatus, string, []byte) []outbox.Effect) outbox.Result {
	job, err := s.jobs.PrepareMail(ctx, e.InviteID, e.ID)
	switch {
	case errors.Is(err, core.ErrMailSuperseded):
		return outbox.Result{} // nothing to send: done
	case err != nil:
		return outbox.Result{Err: fmt.Errorf("preparing the mail: %w", err)}
	}
	msg, err := s.message(job)
	if err != nil {
		return outbox.Result{Err: err, Permanent: true, Effects: outcome(core.MailFailed, err.Error(), nil)}
	}
	client, err := s.client()
	if err != nil {
		return outbox.Result{Err: fmt.Errorf("smtp: %w", err)}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err != nil && !msg.IsDelivered() {
		code, reason := reply(err, job.Invite.Email)
		r := outbox.Result{Status: code, Err: errors.New(reason)}
		if code >= 500 {
			// Refused for good: the address does not exist, the relay will not take it.
			r.Permanent = true
			r.Effects = outcome(core.MailFailed, reason, nil)
			s.log.Warn("invite mail refused", "invite", job.Invite.ID, "reply", reason)
		} else {
			r.Effects = outcome(core.MailQueued, reason, nil)
		}
		return r
	}
	// Delivered; a failure after the data (the relay dropping the connection at QUIT)
	// does not undo it.
	s.log.Info("invite mailed", "invite", job.Invite.ID, "relay", s.cfg.Host)
	return outbox.Result{Status: 250, Effects: outcome(core.MailSent, "", job.TokenHash)}
}

// reply returns the relay's reply code (0 when none came) and the reason, without the
// recipient's address, which is not kept beyond the invite's life (the delivery log
// keeps reasons longer).
func reply(err error, address string) (int, string) {
	var se *gomail.SendError
	code := 0
	text := err.Error()
	if errors.As(err, &se) {
		code = se.ErrorCode()
		if i := strings.Index(text, ", affected recipient"); i >= 0 {
			text = text[:i]
		}
		if i := strings.Index(text, ", affected message ID"); i >= 0 {
			text = text[:i]
		}
	}
	if address != "" {
		text = strings.ReplaceAll(text, address, "(the recipient)")
	}
	text = emailLike.ReplaceAllString(text, "(an address)")
	if code == 0 {
		if m := replyCode.FindStringSubmatch(text); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
	}
	if len(text) > 500 {
		text = strings.ToValidUTF8(text[:500], "") + "…"
	}
	return code, text
}

var (
	// emailLike finds what looks like an email address in a relay's reply.
	emailLike = regexp.MustCompile(`[^\s<>"':,;]+@[^\s<>"':,;]+`)
	// replyCode finds an SMTP reply code at the start of a reply within an error.
	replyCode = regexp.MustCompile(`(?:^|: )([45][0-9][0-9])[ -]`)
)

// message builds the mail of job: a multipart text and HTML message in each of the
// catalog's languages, the default first.
func (s *Sink) message(job core.MailJob) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("the sender %q: %w", s.cfg.From, err)
	}
	if err := m.To(job.Invite.Email); err != nil {
		return nil, errors.New("the invite's address is not one the relay can take")
	}
	site := s.site
	if site == "" {
		site = job.Invite.Host
	}
	var parts []part
	for _, lang := range s.cat.Languages() {
		parts = append(parts, s.part(s.cat.Translator(lang), job, site))
	}
	m.Subject(parts[0].Subject)
	m.SetDate()
	m.SetMessageID()
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderContentLang, langs(parts))
	var text strings.Builder
	for i, p := range parts {
		if i > 0 {
			text.WriteString("\n――――――――\n\n")
		}
		text.WriteString(p.Text())
	}
	var html bytes.Buffer
	if err := htmlTemplate.Execute(&html, parts); err != nil {
		return nil, fmt.Errorf("writing the mail: %w", err)
	}
	m.SetBodyString(gomail.TypeTextPlain, text.String())
	m.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return m, nil
}

// part is the mail in one language.
type part struct {
	Lang, Subject, Heading, Intro, Action, Button, Link, Expires string
	Decline, DeclineButton, DeclineLink, Footer                  string
}

// part words the mail of job in t's language.
func (s *Sink) part(t page.Translator, job core.MailJob, site string) part {
	p := part{Lang: t.Lang(), Subject: t.Get("mail.subject", site), Link: job.Link,
		Action: t.Get("mail.action"), Button: t.Get("mail.button"), Footer: t.Get("mail.footer"),
		Expires: t.Get("mail.expires", t.Date(job.Invite.ExpiresAt))}
	switch {
	case job.Invite.Kind == core.KindContact && job.Inviter != "":
		p.Heading = t.Get("invite.heading.contact", job.Inviter)
		p.Intro = t.Get("invite.intro.contact", job.Inviter)
	case job.Inviter != "":
		p.Heading = t.Get("mail.from_inviter", job.Inviter, site)
		p.Intro = t.Get("invite.intro.account", job.Invite.Host)
	default:
		p.Heading = t.Get("invite.heading.account", site)
		p.Intro = t.Get("invite.intro.account", job.Invite.Host)
	}
	if job.DeclineLink != "" {
		p.Decline, p.DeclineButton, p.DeclineLink = t.Get("mail.decline"), t.Get("mail.decline.button"), job.DeclineLink
	}
	return p
}

// Text is the part as plain text.
func (p part) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n\n%s\n%s\n\n%s\n", p.Heading, p.Intro, p.Action, p.Link, p.Expires)
	if p.DeclineLink != "" {
		fmt.Fprintf(&b, "\n%s\n%s\n", p.Decline, p.DeclineLink)
	}
	fmt.Fprintf(&b, "\n%s\n", p.Footer)
	return b.String()
}

// langs is the Content-Language of the parts.
func langs(parts []part) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.Lang
	}
	return strings.Join(out, ", ")
}

// htmlTemplate is the HTML alternative: one section per language, inline styles
// (mail clients drop style sheets), no images or scripts.
var htmlTemplate = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"></head>
<body style="margin:0;padding:16px;background:#f4f6f8;font-family:sans-serif;color:#1a1a1a">
{{range $i, $p := .}}{{if $i}}<hr style="border:none;border-top:1px solid #d0d7de;margin:24px auto;max-width:560px">
{{end}}<div lang="{{$p.Lang}}" style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
<h1 style="font-size:20px;margin:0 0 12px">{{$p.Heading}}</h1>
<p style="line-height:1.5">{{$p.Intro}}</p>
<p style="line-height:1.5">{{$p.Action}}</p>
<p style="margin:20px 0"><a href="{{$p.Link}}" style="background:#0b57a4;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">{{$p.Button}}</a></p>
<p style="font-size:13px;color:#555;word-break:break-all">{{$p.Link}}</p>
<p style="line-height:1.5">{{$p.Expires}}</p>
{{if $p.DeclineLink}}<p style="font-size:13px;color:#555;line-height:1.5">{{$p.Decline}} <a href="{{$p.DeclineLink}}" style="color:#555">{{$p.DeclineButton}}</a></p>
{{end}}<p style="font-size:13px;color:#555">{{$p.Footer}}</p>
</div>
{{end}}</body></html>
`))
