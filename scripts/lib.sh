# Shared by scripts/test and scripts/bench: package installation and a throwaway
# PostgreSQL cluster. Source it from the repository root after setting `root`.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL binaries -------------------------------------------------------------
find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}
if ! pg_bin=$(find_pg_bin); then
  echo "== installing postgresql (Debian package)"
  apt_install postgresql
  pg_bin=$(find_pg_bin)
fi

# start_throwaway_pg durable|fast: a cluster in a temporary directory on a free loopback
# port, removed on exit; sets ACCORD_PG_URL. `fast` turns fsync off (tests kill Accord,
# not PostgreSQL); `durable` keeps PostgreSQL's defaults (benchmarks measure real commits).
start_throwaway_pg() {
  local mode=$1 extra=""
  if [ "$mode" = fast ]; then
    extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  pg_dir=$(mktemp -d /tmp/accord-pg.XXXXXX)
  pg_user=$(id -un)
  run_pg() { "$@"; }
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    pg_user=postgres
    id -u "$pg_user" >/dev/null 2>&1 || as_root useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
    chown "$pg_user" "$pg_dir"
    run_pg() { runuser -u "$pg_user" -- "$@"; }
  fi
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  trap stop_throwaway_pg EXIT
  echo "== starting PostgreSQL ($("$pg_bin/postgres" --version), $mode) on 127.0.0.1:$pg_port"
  run_pg "$pg_bin/initdb" -D "$pg_dir/data" -U "$pg_user" --auth=trust -E UTF8 >/dev/null
  run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir $extra -c max_connections=400" \
    start >/dev/null
  ACCORD_PG_URL="postgres://$pg_user@127.0.0.1:$pg_port/postgres"
}

stop_throwaway_pg() {
  run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
