#!/usr/bin/env bash
# Makes sure the test services answer on 127.0.0.1 before the suite runs: PostgreSQL (with the
# `chatsphere` role, LOGIN CREATEDB, and its `chatsphere` database) and Redis. Idempotent: whatever
# already answers or exists is left alone, and every line printed says what was found or done.
# Needs root (or the postgres user's rights) only when something has to be started or created.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=${PG_PORT:-5432} REDIS_PORT=${REDIS_PORT:-6379}
ROLE=chatsphere DATABASE=chatsphere

say() { echo "ensure_services: $*"; }
apt_updated=no
need_command() {  # need_command <command> <debian package>: installs the package only when the command is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 (for $1)"
  [[ $apt_updated == yes ]] || { apt-get update -qq >/dev/null; apt_updated=yes; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
wait_until() {  # wait_until <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }
redis_answers() { [[ "$(redis-cli -h "$PG_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

need_command pg_isready postgresql-client
need_command psql postgresql-client
need_command redis-cli redis-tools

if pg_answers; then
  say "PostgreSQL answers on $PG_HOST:$PG_PORT"
else
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$version" ]] || { say "PostgreSQL does not answer and no cluster exists in /etc/postgresql"; exit 1; }
  say "starting PostgreSQL $version (cluster main)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_until 30 pg_answers || { say "PostgreSQL did not come up within 30 s"; exit 1; }
  say "PostgreSQL answers on $PG_HOST:$PG_PORT"
fi

if redis_answers; then
  say "Redis answers on $PG_HOST:$REDIS_PORT"
else
  need_command redis-server redis-server
  mkdir -p /var/lib/redis /var/log/redis
  say "starting redis-server on port $REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_until 10 redis_answers || { say "Redis did not come up within 10 s; see /var/log/redis/ci.log"; exit 1; }
  say "Redis answers on $PG_HOST:$REDIS_PORT"
fi

if [[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" == 1 ]]; then
  say "role $ROLE exists"
else
  psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB"
  say "created role $ROLE (LOGIN CREATEDB)"
fi

if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" == 1 ]]; then
  say "database $DATABASE exists"
else
  psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
  say "created database $DATABASE owned by $ROLE"
fi
