# Sourced by scripts/test.sh: makes sure the PostgreSQL tests have a server.
#
# INVITES_TEST_POSTGRES, when set, names the database and nothing else happens. Otherwise
# the server on 127.0.0.1:5432 (trust auth, database test: what CI runs) is used when it
# answers. When it does not, a throwaway server is started: Debian's PostgreSQL is
# installed with apt-get when missing (root only), a cluster is made in a temporary
# directory, started on a free loopback port, and stopped and removed when the calling
# script exits. When none of that is possible the variable stays unset: the PostgreSQL
# tests then fail with a message naming it, and every other test still runs.
#
# INVITES_TEST_POSTGRES_THROWAWAY=1 starts the throwaway server even when 5432 answers
# (to try this path on a machine that has one).

pg_answers() { # host port
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pg_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

pg_throwaway() {
	local bindir dir port runas=()
	bindir=$(pg_bindir || true)
	if [ -z "$bindir" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "installing Debian's PostgreSQL for the tests (apt-get)"
			apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
				{ echo "could not install PostgreSQL: its tests will fail"; return 1; }
			bindir=$(pg_bindir || true)
		fi
	fi
	if [ -z "$bindir" ]; then
		echo "no PostgreSQL server and none can be installed here: its tests will fail"
		return 1
	fi
	dir=$(mktemp -d /tmp/invites-pg.XXXXXX)
	if [ "$(id -u)" = 0 ]; then
		# initdb refuses to run as root: the cluster belongs to Debian's postgres user.
		if ! id postgres >/dev/null 2>&1; then
			echo "running as root without a postgres user: cannot start PostgreSQL"
			rm -rf "$dir"
			return 1
		fi
		chown postgres "$dir"
		runas=(runuser -u postgres --)
	fi
	for port in $(seq 55432 55532); do
		pg_answers 127.0.0.1 "$port" || break
	done
	if ! "${runas[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1; then
		echo "initdb failed:"; cat "$dir/initdb.log"; rm -rf "$dir"; return 1
	fi
	if ! "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null; then
		echo "PostgreSQL did not start:"; cat "$dir/server.log"; rm -rf "$dir"; return 1
	fi
	"${runas[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres test
	export INVITES_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	PG_THROWAWAY_STOP="${runas[*]} $bindir/pg_ctl -D $dir/data -m immediate stop >/dev/null 2>&1; rm -rf $dir"
	trap 'eval "$PG_THROWAWAY_STOP"' EXIT
	echo "throwaway PostgreSQL on 127.0.0.1:$port (removed at exit)"
}

if [ -n "${INVITES_TEST_POSTGRES:-}" ]; then
	echo "PostgreSQL tests use INVITES_TEST_POSTGRES"
elif [ "${INVITES_TEST_POSTGRES_THROWAWAY:-}" != 1 ] && pg_answers 127.0.0.1 5432; then
	echo "PostgreSQL tests use the server on 127.0.0.1:5432"
else
	pg_throwaway || true
fi
