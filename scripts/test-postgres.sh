#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests (Debian's postgresql packages).
#   scripts/test-postgres.sh start DIR [PORT]   # prints the URL for ALIGN_TEST_POSTGRES_URL
#   scripts/test-postgres.sh stop DIR
# As root the server runs as the `postgres` user the Debian package creates. Local connections
# are trusted (a test cluster that listens on 127.0.0.1 only); the role is `align`, superuser,
# and the database `align` is created (the tests create and drop their own beside it).
set -euo pipefail
cmd=${1:?usage: test-postgres.sh start|stop DIR [PORT]}
dir=${2:?usage: test-postgres.sh start|stop DIR [PORT]}
port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
    bin=$(dirname "$(command -v pg_ctl || echo /nonexistent/pg_ctl)")
fi
if [ ! -x "$bin/pg_ctl" ]; then
    echo "test-postgres.sh: pg_ctl not found; install PostgreSQL (apt-get install postgresql)" >&2
    exit 1
fi
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir/data" -U align --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null \
            || { cat "$dir/server.log" >&2; exit 1; }
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U align -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'align'" | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U align align
    fi
    echo "postgresql://align@127.0.0.1:$port/align"
    ;;
stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*)
    echo "usage: test-postgres.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
