package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/xmpp-invites/invites/internal/buildinfo"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Program is the name the command line goes by in its messages.
const Program = "invites-plugin"

const usage = `Usage:
  invites-plugin [FLAGS] keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION]
                                               [--rate N/PERIOD] [--manage]
      Create an API key for HOST and print it (ID/SECRET) once. --manage lets the key
      list, change and revoke every invite of HOST, not only those it made.
  invites-plugin [FLAGS] keys list HOST
      List HOST's keys, tab-separated: ID, NAME, created, expires, last used, uses,
      manage.
  invites-plugin [FLAGS] keys delete HOST ID
      Revoke the key with that ID.

  invites-plugin [FLAGS] invites create HOST [--ttl DURATION] [--username USER]
                          [--max-uses N] [--note TEXT] [--group GROUP]...
                          [--email ADDRESS] [--welcome TEXT] [--approval] [--json]
      Create an account invite and print its URL: the landing page, else its xmpp:
      URI. --max-uses 0 lets it make any number of accounts until it expires.
      --email sends it by email through the server's [smtp] relay instead: then its
      ID is printed, and the mail carries the only token. --welcome is the message
      its new accounts get at their first login, instead of the host's welcome.
      --approval makes its accounts wait for an administrator's approval.
  invites-plugin [FLAGS] invites create HOST --reset USER [--ttl DURATION] [--note TEXT]
      Create a password reset invite for the existing account USER.
  invites-plugin [FLAGS] invites list HOST [--status STATUS] [--expiring DURATION] [--json]
      List HOST's invites, newest first, tab-separated: ID, kind, status, uses/max,
      expires, created by, note. STATUS is pending, used, expired, revoked or all.
      --expiring keeps the pending invites that expire within DURATION.
  invites-plugin [FLAGS] invites show HOST ID [--json]
      Show an invite, with the accounts that used it, its email and its funnel
      (page views, registrations started, accounts, first logins, still active).
  invites-plugin [FLAGS] invites resend HOST ID [--email ADDRESS] [--json]
      Mail a pending invite again (to ADDRESS, else to its address) with a fresh
      token: the link of every earlier mail dies at once.
  invites-plugin [FLAGS] invites update HOST ID [--expires TIME|DURATION] [--max-uses N]
                          [--note TEXT] [--json]
      Change an invite: its expiry (a time such as 2030-01-02T15:04:05Z, or a duration
      from now), how many accounts it can make, its note ("" removes it).
  invites-plugin [FLAGS] invites revoke HOST ID
      Revoke an invite: it stops working at once; its record stays.

`

// usageTail follows the usage of the commands: help, version and the flags.
const usageTail = `
  invites-plugin help          this help (also -h, --help)
  invites-plugin --version     the version of this build

Flags, anywhere before "--":
  -config FILE   the plugin's TOML config (hosts, store, landing page, TTLs, limits)
  -data DIR      the server's data directory (default ` + store.DefaultDataDir + `; its store is DIR/` + store.DefaultFile + `)
  -store DSN     the store: a SQLite file or postgres://… (default from -config,
                 ` + config.EnvStore + `, else DIR/` + store.DefaultFile + `)

The command line works on the store the server uses, and never makes a new one: it
refuses a data directory or a store file that does not exist.
An ID may begin with "-" (IDs are base64url): it is taken as an ID, not a flag; "--"
ends the flags too.
DURATION is seconds ("3600"), a Go duration ("48h") or days/weeks ("30d", "2w").
N/PERIOD is a rate such as "10/m", "100/1h" or "1000/day".
Exit status: 0 done, 1 the operation failed (an "Error:" line), 2 a usage error.

When an XMPP server starts invites-plugin through go-plugin, it serves the plugin instead.
`

// fullUsage is the usage of every command, help and the flags.
func fullUsage() string {
	return usage + accountsUsage + "\n" + webhooksUsage + backupUsage + usageTail
}

// errUsage marks a usage error; its text is printed before the usage.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

// Error implements error.
func (e usageError) Error() string { return e.msg }

// Is makes errors.Is(err, errUsage) true.
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// globals are the flags every verb takes, and where the audit records of changes go.
type globals struct {
	configFile string
	dataDir    string
	storeDSN   string
	audit      io.Writer // standard error: one audit record per change (see open)
}

