package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// errKeyNotFound is what "keys delete" says of an unknown key, as prosodyctl does.
var errKeyNotFound = errors.New("key not found")

// cliActor is the operator on the command line: it manages every invite of its host.
var cliActor = core.Actor{Kind: core.ActorCLI, Manage: true}

// runKeys runs "keys create|list|delete".
func runKeys(ctx context.Context, p parsed, stdout io.Writer) error {
	if len(p.pos) < 2 {
		return usagef("keys: want create, list or delete")
	}
	var err error
	switch p.pos[1] {
	case "create":
		err = checkVerb(p, 1, 2, "HOST [NAME]")
	case "list":
		err = checkVerb(p, 1, 1, "HOST")
	case "delete":
		err = checkVerb(p, 2, 2, "HOST ID")
	default:
		return usagef("keys: unknown verb %q: use create, list or delete", p.pos[1])
	}
	if err != nil {
		return err
	}
	args := p.pos[2:]
	var spec core.KeySpec
	if p.pos[1] == "create" {
		if spec, err = keySpec(args, p); err != nil {
			return err
		}
	}

	s, err := open(ctx, p.g)
	if err != nil {
		return errors.Join(spec.Refused, err)
	}
	defer s.Close()
	host, err := s.host(args[0])
	if err != nil {
		return err
	}
	switch p.pos[1] {
	case "create":
		spec.Host = host
		_, cred, err := s.svc.CreateKey(ctx, spec)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, cred)
	case "list":
		keys, err := s.svc.Keys(ctx, host)
		if err != nil {
			return err
		}
		// Tab-separated for scripts, as prosodyctl prints them, with further columns.
		for _, k := range keys {
			manage := "-"
			if k.Manage {
				manage = "manage"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", k.ID, k.Name,
				stamp(k.CreatedAt, "-"), stamp(k.ExpiresAt, "never"), stamp(k.LastUsed, "never"), k.Uses, manage)
		}
	case "delete":
		err := s.svc.DeleteKey(ctx, cliActor, host, args[1])
		if errors.Is(err, core.ErrNotFound) {
			return errKeyNotFound
		}
		return err
	}
	return nil
}

// stamp writes a time for the lists, or zero for the zero time.
func stamp(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// keySpec reads create's NAME and options; the refusals of values go to
// spec.Refused, for the core to report with its own.
func keySpec(args []string, p parsed) (core.KeySpec, error) {
	spec := core.KeySpec{Actor: cliActor, Manage: p.has("manage")}
	if len(args) == 2 {
		spec.Name = args[1]
	}
	var errs []error
	for _, o := range []struct {
		flag, field string
		d           *time.Duration
	}{{"expires", core.FieldExpires, &spec.ExpiresIn}, {"max-ttl", core.FieldMaxTTL, &spec.MaxTTL}} {
		if v, ok := p.value(o.flag); ok {
			d, err := core.ParseDuration(v)
			errs = append(errs, core.InField(o.field, err))
			*o.d = d
		}
	}
	if v, ok := p.value("rate"); ok {
		r, err := core.ParseRate(v)
		errs = append(errs, core.InField(core.FieldRate, err))
		spec.Rate = r
	}
	spec.Refused = errors.Join(errs...)
	return spec, nil
}
