#!/usr/bin/env bash
# Plays the sidecar pod of deploy/kubernetes/sidecar-native.yaml on this
# machine, without a cluster, and checks that no line is lost, duplicated,
# reordered or leaked:
#
#   - a temporary directory is the pod's emptyDir (empty at start);
#   - logscrub starts first (a native sidecar starts before the application)
#     with the EXACT arguments of the manifest's logscrub init container, read
#     from the YAML; only the volume's mountPath is replaced by the temporary
#     directory, and the --metrics-addr host by 127.0.0.1 and a free port;
#   - the "application" (deploy/sidecar_e2e.py app) writes E2E_LINES numbered
#     lines with card numbers, Stripe keys and e-mails to app.log, some of
#     them in two writes (a block-buffered logger), and rotates the file as
#     the kubelet rotates container logs: at E2E_ROTATE_BYTES the live file
#     is renamed to app.log.<timestamp> and a few more lines still land in it
#     before the writer reopens app.log; older generations are gzipped (and
#     the uncompressed file deleted); at most E2E_MAX_FILES files are kept;
#   - then SIGTERM, as at pod deletion, and logscrub must exit 0 in time.
#
# Scenarios (E2E_SCENARIOS, default all three):
#   settled   after the application exits, wait until the output stops
#             growing, then SIGTERM;
#   deletion  the application sends SIGTERM to logscrub right after its last
#             write (a burst of 2,000 lines), as the kubelet does with a native
#             sidecar once the application has exited, only sooner: the last
#             lines must still come out, so logscrub must read its inputs to
#             the end before it exits;
#   restart   SIGTERM once a third of the lines are out, start logscrub again
#             with the same arguments (the kubelet restarting the sidecar):
#             it must resume from its checkpoint, then as `settled`.
#
# The output (logscrub's stdout, what the node's collector would read) must
# hold every line exactly once, in order, byte for byte the expected redacted
# line, with no raw secret. Prints lines, lost, duplicated and seconds.
#
#   bash deploy/sidecar-e2e.sh                 # LOGSCRUB=target/release/logscrub
#   LOGSCRUB=/path/to/logscrub E2E_SCENARIOS=deletion bash deploy/sidecar-e2e.sh
#   E2E_KEEP=1 ...                             # keep the temporary directories
set -euo pipefail
cd "$(dirname "$0")/.."

LOGSCRUB="${LOGSCRUB:-target/release/logscrub}"
LINES="${E2E_LINES:-200000}"
ROTATE_BYTES="${E2E_ROTATE_BYTES:-1048576}"
MAX_FILES="${E2E_MAX_FILES:-5}"
SCENARIOS="${E2E_SCENARIOS:-settled deletion restart}"
MANIFEST="${E2E_MANIFEST:-deploy/kubernetes/sidecar-native.yaml}"
HELPER=deploy/sidecar_e2e.py

# A Python with PyYAML: the system one, else the validation venv.
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
  venv="${DEPLOY_VENV:-target/deploy-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -c 'import yaml' 2>/dev/null ||
    "$venv/bin/pip" install --quiet --disable-pip-version-check pyyaml
  PY="$venv/bin/python"
fi

pids=()
tmpdirs=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ "${E2E_KEEP:-0}" != 1 ]; then
    for d in "${tmpdirs[@]}"; do rm -rf "$d"; done
  fi
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_status() {
  "$PY" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("down")
EOF
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
lines_of() { wc -l < "$1" 2>/dev/null || echo 0; }

echo "== self-test: line generator and manifest arguments"
"$PY" "$HELPER" selftest
mapfile -t probe_args < <("$PY" "$HELPER" args "$MANIFEST" /POD 127.0.0.1:1)
echo "sidecar args from $MANIFEST: ${probe_args[*]}"
case " ${probe_args[*]} " in
  *" --input /POD/app.log "*"--follow "*) ;;
  *) echo "FAIL: the manifest's sidecar does not follow /var/log/app/app.log"; exit 1 ;;
esac

if [ ! -x "$LOGSCRUB" ]; then
  echo "FAIL: no logscrub binary at $LOGSCRUB (cargo build --release, or set LOGSCRUB)"
  exit 1
fi
if ! "$LOGSCRUB" --help 2>/dev/null | grep -q -- '--follow'; then
  echo "FAIL: $LOGSCRUB ($("$LOGSCRUB" --version)) has no --follow: the sidecar cannot run (issue #5)"
  exit 1
fi
echo "logscrub: $("$LOGSCRUB" --version) at $LOGSCRUB"

# Starts logscrub with the manifest's arguments; sets $scrub_pid.
start_logscrub() {
  local dir="$1"
  "$LOGSCRUB" "${ARGS[@]}" >> "$dir/stdout" 2>> "$dir/stderr" &
  scrub_pid=$!
  pids+=("$scrub_pid")
}