// Run runs the command line with args (without the program name) and returns the exit
// code. Help and the version go to stdout; errors and usage errors to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p, err := parseArgs(args)
	switch {
	case p.help || err == nil && len(p.pos) > 0 && p.pos[0] == "help":
		fmt.Fprint(stdout, fullUsage())
		return ExitOK
	case p.version || err == nil && len(p.pos) > 0 && p.pos[0] == "version":
		fmt.Fprintln(stdout, buildinfo.String(Program))
		return ExitOK
	}
	if err == nil {
		p.g.audit = stderr
		err = run(ctx, p, stdout)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "%s: %v\n\n%s", Program, err, fullUsage())
		return ExitUsage
	default:
		for _, line := range describe(err, verbOf(p)) {
			fmt.Fprintf(stderr, "Error: %s\n", line)
		}
		var he *hostError
		if errors.As(err, &he) {
			fmt.Fprintf(stderr, "%s: %s\n", Program, he.hint())
		}
		return ExitError
	}
}

// run dispatches a parsed command line.
func run(ctx context.Context, p parsed, stdout io.Writer) error {
	if len(p.pos) == 0 {
		return usagef("no command given")
	}
	switch p.pos[0] {
	case "keys":
		return runKeys(ctx, p, stdout)
	case "invites":
		return runInvites(ctx, p, stdout)
	case "webhooks":
		opts := map[string]string{}
		for name := range p.opts {
			if name != "limit" && name != "event" && name != "sink" {
				return usagef("webhooks takes no --%s", name)
			}
			opts[name], _ = p.value(name)
		}
		return runWebhooks(ctx, p.g, p.pos[1:], opts, stdout)
	case "backup", "restore":
		return runBackup(ctx, p, stdout)
	}
	if _, ok := accountVerbs[p.pos[0]]; ok {
		return runAccounts(ctx, p, stdout)
	}
	return usagef("unknown command %q: use keys, invites, tree, invited-by, revoke-invites, disable, enable, pending, approve, reject, webhooks, backup, restore or help", p.pos[0])
}

// describe turns an error into the lines operators see, each after "Error: ": one per
// refusal (core.FieldError), naming the flag or word of verb it concerns, or one line
// for any other error: the command line's edge for the core's errors.
func describe(err error, verb string) []string {
	if errors.Is(err, core.ErrUnknownHost) {
		return []string{"please supply a valid host"}
	}
	refusals := core.FieldErrors(err)
	if len(refusals) == 0 {
		return []string{err.Error()}
	}
	lines := make([]string, len(refusals))
	for i, r := range refusals {
		lines[i] = r.Reason
		if name := flagOf(verb, r.Field); name != "" {
			lines[i] = name + ": " + r.Reason
		}
	}
	return lines
}

// flagOf names a field of the core as the command line takes it in verb: its flag
// ("--max-uses"), or its word ("NAME"); "" for a field the verb does not take.
func flagOf(verb, field string) string {
	switch field {
	case "":
		return ""
	case core.FieldExpiresAt:
		return "--expires"
	case core.FieldName:
		return "NAME"
	case core.FieldJID:
		return "JID"
	case core.FieldKind:
		return "--reset"
	case core.FieldExpiringWithin:
		return "--expiring"
	case core.FieldUsername:
		if verb == "invites create --reset" {
			return "--reset"
		}
	}
	flag := "--" + strings.ReplaceAll(field, "_", "-")
	if _, ok := options[flag[2:]]; ok {
		return flag
	}
	return field
}

// verbOf names the verb of a command line for flagOf: "invites create", with
// " --reset" for a reset invite.
func verbOf(p parsed) string {
	if len(p.pos) < 2 {
		return ""
	}
	verb := p.pos[0] + " " + p.pos[1]
	if _, ok := p.opts["reset"]; ok && verb == "invites create" {
		verb += " --reset"
	}
	return verb
}

// hostError is an unknown host, with the hosts that are known, for a hint.
type hostError struct {
	host  string
	known []string
}

func (e *hostError) Error() string        { return "please supply a valid host" }
func (e *hostError) Is(target error) bool { return target == core.ErrUnknownHost }

// hint says where the known hosts come from.
func (e *hostError) hint() string {
	return fmt.Sprintf("%q is not a host of this installation; known: %s (from -config's [[host]], the domains the server recorded in its store and data directory, or localhost when there are none)",
		e.host, strings.Join(e.known, ", "))
}

