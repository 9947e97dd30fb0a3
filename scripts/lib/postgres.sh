# shellcheck shell=bash
# Sourced by scripts/serve and scripts/test: bring up a private PostgreSQL
# cluster under the project's data directory unless DATABASE_URL names one.
#
# After `ensure_postgres`, REGISTRY_PG_ADMIN_URL is a superuser URL to the
# cluster's `postgres` database and PG_BIN holds the server binaries.
# The cluster is stopped on exit only if this script started it.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DATA_DIR=${REGISTRY_DATA_DIR:-$ROOT/.data}
PG_PORT=${REGISTRY_PG_PORT:-54329}
PG_STARTED_HERE=0

say() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

find_pg_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

install_pg() {
    if [ "$(id -u)" != 0 ]; then
        say "PostgreSQL server binaries (initdb, pg_ctl) are missing."
        say "Install them, e.g. 'sudo apt-get install postgresql', or set DATABASE_URL to a server you have."
        exit 1
    fi
    say "installing the PostgreSQL server package with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
}

# Run a command as the cluster's owner: PostgreSQL refuses to run as root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

prepare_data_dir() {
    PG_DATA="$DATA_DIR/postgres"
    mkdir -p "$PG_DATA"
    chmod 700 "$PG_DATA"
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
        fi
        chown postgres: "$PG_DATA"
        chmod 755 "$DATA_DIR"
        if ! runuser -u postgres -- test -w "$PG_DATA"; then
            # A checkout under a directory the postgres user cannot enter.
            PG_DATA="/var/tmp/social-registry-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/postgres"
            mkdir -p "$PG_DATA"
            chown postgres: "$PG_DATA" "$(dirname "$PG_DATA")"
            chmod 700 "$PG_DATA"
            say "the postgres user cannot write under $DATA_DIR; using $PG_DATA"
        fi
    fi
}

ensure_postgres() {
    PG_BIN=$(find_pg_bin) || { install_pg; PG_BIN=$(find_pg_bin) || { say "PostgreSQL is still missing after install"; exit 1; }; }
    prepare_data_dir
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "creating a PostgreSQL cluster in $PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
    fi
    REGISTRY_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        say "reusing the PostgreSQL already running on port $PG_PORT"
        return 0
    fi
    local opts="-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories= -c max_connections=300"
    if [ "${REGISTRY_PG_FAST:-0}" = 1 ]; then
        # Tests only: durability is not what they measure.
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -o "$opts" -w -t 60 start >/dev/null; then
        say "PostgreSQL did not start; its log says:"
        tail -n 20 "$PG_DATA/server.log" >&2 || true
        exit 1
    fi
    PG_STARTED_HERE=1
    trap stop_postgres EXIT
    # Without these, a TERM or INT ends bash without running the EXIT trap
    # and the cluster would outlive the script that started it.
    trap 'exit 143' TERM
    trap 'exit 130' INT
}

stop_postgres() {
    if [ "$PG_STARTED_HERE" = 1 ]; then
        say "stopping the PostgreSQL this script started"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED_HERE=0
    fi
}

# The service's own login role, `registry_app`: it connects as it, with only
# the grants the migrations give it, so no runtime connection can lift the
# log's protections (`reset role` has nothing to go back to). The local
# cluster trusts local logins, so it needs no password here.
ensure_app_role() {
    pg_sql -c "do \$\$ begin
        if not exists (select 1 from pg_roles where rolname = 'registry_app') then
            create role registry_app login;
        else
            alter role registry_app login;
        end if;
    end \$\$"
}

# psql against the cluster as the superuser.
pg_sql() {
    "$PG_BIN/psql" "$REGISTRY_PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt "$@"
}
