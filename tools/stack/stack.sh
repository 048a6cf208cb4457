#!/usr/bin/env bash
# Local dev/test stack for polymath-etl: Postgres 15 + pgvector and Neo4j Community 5.26 (Bolt).
#
#   npm run stack -- up       install what is missing, start both (idempotent, concurrency-safe)
#   npm run stack -- down     stop both and free their ports
#   npm run stack -- status   print each service's state; exit 1 unless both are running
#   npm run stack -- env      print `export VAR=...` lines: eval "$(npm run -s stack -- env)"
#
# Configuration (environment; use the same values for `up`, `env`, `status` and `down`):
#   POLYMATH_PG_PORT          Postgres TCP port on 127.0.0.1          (default 55432)
#   POLYMATH_PG_PASSWORD      password of role `polymath`             (default polymath)
#   POLYMATH_NEO4J_PORT       Neo4j Bolt port on 127.0.0.1            (default 57687)
#   POLYMATH_NEO4J_AUTH       `password` (default) or `none`
#   POLYMATH_NEO4J_PASSWORD   password of user `neo4j`                (default polymath-local)
#   POLYMATH_STACK_DIR        runtime dir (data, logs, pids)          (default <repo>/.stack)
#   POLYMATH_STACK_TIMEOUT    seconds to wait for a service to start  (default 180)
#
# Everything lives in the git-ignored .stack/ dir; progress goes to stderr, logs to .stack/*.log.
set -Eeuo pipefail
shopt -s nullglob

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STACK_DIR="${POLYMATH_STACK_DIR:-$REPO_ROOT/.stack}"
CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/polymath-etl"

PG_VERSION=15
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_PORT="${POLYMATH_PG_PORT:-55432}"
PG_USER=polymath
PG_DB=polymath
PG_PASSWORD="${POLYMATH_PG_PASSWORD:-polymath}"
PG_SUPERUSER=postgres # bootstrap superuser inside our cluster (socket + trust only)

NEO4J_PORT="${POLYMATH_NEO4J_PORT:-57687}"
NEO4J_AUTH_MODE="${POLYMATH_NEO4J_AUTH:-password}"
NEO4J_PASSWORD="${POLYMATH_NEO4J_PASSWORD:-polymath-local}"
NEO4J_DIR="$SCRIPT_DIR/neo4j" # pom.xml, Launcher.java; lib/ and target/ are git-ignored
NEO4J_HOME="$STACK_DIR/neo4j"
NEO4J_PID="$STACK_DIR/neo4j.pid"
NEO4J_OUT="$STACK_DIR/neo4j.out"
NEO4J_LOG="$STACK_DIR/neo4j.log"
NEO4J_STAMP="$STACK_DIR/neo4j.config"

PG_LOG="$STACK_DIR/postgres.log"
PG_STAMP="$STACK_DIR/postgres.provisioned"
INSTALL_LOG="$STACK_DIR/install.log"
TIMEOUT="${POLYMATH_STACK_TIMEOUT:-180}"

case "$NEO4J_AUTH_MODE" in
  none | NONE) NEO4J_AUTH_MODE=none ;;
  *) NEO4J_AUTH_MODE=password ;;
esac

# ---------------------------------------------------------------------------------------------
# output helpers

