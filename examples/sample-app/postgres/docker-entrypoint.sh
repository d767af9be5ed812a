#!/bin/sh
# Entrypoint of 127.0.0.1:5000/rel-sample/postgres:15 (built FROM scratch by scripts/sandbox out of the
# host's PostgreSQL 15 and busybox). It behaves like the official postgres image's entrypoint, reduced:
#   POSTGRES_PASSWORD (required), POSTGRES_USER (postgres), POSTGRES_DB ($POSTGRES_USER),
#   PGDATA (/var/lib/postgresql/data), POSTGRES_INITDB_ARGS (extra initdb arguments),
#   /docker-entrypoint-initdb.d/*.sql and *.sh run once, on an empty data directory.
# Host connections use scram-sha-256, the local socket (/var/run/postgresql) trusts. The server runs as
# the user postgres (uid 999) and listens on 0.0.0.0:5432. Any other command (psql, pg_dump, sh) is exec'd.
set -eu

log() { echo "entrypoint: $*"; }

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
SOCKET_DIR=/var/run/postgresql

if [ "$(id -u)" = 0 ]; then
  # As root: prepare the directories (a fresh named volume belongs to root), then run again as postgres.
  mkdir -p "$PGDATA" "$SOCKET_DIR"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  chown postgres:postgres "$SOCKET_DIR"
  chmod 3777 "$SOCKET_DIR"
  # busybox su: -p keeps the environment (POSTGRES_*, PGDATA); the shell execs this script again.
  # shellcheck disable=SC2016 # $0 and $@ are expanded by the shell su starts
  exec su -p -s /bin/sh postgres -c 'exec "$0" "$@"' "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "entrypoint: error: the database is not initialized and POSTGRES_PASSWORD is not set" >&2
    echo "entrypoint: set POSTGRES_PASSWORD to a non-empty password for the superuser $POSTGRES_USER" >&2
    exit 1
  fi
  log "initializing $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --locale=C --encoding=UTF8 \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  {
    echo
    echo "# added by the rel-sample entrypoint"
    echo "listen_addresses = '*'"
    echo "unix_socket_directories = '$SOCKET_DIR'"
    echo "password_encryption = 'scram-sha-256'"
  } >>"$PGDATA/postgresql.conf"
  {
    echo
    echo "# added by the rel-sample entrypoint: every host may connect with a password"
    echo "host all all all scram-sha-256"
  } >>"$PGDATA/pg_hba.conf"

  # A temporary server on the socket only, to create the database and run the init scripts.
  pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses='' -p 5432" start >/dev/null
  export PGUSER="$POSTGRES_USER" PGHOST="$SOCKET_DIR" PGPORT=5432
  if [ "$POSTGRES_DB" != postgres ]; then
    # The name is passed as a psql variable and quoted by psql (:"db"), never spliced into SQL.
    echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --dbname=postgres -v db="$POSTGRES_DB"
  fi
  if [ -d /docker-entrypoint-initdb.d ]; then
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sql) log "running $f"; psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --dbname="$POSTGRES_DB" -f "$f" ;;
        *.sh)
          log "running $f"
          # shellcheck disable=SC1090 # init scripts supplied by the user of the image
          . "$f"
          ;;
        *) ;;
      esac
    done
  fi
  pg_ctl --pgdata="$PGDATA" --wait --silent -m fast stop >/dev/null
  unset PGUSER PGHOST PGPORT
  log "initialized; starting postgres"
else
  log "using the existing database in $PGDATA"
fi

exec "$@"
