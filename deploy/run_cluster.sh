#!/usr/bin/env bash
# Run several `streamlit run app.py` processes behind nginx with sticky sessions (deploy/nginx.conf).
#
#   deploy/run_cluster.sh                          # 2 processes on 8501.., nginx on 127.0.0.1:8080
#   deploy/run_cluster.sh --processes 3 --listen 0.0.0.0:80 --base-port 8601
#
# Everything (config, logs, pid, temp files) lives in a temporary folder; no root paths are written.
# Ctrl-C or SIGTERM stops nginx and every streamlit process, and removes the folder.
set -euo pipefail

PROCESSES=2
BASE_PORT=8501
LISTEN=127.0.0.1:8080
while [ $# -gt 0 ]; do
    case "$1" in
        --processes) PROCESSES="$2"; shift 2 ;;
        --base-port) BASE_PORT="$2"; shift 2 ;;
        --listen) LISTEN="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$PROCESSES" in ''|*[!0-9]*) echo "--processes must be a number" >&2; exit 2 ;; esac
if [ "$PROCESSES" -lt 1 ] || [ "$PROCESSES" -gt 16 ]; then echo "--processes must be 1..16" >&2; exit 2; fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="python3"; fi
fi
STREAMLIT="${STREAMLIT:-$PYTHON -m streamlit}"
# Streamlit's built frontend, which nginx serves itself (deploy/nginx.conf, location /static/).
STATIC="$("$PYTHON" -c 'from streamlit import file_util; print(file_util.get_static_dir())' 2>/dev/null || true)"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
[ -x "$NGINX" ] || { echo "nginx not found (Debian: apt-get install -y nginx)" >&2; exit 1; }

WORK="$(mktemp -d -t minigpt-cluster.XXXXXX)"
mkdir -p "$WORK/logs" "$WORK/tmp"
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# One cookie secret for all processes: a signed cookie (XSRF token) issued by one backend is then valid
# on every other, should a browser ever be re-hashed (a backend restarted, --processes changed).
SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BACKENDS=""
for i in $(seq 0 $((PROCESSES - 1))); do
    port=$((BASE_PORT + i))
    STREAMLIT_SERVER_COOKIE_SECRET="$SECRET" \
    $STREAMLIT run app.py --server.headless true --server.address 127.0.0.1 --server.port "$port" \
        --browser.gatherUsageStats false \
        >"$WORK/logs/streamlit-$port.log" 2>&1 &
    PIDS+=($!)
    BACKENDS="$BACKENDS        server 127.0.0.1:$port;\n"
done

# deploy/nginx.conf with this run's backends and listen address.
CONF="$WORK/nginx.conf"
awk -v backends="$BACKENDS" -v listen="$LISTEN" -v static="$STATIC" '
    /# BEGIN BACKENDS/ { print; printf "%s", backends; skip = 1; next }
    /# END BACKENDS/   { skip = 0 }
    skip { next }
    /# LISTEN/ { sub(/listen [^;]*;/, "listen " listen ";") }
    /# STATIC/ && static != "" { sub(/root [^;]*;/, "root " static ";") }
    { print }
' "$ROOT/deploy/nginx.conf" >"$CONF"
[ -n "$STATIC" ] && [ -f "$STATIC/index.html" ] || echo "streamlit's static folder not found: nginx will not serve the frontend" >&2

for i in $(seq 0 $((PROCESSES - 1))); do
    port=$((BASE_PORT + i))
    for _ in $(seq 240); do
        curl -fs "http://127.0.0.1:$port/_stcore/health" >/dev/null 2>&1 && break
        kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "streamlit on $port exited:" >&2; tail -20 "$WORK/logs/streamlit-$port.log" >&2; exit 1; }
        sleep 0.5
    done
done

"$NGINX" -t -q -c "$CONF" -p "$WORK" 2>&1 | grep -v "could not open error log" >&2 || true
"$NGINX" -c "$CONF" -p "$WORK" &
PIDS+=($!)
echo "minigpt: $PROCESSES streamlit processes on ports $BASE_PORT..$((BASE_PORT + PROCESSES - 1)), nginx on http://$LISTEN (logs in $WORK/logs)"
# Stop everything when any process dies (a crashed backend should not go unnoticed).
wait -n
echo "a process exited; stopping the cluster" >&2
exit 1
