#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server, so the storage tests also run on PostgreSQL.
#
#   scripts/test-postgres.sh .venv/bin/python -m pytest -q
#
# When PostgreSQL is available (or can be installed from Debian's packages), a cluster is created in a
# temporary folder, started on 127.0.0.1 (and a Unix socket in that folder) on a free port, a database
# is created, and TEST_POSTGRES_URL is exported as a SQLAlchemy URL (driver psycopg 3) for the command.
# The server is stopped and the cluster removed on exit. When PostgreSQL cannot be had, the command runs
# without TEST_POSTGRES_URL and the PostgreSQL tests skip. The command's exit status is passed through.
set -uo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]   (e.g. $0 .venv/bin/python -m pytest -q)" >&2
    exit 2
fi

say() { echo "test-postgres: $*" >&2; }

find_pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

run_without_postgres() {
    say "$1; running without TEST_POSTGRES_URL (the PostgreSQL tests will skip)"
    unset TEST_POSTGRES_URL
    "${@:2}"
    exit $?
}

PG_BIN=$(find_pg_bin)
if [[ -z "$PG_BIN" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "PostgreSQL not found; installing Debian's postgresql package"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2; then
            say "apt-get could not install postgresql"
        fi
        PG_BIN=$(find_pg_bin)
    fi
fi
[[ -n "$PG_BIN" ]] || run_without_postgres "no PostgreSQL server binaries (initdb, pg_ctl)" "$@"

# PostgreSQL refuses to run as root: run the server as an unprivileged user.
AS_USER=()
if [[ $(id -u) -eq 0 ]]; then
    PG_USER=postgres
    if ! id "$PG_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null \
            || run_without_postgres "no unprivileged user to run PostgreSQL as" "$@"
    fi
    if command -v runuser >/dev/null; then
        AS_USER=(runuser -u "$PG_USER" --)
    else
        run_without_postgres "runuser is missing (needed to start PostgreSQL as $PG_USER)" "$@"
    fi
fi

# As root, the cluster lives under /tmp, which the postgres user can reach (a root TMPDIR may not be).
PG_PARENT=${TMPDIR:-/tmp}
[[ ${#AS_USER[@]} -gt 0 ]] && PG_PARENT=/tmp
PG_DIR=$(mktemp -d "$PG_PARENT/test-postgres.XXXXXX")
[[ ${#AS_USER[@]} -gt 0 ]] && chown "$PG_USER" "$PG_DIR"
chmod 700 "$PG_DIR"
DATA_DIR="$PG_DIR/data"
LOG_FILE="$PG_DIR/server.log"

cleanup() {
    "${AS_USER[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$("${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)

if ! "${AS_USER[@]}" "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    && ! "${AS_USER[@]}" "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -A trust -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    trap - EXIT; cleanup
    run_without_postgres "initdb failed" "$@"
fi

SERVER_OPTS="-h 127.0.0.1 -p $PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if ! "${AS_USER[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -o "$SERVER_OPTS" -w -t 30 start >/dev/null 2>&1; then
    cat "$LOG_FILE" >&2
    trap - EXIT; cleanup
    run_without_postgres "the PostgreSQL server did not start" "$@"
fi

DB_NAME=ward_test
if ! "${AS_USER[@]}" "$PG_BIN/createdb" -h "$PG_DIR" -p "$PORT" -U postgres "$DB_NAME" >&2; then
    trap - EXIT; cleanup
    run_without_postgres "createdb failed" "$@"
fi

export TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB_NAME"
say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, TEST_POSTGRES_URL=$TEST_POSTGRES_URL"

"$@"
status=$?
exit $status