// option describes a verb option.
type option struct {
	value  bool // takes a value
	repeat bool // may be given several times
}

// options are every verb option; verbOptions says which verb takes which.
var options = map[string]option{
	"expires": {value: true}, "max-ttl": {value: true}, "rate": {value: true}, "manage": {},
	"ttl": {value: true}, "username": {value: true}, "max-uses": {value: true}, "note": {value: true},
	"group": {value: true, repeat: true}, "reset": {value: true},
	"status": {value: true}, "json": {},
	"limit": {value: true}, "event": {value: true}, "sink": {value: true},
	"email": {value: true}, "welcome": {value: true}, "expiring": {value: true},
	"to": {value: true}, "from": {value: true},
	"approval": {}, "depth": {value: true}, "subtree": {}, "dry-run": {},
}

var verbOptions = map[string][]string{
	"keys create":    {"expires", "max-ttl", "rate", "manage"},
	"invites create": {"ttl", "username", "max-uses", "note", "group", "reset", "email", "welcome", "approval", "json"},
	"invites list":   {"status", "expiring", "json"},
	"invites resend": {"email", "json"},
	"invites show":   {"json"},
	"invites update": {"expires", "max-uses", "note", "json"},
}

// parsed is a command line taken apart.
type parsed struct {
	g       globals
	pos     []string            // the words: command, verb, HOST, NAME or ID
	opts    map[string][]string // verb options by name
	help    bool
	version bool
}

// has reports whether the boolean option name was given.
func (p parsed) has(name string) bool { _, ok := p.opts[name]; return ok }

// value returns the value of an option, and whether it was given.
func (p parsed) value(name string) (string, bool) {
	vs, ok := p.opts[name]
	if !ok || len(vs) == 0 {
		return "", ok
	}
	return vs[0], true
}

// parseArgs takes the global flags and the verb options wherever they stand before
// "--": one or two dashes, "-f V" or "-f=V". A word shaped like a key or invite ID
// (12 base64url characters) is a word even when it begins with "-", so that an ID
// such as "-Abc…" needs no "--".
func parseArgs(args []string) (parsed, error) {
	p := parsed{opts: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.pos = append(p.pos, args[i+1:]...)
			return p, nil
		}
		if len(a) < 2 || a[0] != '-' || core.ValidKeyID(a) || core.ValidID(a) {
			p.pos = append(p.pos, a)
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		value, hasValue := "", false
		if n, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = n, v, true
		}
		var dst *string
		switch name {
		case "h", "help":
			p.help = true
			continue
		case "version":
			p.version = true
			continue
		case "config":
			dst = &p.g.configFile
		case "data":
			dst = &p.g.dataDir
		case "store":
			dst = &p.g.storeDSN
		}
		opt, known := options[name]
		if dst == nil && !known || name == "" || strings.HasPrefix(name, "-") {
			return p, usagef("unknown flag %s", a)
		}
		if dst == nil && !opt.value {
			if hasValue {
				return p, usagef("flag --%s takes no value", name)
			}
			if _, dup := p.opts[name]; dup {
				return p, usagef("flag --%s given twice", name)
			}
			p.opts[name] = nil
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return p, usagef("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		if dst != nil {
			*dst = value
			continue
		}
		if _, dup := p.opts[name]; dup && !opt.repeat {
			return p, usagef("flag --%s given twice", name)
		}
		p.opts[name] = append(p.opts[name], value)
	}
	return p, nil
}

// checkVerb checks the words and options of "command verb": want is the usage of the
// words after the verb, between min and max of them.
func checkVerb(p parsed, min, max int, want string) error {
	verb := p.pos[0] + " " + p.pos[1]
	if n := len(p.pos) - 2; n < min || n > max {
		return usagef("%s: want %s", verb, want)
	}
	allowed := verbOptions[verb]
	for name := range p.opts {
		found := false
		for _, a := range allowed {
			found = found || a == name
		}
		if !found {
			if len(allowed) == 0 {
				return usagef("%s takes no options", verb)
			}
			return usagef("%s takes no --%s", verb, name)
		}
	}
	return nil
}

// discard is the store's logger on the command line: its warnings would only clutter
// the output of a short command.
var discard = slog.New(slog.DiscardHandler)