# Sends SIGTERM (unless $1 is "already-sent") and waits for the exit; sets
# $exit_code and $drain_secs.
stop_logscrub() {
  local budget=$(( SHUTDOWN_TIMEOUT + 5 )) t0 waited=0
  t0=$(now)
  if [ "${1:-}" != already-sent ]; then kill -TERM "$scrub_pid"; fi
  while kill -0 "$scrub_pid" 2>/dev/null && [ "$waited" -lt $(( budget * 10 )) ]; do
    sleep 0.1
    waited=$(( waited + 1 ))
  done
  if kill -0 "$scrub_pid" 2>/dev/null; then
    echo "FAIL: logscrub still running ${budget} s after SIGTERM; killing it"
    kill -KILL "$scrub_pid"
  fi
  exit_code=0
  wait "$scrub_pid" || exit_code=$?
  drain_secs=$(secs "$t0" "$(now)")
}

failed=()
for scenario in $SCENARIOS; do
  echo
  echo "== scenario: $scenario ($LINES lines, rotation at $ROTATE_BYTES bytes, $MAX_FILES files kept)"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/logscrub-e2e.XXXXXX")
  tmpdirs+=("$dir")
  logdir="$dir/var-log-app"   # the emptyDir
  mkdir "$logdir"
  port=$(free_port)
  mapfile -t ARGS < <("$PY" "$HELPER" args "$MANIFEST" "$logdir" "127.0.0.1:$port")
  SHUTDOWN_TIMEOUT=10
  for i in "${!ARGS[@]}"; do
    if [ "${ARGS[$i]}" = --shutdown-timeout ]; then SHUTDOWN_TIMEOUT="${ARGS[$((i + 1))]}"; fi
  done
  ok=1
  t_start=$(now)
  start_logscrub "$dir"
  for _ in $(seq 100); do
    [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] && break
    sleep 0.1
  done
  echo "before the application starts: /healthz $(http_status "http://127.0.0.1:$port/healthz"), /readyz $(http_status "http://127.0.0.1:$port/readyz") (no app.log yet)"

  term_pid=()
  if [ "$scenario" = deletion ]; then term_pid=("$scrub_pid"); fi
  "$PY" "$HELPER" app "$logdir" "$LINES" "$ROTATE_BYTES" "$MAX_FILES" "${term_pid[@]}" &
  app_pid=$!
  pids+=("$app_pid")
  t_app=$(now)

  if [ "$scenario" = restart ]; then
    while [ "$(lines_of "$dir/stdout")" -lt $(( LINES / 3 )) ] && kill -0 "$app_pid" 2>/dev/null; do
      sleep 0.05
    done
    echo "restart: SIGTERM at $(lines_of "$dir/stdout") output lines"
    stop_logscrub
    echo "restart: first logscrub exited with $exit_code after $drain_secs s; checkpoint: $(head -c 300 "$logdir/.logscrub/checkpoint.json" 2>/dev/null || echo none)"
    if [ "$exit_code" != 0 ]; then ok=0; echo "FAIL: exit code $exit_code on the restart's SIGTERM"; fi
    start_logscrub "$dir"
  fi

  app_rc=0
  wait "$app_pid" || app_rc=$?
  app_secs=$(secs "$t_app" "$(now)")
  if [ "$app_rc" != 0 ]; then ok=0; echo "FAIL: the application exited with $app_rc"; fi

  if [ "$scenario" != deletion ]; then
    # Until the output has not grown for 2 s (at most 120 s).
    last=-1 stable=0 waited=0
    while [ "$stable" -lt 20 ] && [ "$waited" -lt 1200 ]; do
      cur=$(size_of "$dir/stdout")
      if [ "$cur" = "$last" ]; then stable=$(( stable + 1 )); else stable=0; last=$cur; fi
      sleep 0.1
      waited=$(( waited + 1 ))
    done
    echo "output settled at $(lines_of "$dir/stdout") lines; /readyz $(http_status "http://127.0.0.1:$port/readyz")"
  fi
  rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$scrub_pid/status" 2>/dev/null || echo "?")
  if [ "$scenario" = deletion ]; then
    stop_logscrub already-sent  # the application sent it after its last write
  else
    stop_logscrub
  fi
  total_secs=$(secs "$t_start" "$(now)")
  echo "SIGTERM: exit code $exit_code after $drain_secs s (--shutdown-timeout $SHUTDOWN_TIMEOUT); peak RSS ${rss_kb} kB"
  if [ "$exit_code" != 0 ]; then ok=0; echo "FAIL: exit code $exit_code, want 0"; fi
  if [ ! -s "$logdir/.logscrub/checkpoint.json" ]; then
    ok=0; echo "FAIL: no checkpoint at $logdir/.logscrub/checkpoint.json after shutdown"
  fi

  "$PY" "$HELPER" check "$dir/stdout" "$LINES" || ok=0
  echo "seconds: application $app_secs, whole scenario $total_secs, drain $drain_secs"
  if [ -s "$dir/stderr" ]; then
    echo "logscrub stderr (last 10 lines):"
    tail -n 10 "$dir/stderr" | sed 's/^/  /'
  fi
  if [ "$ok" = 1 ]; then
    echo "PASS $scenario"
  else
    echo "FAIL $scenario (files in $dir with E2E_KEEP=1)"
    failed+=("$scenario")
  fi
done

echo
n=$(wc -w <<< "$SCENARIOS")
echo "sidecar e2e: $(( n - ${#failed[@]} )) passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
