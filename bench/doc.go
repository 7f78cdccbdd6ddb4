// Command bench measures the invites plugin where users meet it, the HTTP invite API
// (RFC 9110) of the example XMPP server, and puts every figure beside a ceiling taken in
// the same run on the same machine, so that the report reads in ratios rather than in
// absolute numbers; then it breaks things on purpose and checks what the product
// promises about failures.
//
//	go run ./bench                      everything, about seven minutes on 2 cores
//	go run ./bench -faults=false        the measurements only (no faults, no bodies)
//	go run ./bench -runs xmppd,faults   some groups only
//	go run ./bench -duration 10s -requests 500000 -concurrency 1,16,64,256
//	go run ./bench -baseline ""         without building the wave-1 baseline
//	go run ./bench -seed 100000         a smaller growth run
//
// It prints one markdown table on standard output (progress goes to standard error),
// then the checks and the goals, and exits 1 when a correctness check failed, 2 on a
// usage error. A speed goal that is missed is reported and does not fail the run.
//
// # What runs
//
// The harness builds examples/xmppd and cmd/invites-plugin into a temporary directory
// with go build (or takes them from -bin), and starts every server on 127.0.0.1 with an
// ephemeral port: nothing leaves the loopback interface.
//
//	ceiling     a bare net/http handler answering 201 with a Location: the most any
//	            handler can do on this machine with this load generator
//	inprocess   the plugin's own serving side (internal/service: the same mux,
//	            httpapi, core and SQLite store) in one process, without the plugin
//	            boundary: what the boundary costs, handler stack for handler stack
//	xmppd       xmppd with the plugin on SQLite (fresh data directory, API key made
//	            with invites-plugin keys create against the same directory while the
//	            server runs), driven at each -concurrency level
//	badkey      the right key ID with a wrong secret, through xmppd: the 403 rate
//	adhoc       an administrator (made with xmppd adduser, named with -admin) logs in
//	            over c2s with STARTTLS and SCRAM-SHA-256 (mellium.im/xmpp) and runs the
//	            create-key command, execute then complete; the last key is tried over
//	            HTTP
//	growth      -seed invites (a million by default) are written straight into a
//	            store's SQLite file in one bulk transaction; creation over it is then
//	            compared with an empty store, in alternating rounds: at concurrency
//	            16 through xmppd and in-process (fresh servers on each store), and
//	            at the store level (the core over the SQLite store, 64 goroutines,
//	            after 20,480 invites untimed, as internal/store/sqlite's
//	            TestGrowthRatio does), each store-level run in a process of its own
//	            on a fresh copy of the store, so that the two stores share no
//	            runtime, heap or checkpoints
//	durability  in alternating rounds at concurrency 16: xmppd with durability =
//	            "power-loss" (the default) and with "crash" (fresh data each), the
//	            same built from -baseline (the commit before wave 2 by default), and
//	            Prosody 0.12 with mod_invites_api on SQLite, driven by the same load
//	            generator (key in the query, Host: localhost); Prosody's packages
//	            (prosody, prosody-modules, lua-dbi-sqlite3) are installed with
//	            apt-get when missing, and it runs as the prosody user from a
//	            directory of its own
//	transport   the data path's transports side by side, in alternating rounds at
//	            concurrency 16 and 64, every xmppd at -log-level warn so that no log
//	            record is written: frames of version 2, HTTP/1.1 as an
//	            http.Transport dialing the data sockets and an http.Server on the
//	            plugin's end, and HTTP/1.1 with header lines written by hand (the
//	            leanest variant measured), all three built from the prototype commit
//	            d271f28, and this build's frames; at concurrency 16 also this build
//	            and the in-process service at info, where each invite writes an
//	            audit record: the difference is what a record costs each way
//	onboarding  1,000 accounts registered through the built-in web page from one
//	            invite with max_uses 1,000, at concurrency 32 (each a GET of the
//	            form and its POST): exactly 1,000 success pages, the invite's uses
//	            1,000, the next registration refused, no 5xx; then Prosody 0.12's
//	            mod_invites_register_web doing the same with a reusable invite (its
//	            invites have no use count; the harness sets the flag Prosody's own
//	            reusable invites carry, and provides the two-function
//	            mod_password_policy the module needs, which Debian does not ship)
//	flood       a key creating invites at concurrency 4 with the page quiet, then
//	            beside 5,000 bad-token page requests a second (open loop, from 64
//	            loopback addresses): the key's p99 against its quiet p99
//	faults      see below
//	bodies      64 concurrent POSTs of 15 MB without a key, with a Content-Length,
//	            chunked, and trickled (4 KiB every 20 ms): every answer 413 (503 past the bytes in flight), both
//	            processes within 64 MiB of their resident set (VmRSS, sampled every
//	            50 ms), and the plugin back within 4 MiB of its first within a minute
//
// The goals printed are issue 26's: through the plugin at least 0.65× the in-process
// rate at concurrency 16, at most 1.9× its CPU per invite; against Prosody at equal
// durability at least 8× its rate and at most a quarter of its CPU per invite; growth at
// 1,000,000 invites at least 0.9×; host + plugin peak RSS at concurrency 64 at most
// 48 MiB (with the part that is the binaries' own pages); the key's p99 under the
// flood at most twice its quiet p99.
//
// The ceiling and the in-process API run in child processes of the harness (the bench
// binary started again with INVITES_BENCH_SERVE set), like xmppd, so that no server
// shares a Go runtime with the load generator.
// At each concurrency level the ceiling is measured, then the in-process API and xmppd
// in three alternating rounds (each a third of the caps), so that the figures compared
// are taken close together in time and a change in the machine's load touches both.
//
// The load generator is net/http with a keep-alive Transport whose idle pool holds
// twice the concurrency; each worker has one request in flight.
// Every run stops at its request cap (-requests) or its time cap (-duration),
// whichever comes first; requests in flight at the end are finished.
// Latencies are kept whole and sorted: p50 and p99 are nearest-rank percentiles of all
// samples. The RSS column is VmHWM (peak resident set) from /proc/PID/status, of xmppd
// and of its plugin (found as xmppd's child through /proc/*/stat), or of the one
// process (the in-process server, a store-level run, Prosody), read after the run.
// CPU per request is user plus system time from /proc/PID/stat over the run.
// The report names the file system the data lives on: durability figures on tmpfs
// mean nothing.
//
// xmppd runs with the plugin's defaults except one: the failed-authentication budget
// of a client address (20 a minute by default) is lifted through -plugin-config, so
// that the bad-key run measures 403s rather than 429s.
//
// # Fault runs
//
// Each on a fresh xmppd, all but the orphan run under load:
//
//   - SIGKILL of the plugin: xmppd must stay up and answer 503 with Retry-After while
//     the plugin is down, create invites again within 2 s, and answer nothing but 201
//     and 503 beyond the requests in flight; after xmppd has stopped, every token
//     answered 201 must pass core.Service.CheckInvite on the store.
//   - SIGSTOP of the plugin: every request must be answered within the health
//     deadline (host's defaults: 2 s + 3 × 2 s), 503 while the plugin is hung, which
//     must be killed and replaced; every token answered 201 must be in the store.
//   - A plugin that cannot start for 20 s (a wrapper script exits at once), then can:
//     503 with Retry-After meanwhile, each failed start logged once at error level, and
//     back by itself within the longest backoff (30 s).
//   - PostgreSQL unreachable for 10 s (xmppd's plugin on PostgreSQL through a proxy of
//     the harness that drops every connection): back by itself, every token answered
//     201 in the database.
//   - SIGKILL of xmppd and its plugin at once (the process group): restarted on the
//     same data, xmppd must create invites with the old key, and every token answered
//     201 before the kill must be in the store.
//   - SIGKILL of xmppd alone: its plugin should exit by itself within 5 s; this goes
//     beyond the promises, so a plugin that runs on is reported as WARN (and killed),
//     not failed.
//   - 2,000 idle connections and a client that sends its header one byte every 250 ms:
//     invites must still be created while they are open, and the server's timeouts
//     must close all of them (the harness waits at most two minutes).
//
// The harness raises its own open-file limit to the hard limit (the processes it starts
// inherit it); the report gives xmppd's.
package main
