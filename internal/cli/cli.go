package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

const usage = `Usage:
  invites-plugin [FLAGS] keys create HOST [NAME] [--expires DURATION] [--max-ttl DURATION] [--rate N/PERIOD]
      Create an API key for HOST and print it (ID/SECRET) once.
  invites-plugin [FLAGS] keys list HOST
      List HOST's keys: ID, NAME, created, expires, last used, uses (tab-separated).
  invites-plugin [FLAGS] keys delete HOST ID
      Revoke the key with that ID.

Flags:
  -config FILE   the plugin's TOML config (hosts, store, landing page, TTLs, limits)
  -data DIR      data directory (default ./data; the store is DIR/invites.db)
  -store DSN     store to use: a SQLite path or postgres://… (default from config,
                 INVITES_STORE, else DIR/invites.db)
  -h, --help     show this help

DURATION is seconds ("3600"), a Go duration ("48h") or days/weeks ("30d", "2w").
N/PERIOD is a rate such as "10/m", "100/1h" or "1000/day".

When an XMPP server starts invites-plugin through go-plugin, it serves the plugin instead.
`

// errUsage marks a usage error; its text is printed before the usage.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// globals are the flags every verb takes.
type globals struct {
	configFile string
	dataDir    string
	storeDSN   string
	help       bool
}

// Run runs the command line with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var g globals
	rest, opts, err := parseFlags(args, &g, map[string]bool{"expires": true, "max-ttl": true, "rate": true, "limit": true, "event": true})
	if g.help {
		fmt.Fprint(stdout, usage+"\n"+webhooksUsage)
		return ExitOK
	}
	if err == nil && len(rest) == 0 {
		err = usagef("no command given")
	}
	if err == nil && rest[0] != "keys" && rest[0] != "webhooks" {
		err = usagef("unknown command %q", rest[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "invites-plugin: %v\n\n%s", err, usage)
		return ExitUsage
	}
	if rest[0] == "webhooks" {
		err = runWebhooks(ctx, g, rest[1:], opts, stdout)
	} else if _, ok := opts["limit"]; ok || opts["event"] != "" {
		err = usagef("keys takes no --limit or --event")
	} else {
		err = runKeys(ctx, g, rest[1:], opts, stdout)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "invites-plugin: %v\n\n%s", err, usage)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "Error: %s\n", describe(err))
		return ExitError
	}
}

// describe turns an error into the line operators see after "Error: ".
func describe(err error) string {
	switch {
	case errors.Is(err, core.ErrUnknownHost):
		return "please supply a valid host"
	case errors.Is(err, core.ErrNotFound):
		return "key not found"
	}
	return err.Error()
}

// parseFlags takes the global flags and the verb options (those named in verbOpts)
// wherever they stand before "--"; one or two dashes, "-f V" or "-f=V".
func parseFlags(args []string, g *globals, verbOpts map[string]bool) (rest []string, opts map[string]string, err error) {
	opts = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i+1:]...), opts, nil
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if n, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = n, v, true
		}
		if name == "h" || name == "help" {
			g.help = true
			continue
		}
		var dst *string
		switch name {
		case "config":
			dst = &g.configFile
		case "data":
			dst = &g.dataDir
		case "store":
			dst = &g.storeDSN
		default:
			if !verbOpts[name] {
				return nil, nil, usagef("unknown flag %s", a)
			}
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, usagef("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		if dst != nil {
			*dst = value
		} else {
			if _, dup := opts[name]; dup {
				return nil, nil, usagef("flag --%s given twice", name)
			}
			opts[name] = value
		}
	}
	return rest, opts, nil
}

func runKeys(ctx context.Context, g globals, args []string, opts map[string]string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("keys: want create, list or delete")
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "create":
		if len(args) < 1 || len(args) > 2 {
			return usagef("keys create: want HOST [NAME]")
		}
	case "list":
		if len(args) != 1 {
			return usagef("keys list: want HOST")
		}
	case "delete":
		if len(args) != 2 {
			return usagef("keys delete: want HOST ID")
		}
	default:
		return usagef("keys: unknown verb %q", verb)
	}
	if verb != "create" && len(opts) > 0 {
		return usagef("keys %s takes no options", verb)
	}
	spec, err := keySpec(args, opts)
	if err != nil {
		return err
	}

	svc, closeFn, err := open(ctx, g)
	if err != nil {
		return err
	}
	defer closeFn()
	switch verb {
	case "create":
		_, cred, err := svc.CreateKey(ctx, spec)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, cred)
	case "list":
		keys, err := svc.Keys(ctx, args[0])
		if err != nil {
			return err
		}
		// Tab-separated for scripts, as prosodyctl prints them.
		for _, k := range keys {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%d\n", k.ID, k.Name,
				stamp(k.CreatedAt, "-"), stamp(k.ExpiresAt, "never"), stamp(k.LastUsed, "never"), k.Uses)
		}
	case "delete":
		return svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, args[0], args[1])
	}
	return nil
}

func stamp(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// keySpec reads create's HOST, NAME and options; invalid values are usage errors.
func keySpec(args []string, opts map[string]string) (core.KeySpec, error) {
	spec := core.KeySpec{Host: args[0], Actor: core.Actor{Kind: core.ActorCLI}}
	if len(args) == 2 {
		spec.Name = args[1]
	}
	var err error
	if v, ok := opts["expires"]; ok {
		if spec.ExpiresIn, err = core.ParseDuration(v); err != nil {
			return spec, usagef("--expires: %v", err)
		}
	}
	if v, ok := opts["max-ttl"]; ok {
		if spec.MaxTTL, err = core.ParseDuration(v); err != nil {
			return spec, usagef("--max-ttl: %v", err)
		}
	}
	if v, ok := opts["rate"]; ok {
		if spec.Rate, err = core.ParseRate(v); err != nil {
			return spec, usagef("--rate: %v", err)
		}
	}
	return spec, nil
}

// open loads the config, opens the store and builds the service over the valid hosts.
func open(ctx context.Context, g globals) (*core.Service, func(), error) {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.storeDSN != "" {
		cfg.Store = g.storeDSN
	}
	known, err := config.KnownDomains(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.OpenWith(ctx, cfg.StoreDSN(), store.Options{Logger: slog.New(slog.DiscardHandler), Durability: sqlite.Durability(cfg.Durability)})
	if err != nil {
		return nil, nil, err
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: cfg.CoreHosts(known...)})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, func() { st.Close() }, nil
}
