package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/internal/buildinfo"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a command-line mistake.
type usageError struct{ msg string }

// Error implements error.
func (e usageError) Error() string { return e.msg }

// run is xmppd without the process around it; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Help asked for goes to standard output, as invites-plugin's does; the flag
	// package's complaints go to standard error.
	var flagOut bytes.Buffer
	cfg, rest, err := parseArgs(args, &flagOut)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.Copy(stdout, &flagOut)
		return exitOK
	}
	_, _ = io.Copy(stderr, &flagOut)
	if err == nil && cfg.Version {
		fmt.Fprintln(stdout, buildinfo.String("xmppd"))
		return exitOK
	}
	if err == nil && len(rest) > 0 && rest[0] == "help" {
		// "help" is a command too, as for invites-plugin.
		_, _, _ = parseArgs([]string{"-h"}, stdout)
		return exitOK
	}
	if err == nil {
		err = cfg.Normalize()
	}
	if err != nil {
		fmt.Fprintf(stderr, "xmppd: %v\n", err)
		return exitUsage
	}
	logger := newLogger(cfg, stderr)

	switch {
	case len(rest) == 0:
		err = serve(ctx, cfg, stdout, logger)
	case rest[0] == "adduser":
		err = addUser(ctx, cfg, rest[1:], stdin, stdout)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", rest[0])}
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "xmppd: %v\n\n%s(run xmppd -h for the flags)\n", err, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "xmppd: %v\n", err)
		return exitError
	}
}

// addUser is "xmppd adduser JID PASSWORD": it creates an account in the store the
// server uses (safe while the server runs).
func addUser(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 2 {
		return usageError{"adduser needs JID and PASSWORD"}
	}
	addr, err := jid.Parse(args[0])
	if err != nil || addr.Localpart() == "" || addr.Resourcepart() != "" {
		return usageError{fmt.Sprintf("%q is not a bare JID (user@%s)", args[0], cfg.Domain)}
	}
	if addr.Domainpart() != cfg.Domain {
		return fmt.Errorf("%s is not on the served domain %s (use -domain)", addr, cfg.Domain)
	}
	password := args[1]
	if password == "-" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	store, err := accounts.Open(ctx, filepath.Join(cfg.DataDir, accounts.FileName), accounts.Options{Reserved: cfg.reservedNames()})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Add(ctx, addr.String(), password); err != nil {
		var le *accounts.LookalikeError
		switch {
		case errors.Is(err, accounts.ErrExists):
			return fmt.Errorf("%s already exists", addr)
		case errors.As(err, &le) && le.Reserved:
			return fmt.Errorf("%s looks too much like the reserved name %s: choose another name", addr, le.Name)
		case errors.As(err, &le):
			return fmt.Errorf("%s looks too much like the account %s@%s: choose another name", addr, le.Name, addr.Domainpart())
		}
		return fmt.Errorf("adding %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "Added %s\n", addr)
	return nil
}