rel() { # path relative to the repo root, for messages
  case "$1" in "$REPO_ROOT"/*) printf '%s' "${1#"$REPO_ROOT"/}" ;; *) printf '%s' "$1" ;; esac
}
log() { printf 'stack: %s\n' "$*" >&2; }
die() {
  printf 'stack: ERROR: %s\n' "$1" >&2
  if [[ $# -ge 2 && -f "$2" ]]; then
    printf 'stack: log file: %s (last lines below)\n' "$(rel "$2")" >&2
    tail -n "${3:-15}" "$2" | sed 's/^/  | /' >&2
  elif [[ $# -ge 2 ]]; then
    printf 'stack: log file: %s\n' "$(rel "$2")" >&2
  fi
  exit 1
}
trap 'die "unexpected failure in tools/stack/stack.sh line $LINENO: $BASH_COMMAND" "$INSTALL_LOG" 5' ERR

now_ms() { date +%s%3N; }

# value for `export NAME=value`: bare when shell-safe, otherwise single-quoted
shell_quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

urlencode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [A-Za-z0-9._~-]) out+="$c" ;;
      *) out+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  printf '%s' "$out"
}

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

fingerprint() { printf '%s' "$*" | sha256sum | cut -c1-16; }

port_open() { # port_open PORT -> 0 when something accepts TCP connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# privileges and system packages

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "root is needed to run: $* (re-run as root, or run that command yourself)"
  fi
}

APT_UPDATED=0
apt_install() { # apt_install PKG... (system apt sources; `apt-get update` only if needed)
  log "installing $* with apt-get (log: $(rel "$INSTALL_LOG"))"
  local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >>"$INSTALL_LOG" 2>&1; then
    if [[ $APT_UPDATED -eq 0 ]]; then
      log "apt-get install failed; running apt-get update and retrying"
      as_root apt-get update -q -o DPkg::Lock::Timeout=600 >>"$INSTALL_LOG" 2>&1 ||
        die "apt-get update failed" "$INSTALL_LOG"
      APT_UPDATED=1
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >>"$INSTALL_LOG" 2>&1 ||
        die "apt-get install $* failed" "$INSTALL_LOG"
    else
      die "apt-get install $* failed" "$INSTALL_LOG"
    fi
  fi
}

need_commands() { # need_commands "cmd:package" ... -> installs the packages of missing commands
  local missing=() spec
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
    apt_install "${missing[@]}"
  fi
}

# ---------------------------------------------------------------------------------------------
# Postgres

# Postgres refuses to run as root: then the cluster belongs to the system user `postgres`.
pg_run_user() {
  if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi
}

as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Where the cluster lives. Normally .stack/pg; when running as root and the `postgres` user cannot
# reach .stack (e.g. a clone under /root), the cluster goes to /var/tmp and .stack/pg links to it.
pg_base() {
  local base="$STACK_DIR/pg"
  if [[ -L "$base" ]]; then
    readlink -f "$base"
  else
    printf '%s' "$base"
  fi
}

pg_prepare_base() {
  local base="$STACK_DIR/pg"
  [[ -e "$base" ]] && return 0
  if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$STACK_DIR" 2>/dev/null; then
    local alt
    alt="/var/tmp/polymath-etl-stack/$(fingerprint "$STACK_DIR")/pg"
    mkdir -p "$alt"
    chmod 755 /var/tmp/polymath-etl-stack "$(dirname "$alt")"
    ln -s "$alt" "$base"
    log "user postgres cannot reach $(rel "$STACK_DIR"); cluster data goes to $alt"
  else
    mkdir -p "$base"
  fi
  chown "$(pg_run_user)" "$(pg_base)"
  chmod 700 "$(pg_base)"
}

pg_data() { printf '%s/data' "$(pg_base)"; }
pg_sock() { printf '%s/run' "$(pg_base)"; }

pg_pid() { # pid of our postmaster when it runs, else nothing (exit 1)
  local pidfile
  pidfile="$(pg_data)/postmaster.pid"
  [[ -r "$pidfile" ]] || return 1
  local pid
  pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  printf '%s' "$pid"
}

pg_running_port() { sed -n 4p "$(pg_data)/postmaster.pid" 2>/dev/null || true; }

ensure_pg_binaries() {
  if [[ ! -x "$PG_BIN/postgres" || ! -x "$PG_BIN/pg_ctl" || ! -x "$PG_BIN/psql" ]]; then
    apt_install "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION"
  fi
  [[ -x "$PG_BIN/postgres" ]] || die "postgres $PG_VERSION binaries not found in $PG_BIN" "$INSTALL_LOG"
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

ensure_pgvector() {
  local pg_config="$PG_BIN/pg_config"
  local libdir sharedir
  if [[ -x "$pg_config" ]]; then
    libdir="$("$pg_config" --pkglibdir)"
    sharedir="$("$pg_config" --sharedir)"
    if [[ -f "$libdir/vector.so" && -f "$sharedir/extension/vector.control" ]]; then
      return 0
    fi
  fi

  local t0
  t0=$(now_ms)
  log "pgvector is not installed for Postgres $PG_VERSION: building it from Debian trixie sources"
  need_commands make:make gcc:gcc dpkg-source:dpkg-dev xz:xz-utils
  if [[ ! -f "/usr/include/postgresql/$PG_VERSION/server/postgres.h" ]] || ! "$pg_config" --pgxs >/dev/null 2>&1 ||
    [[ ! -f "$("$pg_config" --pgxs)" ]]; then
    apt_install "postgresql-server-dev-$PG_VERSION"
  fi
  libdir="$("$pg_config" --pkglibdir)"
  sharedir="$("$pg_config" --sharedir)"

  # A private apt configuration that only knows trixie's source index: the system's apt
  # sources and state are left alone. Shared by all clones through ~/.cache.
  local apt_dir="$CACHE_DIR/apt" src_dir="$CACHE_DIR/pgvector-src"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$src_dir"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [[ -f "$keyring" ]] || apt_install debian-archive-keyring
  printf 'deb-src [signed-by=%s] http://deb.debian.org/debian trixie main\n' "$keyring" >"$apt_dir/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=$(id -un)"
    -q
  )
  (
    # serialize builds between clones sharing the cache
    exec 8>"$CACHE_DIR/pgvector.lock"
    flock -w 900 8 || die "timed out waiting for $CACHE_DIR/pgvector.lock"
    [[ -f "$libdir/vector.so" && -f "$sharedir/extension/vector.control" ]] && exit 0
    cd "$src_dir"
    if ! compgen -G "pgvector_*.dsc" >/dev/null; then
      log "fetching the trixie source index into $apt_dir"
      apt-get "${apt_opts[@]}" update >>"$INSTALL_LOG" 2>&1 ||
        die "apt-get update for the private trixie source list failed" "$INSTALL_LOG"
      apt-get "${apt_opts[@]}" source --download-only pgvector >>"$INSTALL_LOG" 2>&1 ||
        die "apt-get source pgvector failed" "$INSTALL_LOG"
    fi
    local dsc
    dsc="$(ls -1 pgvector_*.dsc | sort -V | tail -n1)"
    rm -rf build && mkdir build
    dpkg-source --no-check -x "$dsc" build/pgvector >>"$INSTALL_LOG" 2>&1 ||
      die "unpacking $dsc failed" "$INSTALL_LOG"
    log "building $(basename "$dsc" .dsc) (make && make install)"
    # OPTFLAGS="": portable build (no -march=native), like Debian's own package
    make -C build/pgvector -j"$(nproc)" PG_CONFIG="$pg_config" OPTFLAGS="" >>"$INSTALL_LOG" 2>&1 ||
      die "building pgvector failed" "$INSTALL_LOG"
    as_root make -C build/pgvector PG_CONFIG="$pg_config" OPTFLAGS="" install >>"$INSTALL_LOG" 2>&1 ||
      die "installing pgvector failed" "$INSTALL_LOG"
  ) || exit 1
  [[ -f "$libdir/vector.so" && -f "$sharedir/extension/vector.control" ]] ||
    die "pgvector build finished but vector.so/vector.control are missing" "$INSTALL_LOG"
  log "pgvector installed in $libdir ($(($(now_ms) - t0)) ms)"
}

pg_write_conf() {
  local data sock
  data="$(pg_data)"
  sock="$(pg_sock)"
  cat >"$data/polymath.conf" <<EOF
# Written by tools/stack/stack.sh on every start; do not edit (use POLYMATH_PG_PORT).
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
synchronous_commit = off
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  chown "$(pg_run_user)" "$data/polymath.conf"
}

pg_init() {
  local data
  data="$(pg_data)"
  [[ -f "$data/PG_VERSION" ]] && return 0
  log "initializing a Postgres $PG_VERSION cluster in $(rel "$STACK_DIR/pg")/data"
  rm -rf "$data"
  as_pg "$PG_BIN/initdb" -D "$data" -U "$PG_SUPERUSER" -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
    die "initdb failed" "$PG_LOG"
  # loopback TCP only, password (scram) auth; unix socket (private dir) is trust for the bootstrap
  cat >"$data/pg_hba.conf" <<'EOF'
# Written by tools/stack/stack.sh
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
EOF
  printf "\ninclude_if_exists = 'polymath.conf'\n" >>"$data/postgresql.conf"
  chown "$(pg_run_user)" "$data/pg_hba.conf"
  rm -f "$PG_STAMP"
}

pg_start() {
  local data sock
  data="$(pg_data)"
  sock="$(pg_sock)"
  mkdir -p "$sock"
  chown "$(pg_run_user)" "$sock"
  chmod 700 "$sock"
  if port_open "$PG_PORT"; then
    die "port 127.0.0.1:$PG_PORT is already in use by another process (set POLYMATH_PG_PORT to use another port)"
  fi
  pg_write_conf
  [[ -f "$PG_LOG" && $(stat -c %s "$PG_LOG") -gt 20000000 ]] && : >"$PG_LOG"
  printf '\n===== stack: starting postgres on port %s at %s\n' "$PG_PORT" "$(date -Is)" >>"$PG_LOG"
  log "starting postgres on 127.0.0.1:$PG_PORT"
  # pg_ctl without -l: the server writes to our log fd (opened here, so `postgres` needs no access
  # to .stack); 9>&- keeps the stack lock out of the daemon.
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -w -t "$TIMEOUT" start >>"$PG_LOG" 2>&1 9>&- </dev/null; then
    die "postgres did not start" "$PG_LOG"
  fi
}

pg_stop() {
  local pid
  pid="$(pg_pid)" || return 0
  log "stopping postgres (pid $pid)"
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" -w -t 60 -m fast stop >>"$PG_LOG" 2>&1 9>&- </dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "postgres did not stop in time; sending SIGQUIT"
  kill -QUIT "$pid" 2>/dev/null || true
  sleep 1
  pid_alive "$pid" && die "could not stop postgres (pid $pid)" "$PG_LOG"
  return 0
}

pg_psql() { # pg_psql DB  (SQL on stdin) as the bootstrap superuser over the private socket
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_sock)" -p "$PG_PORT" -U "$PG_SUPERUSER" -d "$1"
}

pg_provision() {
  local want
  want="$(fingerprint "$PG_USER" "$PG_DB" "$PG_PASSWORD" "$PG_PORT")"
  [[ -f "$PG_STAMP" && "$(cat "$PG_STAMP")" == "$want" ]] && return 0
  log "provisioning role and database '$PG_DB' with the vector extension"
  {
    # superuser: tests create/drop schemas and databases and CREATE EXTENSION (loopback only)
    cat <<EOF
SELECT format('CREATE ROLE %I', '$PG_USER') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER')
\\gexec
ALTER ROLE $PG_USER WITH LOGIN SUPERUSER PASSWORD $(sql_literal "$PG_PASSWORD");
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB')
\\gexec
\\connect template1
CREATE EXTENSION IF NOT EXISTS vector;
\\connect $PG_DB
CREATE EXTENSION IF NOT EXISTS vector;
EOF
  } | pg_psql postgres >>"$PG_LOG" 2>&1 || die "provisioning role/database $PG_DB failed" "$PG_LOG"
  printf '%s\n' "$want" >"$PG_STAMP"
}

pg_up() {
  local pid port
  if pid="$(pg_pid)"; then
    port="$(pg_running_port)"
    if [[ "$port" != "$PG_PORT" ]]; then
      if port_open "$PG_PORT"; then
        die "port 127.0.0.1:$PG_PORT is already in use by another process (set POLYMATH_PG_PORT to use another port)"
      fi
      log "postgres runs on port $port but POLYMATH_PG_PORT is $PG_PORT: restarting"
      pg_stop
    elif "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 5; then
      pg_provision
      return 0
    else
      die "postgres (pid $pid) runs but does not accept connections on 127.0.0.1:$PG_PORT" "$PG_LOG"
    fi
  fi
  ensure_pg_binaries
  ensure_pgvector
  pg_prepare_base
  pg_init
  pg_start
  pg_provision
}

# ---------------------------------------------------------------------------------------------
# Neo4j

neo4j_pid() { # pid of our launcher when it runs
  local pid
  pid="$(cat "$NEO4J_PID" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "Launcher $NEO4J_HOME " || return 1
  printf '%s' "$pid"
}

neo4j_config_fp() { printf '%s %s' "$NEO4J_PORT" "$(fingerprint "$NEO4J_PORT" "$NEO4J_AUTH_MODE" "$NEO4J_PASSWORD")"; }

ensure_neo4j_build() {
  need_commands java:openjdk-17-jdk-headless javac:openjdk-17-jdk-headless mvn:maven
  local lib="$NEO4J_DIR/lib" classes="$NEO4J_DIR/target/classes"
  local pom_fp
  pom_fp="$(sha256sum "$NEO4J_DIR/pom.xml" | cut -c1-16)"
  if [[ ! -f "$lib/.stamp" || "$(cat "$lib/.stamp")" != "$pom_fp" ]]; then
    local t0
    t0=$(now_ms)
    log "fetching Neo4j jars from Maven Central into $(rel "$lib") (log: $(rel "$INSTALL_LOG"))"
    rm -rf "$lib"
    mvn -B -q -f "$NEO4J_DIR/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" \
      >>"$INSTALL_LOG" 2>&1 </dev/null || die "mvn dependency:copy-dependencies failed" "$INSTALL_LOG"
    printf '%s\n' "$pom_fp" >"$lib/.stamp"
    log "Neo4j jars ready ($(ls "$lib"/*.jar | wc -l) jars, $(($(now_ms) - t0)) ms)"
  fi
  if [[ ! -f "$classes/Launcher.class" || "$NEO4J_DIR/Launcher.java" -nt "$classes/Launcher.class" ||
    "$lib/.stamp" -nt "$classes/Launcher.class" ]]; then
    log "compiling the Neo4j launcher"
    mkdir -p "$classes"
    javac -nowarn -d "$classes" -cp "$lib/*" "$NEO4J_DIR/Launcher.java" >>"$INSTALL_LOG" 2>&1 ||
      die "compiling tools/stack/neo4j/Launcher.java failed" "$INSTALL_LOG"
  fi
}

neo4j_launch() { # start the JVM in its own session; readiness is awaited by neo4j_wait
  if port_open "$NEO4J_PORT"; then
    die "port 127.0.0.1:$NEO4J_PORT is already in use by another process (set POLYMATH_NEO4J_PORT to use another port)"
  fi
  mkdir -p "$NEO4J_HOME"
  [[ -f "$NEO4J_LOG" && $(stat -c %s "$NEO4J_LOG") -gt 20000000 ]] && : >"$NEO4J_LOG"
  printf '\n===== stack: starting neo4j on port %s at %s\n' "$NEO4J_PORT" "$(date -Is)" >>"$NEO4J_LOG"
  : >"$NEO4J_OUT"
  rm -f "$NEO4J_PID"
  log "starting neo4j on 127.0.0.1:$NEO4J_PORT (auth: $NEO4J_AUTH_MODE)"
  local java_opts=(
    -Xms256m -Xmx1g -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
    -XX:+UnlockDiagnosticVMOptions -XX:-OmitStackTraceInFastThrow
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true -Dfile.encoding=UTF-8
  )
  POLYMATH_NEO4J_AUTH="$NEO4J_AUTH_MODE" POLYMATH_NEO4J_PASSWORD="$NEO4J_PASSWORD" \
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$NEO4J_PID" \
    java "${java_opts[@]}" -cp "$NEO4J_DIR/lib/*:$NEO4J_DIR/target/classes" \
    Launcher "$NEO4J_HOME" "$NEO4J_PORT" \
    </dev/null >"$NEO4J_OUT" 2>>"$NEO4J_LOG" 9>&- &
  disown $! 2>/dev/null || true
  neo4j_config_fp >"$NEO4J_STAMP"
}

neo4j_wait() {
  local deadline=$((SECONDS + TIMEOUT)) pid="" line
  while ((SECONDS < deadline)); do
    [[ -z "$pid" ]] && pid="$(cat "$NEO4J_PID" 2>/dev/null || true)"
    line="$(grep -m1 -E '^NEO4J (READY|FAILED)' "$NEO4J_OUT" 2>/dev/null || true)"
    case "$line" in
      "NEO4J READY"*) return 0 ;;
      "NEO4J FAILED"*) die "neo4j did not start: ${line#NEO4J FAILED }" "$NEO4J_LOG" 5 ;;
    esac
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
      die "neo4j exited during startup" "$NEO4J_LOG"
    fi
    sleep 0.2
  done
  die "neo4j did not report readiness within ${TIMEOUT}s (POLYMATH_STACK_TIMEOUT)" "$NEO4J_LOG"
}

neo4j_stop() {
  local pid
  pid="$(neo4j_pid)" || { rm -f "$NEO4J_PID"; return 0; }
  log "stopping neo4j (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 600; i++)); do # the shutdown hook checkpoints and closes the stores
    pid_alive "$pid" || { rm -f "$NEO4J_PID"; return 0; }
    sleep 0.1
  done
  log "neo4j did not stop within 60s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
  rm -f "$NEO4J_PID"
}

# Sets NEO4J_WAIT=1 when neo4j was launched or is still starting (the caller then waits).
NEO4J_WAIT=0
neo4j_up() {
  local pid
  if pid="$(neo4j_pid)"; then
    local stamp
    stamp="$(cat "$NEO4J_STAMP" 2>/dev/null || true)"
    if [[ "$stamp" != "$(neo4j_config_fp)" ]]; then
      if [[ "$stamp" =~ ^[0-9]+\ [0-9a-f]+$ && "${stamp%% *}" != "$NEO4J_PORT" ]] && port_open "$NEO4J_PORT"; then
        die "port 127.0.0.1:$NEO4J_PORT is already in use by another process (set POLYMATH_NEO4J_PORT to use another port)"
      fi
      log "neo4j runs with another port/auth/password than requested: restarting"
      neo4j_stop
    elif grep -q '^NEO4J READY' "$NEO4J_OUT" 2>/dev/null && port_open "$NEO4J_PORT"; then
      return 0
    else
      NEO4J_WAIT=1 # still starting: just wait for it
      return 0
    fi
  fi
  ensure_neo4j_build
  neo4j_launch
  NEO4J_WAIT=1
}

# ---------------------------------------------------------------------------------------------
# commands

take_lock() {
  mkdir -p "$STACK_DIR"
  exec 9>"$STACK_DIR/stack.lock"
  if ! flock -n 9; then
    log "another stack command is running; waiting for it"
    flock -w 1200 9 || die "timed out waiting for $(rel "$STACK_DIR")/stack.lock"
  fi
}

cmd_up() {
  local t0
  t0=$(now_ms)
  command -v flock >/dev/null || die "flock (util-linux) is required"
  take_lock
  : >>"$INSTALL_LOG"
  # Neo4j boots in the background while Postgres is prepared.
  neo4j_up
  pg_up
  if [[ $NEO4J_WAIT -eq 1 ]]; then neo4j_wait; fi
  log "up: postgres 127.0.0.1:$PG_PORT, neo4j bolt://127.0.0.1:$NEO4J_PORT ($(($(now_ms) - t0)) ms)"
}

cmd_down() {
  take_lock
  neo4j_stop
  pg_stop
  local bad=0
  if port_open "$NEO4J_PORT"; then log "port $NEO4J_PORT is still in use"; bad=1; fi
  if port_open "$PG_PORT"; then log "port $PG_PORT is still in use"; bad=1; fi
  if pgrep -f "Launcher $NEO4J_HOME " >/dev/null 2>&1; then log "a neo4j launcher is still running"; bad=1; fi
  if [[ -d "$(pg_base)" ]] && pgrep -f -- "-D $(pg_data)" >/dev/null 2>&1; then
    log "a postgres process for $(pg_data) is still running"
    bad=1
  fi
  [[ $bad -eq 0 ]] || die "down: something is still running (see above)"
  log "down: postgres and neo4j stopped"
}

cmd_status() {
  local ok=0 pid
  if pid="$(pg_pid)"; then
    local port
    port="$(pg_running_port)"
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 3; then
      printf 'postgres  running   pid %-7s 127.0.0.1:%s db=%s user=%s   log %s\n' "$pid" "$port" "$PG_DB" "$PG_USER" "$(rel "$PG_LOG")"
    else
      printf 'postgres  starting  pid %-7s 127.0.0.1:%s (not accepting connections)   log %s\n' "$pid" "$port" "$(rel "$PG_LOG")"
      ok=1
    fi
  else
    printf 'postgres  stopped   (port %s)   log %s\n' "$PG_PORT" "$(rel "$PG_LOG")"
    ok=1
  fi
  if pid="$(neo4j_pid)"; then
    if grep -q '^NEO4J READY' "$NEO4J_OUT" 2>/dev/null && port_open "$NEO4J_PORT"; then
      printf 'neo4j     running   pid %-7s bolt://127.0.0.1:%s auth=%s   log %s\n' "$pid" "$NEO4J_PORT" "$NEO4J_AUTH_MODE" "$(rel "$NEO4J_LOG")"
    else
      printf 'neo4j     starting  pid %-7s bolt://127.0.0.1:%s   log %s\n' "$pid" "$NEO4J_PORT" "$(rel "$NEO4J_LOG")"
      ok=1
    fi
  else
    printf 'neo4j     stopped   (port %s)   log %s\n' "$NEO4J_PORT" "$(rel "$NEO4J_LOG")"
    ok=1
  fi
  return "$ok"
}

cmd_env() {
  local dsn user pw
  dsn="postgres://$(urlencode "$PG_USER"):$(urlencode "$PG_PASSWORD")@127.0.0.1:$PG_PORT/$(urlencode "$PG_DB")"
  user=neo4j
  if [[ $NEO4J_AUTH_MODE == none ]]; then pw=""; else pw="$NEO4J_PASSWORD"; fi
  printf 'export POSTGRES_DSN=%s\n' "$(shell_quote "$dsn")"
  printf 'export NEO4J_URI=%s\n' "$(shell_quote "bolt://127.0.0.1:$NEO4J_PORT")"
  printf 'export NEO4J_USER=%s\n' "$(shell_quote "$user")"
  printf 'export NEO4J_PASSWORD=%s\n' "$(shell_quote "$pw")"
}

usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) if cmd_status; then exit 0; else exit 1; fi ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
