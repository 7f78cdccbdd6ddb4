package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/xmpp-invites/invites/internal/cli"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/plugin"
)

func main() {
	if plugin.Launched() {
		// A Ctrl-C in the host's terminal reaches the plugin too: ignore it and let the
		// host shut the plugin down in order, as go-plugin intends; SIGTERM still stops it.
		signal.Ignore(os.Interrupt)
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := plugin.Serve(ctx, func(l *slog.Logger) plugin.Invites { return service.New(l) }); err != nil {
			fmt.Fprintf(os.Stderr, "invites-plugin: %v\n", err)
			stop()
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
