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
#     /healthz and /readyz must answer 200 before app.log exists;
#   - the "application" (deploy/sidecar_e2e.py app) writes E2E_LINES numbered
#     lines with card numbers, Stripe keys and e-mails to app.log, some of
#     them in two writes (a block-buffered logger), and rotates the file as
#     the kubelet rotates container logs: at E2E_ROTATE_BYTES the live file
#     is renamed to app.log.<timestamp> and a few more lines still land in it
#     before the writer reopens app.log; older generations are gzipped (and
#     the uncompressed file deleted); at most E2E_MAX_FILES files are kept.
#     Rotated names have a one-second resolution, so there is at most one
#     rotation a second: the defaults give 7 rotations, 6 gzips and 3
#     deletions per scenario; fewer than one gzip and one deletion fails;
#   - then SIGTERM, as at pod deletion, and logscrub must exit 0 within its
#     --shutdown-timeout and leave its checkpoint.
#
# Scenarios (E2E_SCENARIOS, default "settled deletion restart rotated-restart"):
#   settled   after the application exits, wait until every line is out (or
#             the output stops growing for 3 s), then SIGTERM;
#   deletion  the application sends SIGTERM to logscrub right after its last
#             write (a burst of 2,000 lines), as the kubelet does with a native
#             sidecar once the application has exited, only sooner: the last
#             lines must still come out, so logscrub must read its inputs to
#             the end before it exits;
#   restart   once a third of the lines are written, the application sends
#             SIGTERM and goes on writing (without rotating) while logscrub
#             is started again with the same arguments (the kubelet
#             restarting the sidecar): it must resume from its checkpoint;
#             then as `settled`.
#   rotated-restart  the restart happens right after a
#             rotation's rename, before the writer's late lines land in the
#             renamed file and before it reopens app.log (a writer that
#             reopens lazily, or a sidecar restart inside the runtime's reopen
#             window): the restarted logscrub must read the late lines from
#             the renamed file, which its checkpoint names by inode.
#
# The output (logscrub's stdout, what the node's collector would read) must
# hold every line exactly once, in order, byte for byte the expected redacted
# line, with no raw secret. Each scenario ends with one line
#   RESULT <scenario> PASS|FAIL lines=… lost=… duplicated=… reordered=… …
# and the script exits non-zero if any scenario failed. About 25 s in all
# with the defaults (the rotations set the pace), for CI:
#
#   cargo build --release && bash deploy/sidecar-e2e.sh   # target/release/logscrub
#   LOGSCRUB=/path/to/logscrub E2E_SCENARIOS=deletion bash deploy/sidecar-e2e.sh
#   E2E_LINES=200000 E2E_ROTATE_BYTES=1048576 bash ...     # longer: 14 rotations
#   E2E_KEEP=1 ...                                         # keep the temporary directories
#
# Needs python3 with PyYAML (else it makes target/deploy-venv and installs
# PyYAML there from PyPI, as deploy/validate.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."

LOGSCRUB="${LOGSCRUB:-target/release/logscrub}"
LINES="${E2E_LINES:-50000}"
ROTATE_BYTES="${E2E_ROTATE_BYTES:-524288}"
MAX_FILES="${E2E_MAX_FILES:-5}"
SCENARIOS="${E2E_SCENARIOS:-settled deletion restart rotated-restart}"
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
    "$venv/bin/pip" install --quiet --disable-pip-version-check PyYAML==6.0.3
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

t_all=$(now)
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
help=$("$LOGSCRUB" --help 2>/dev/null || true)
for flag in "${probe_args[@]}"; do
  case "$flag" in
    --*)
      if ! grep -qE -- "^ +(-[a-zA-Z], )?$flag( |=|\$)" <<< "$help"; then
        echo "FAIL: $LOGSCRUB ($("$LOGSCRUB" --version)) has no $flag, which $MANIFEST uses"
        exit 1
      fi
      ;;
  esac
done
echo "logscrub: $("$LOGSCRUB" --version) at $LOGSCRUB"

# Starts logscrub with the manifest's arguments, and a watcher that records
# its peak RSS and exit time; sets $scrub_pid, $watch_pid and $watch_file.
start_logscrub() {
  local dir="$1"
  "$LOGSCRUB" "${ARGS[@]}" >> "$dir/stdout" 2>> "$dir/stderr" &
  scrub_pid=$!
  pids+=("$scrub_pid")
  starts=$(( starts + 1 ))
  watch_file="$dir/watch.$starts"
  "$PY" "$HELPER" watch "$scrub_pid" "$watch_file" &
  watch_pid=$!
  pids+=("$watch_pid")
}

# Sends SIGTERM (unless $1 is "already-sent": then $2 is when it was sent)
# and waits for the exit; sets $exit_code and $drain_secs (SIGTERM to exit)
# and raises $peak_kb.
stop_logscrub() {
  local budget=$(( SHUTDOWN_TIMEOUT + 5 )) t_term waited=0 peak exited
  if [ "${1:-}" = already-sent ]; then
    t_term="$2"
  else
    t_term=$(now)
    if ! kill -TERM "$scrub_pid" 2>/dev/null; then
      echo "FAIL: logscrub had exited before SIGTERM"
    fi
  fi
  while kill -0 "$scrub_pid" 2>/dev/null && [ "$waited" -lt $(( budget * 10 )) ]; do
    sleep 0.1
    waited=$(( waited + 1 ))
  done
  if kill -0 "$scrub_pid" 2>/dev/null; then
    echo "FAIL: logscrub still running ${budget} s after SIGTERM; killing it"
    kill -KILL "$scrub_pid" 2>/dev/null || true
  fi
  exit_code=0
  wait "$scrub_pid" || exit_code=$?
  wait "$watch_pid" || true
  read -r peak exited < "$watch_file" || { peak=0; exited=$(now); }
  if [ "$peak" -gt "$peak_kb" ]; then peak_kb=$peak; fi
  drain_secs=$(secs "$t_term" "$exited")
}

failed=()
results=()
for scenario in $SCENARIOS; do
  case "$scenario" in
    settled | deletion | restart | rotated-restart) ;;
    *) echo "FAIL: unknown scenario $scenario (settled, deletion, restart, rotated-restart)"; exit 1 ;;
  esac
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
  ok=1 starts=0 peak_kb=0 drains=() exit_code='?'
  t_start=$(now)
  start_logscrub "$dir"
  for _ in $(seq 100); do
    [ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] && break
    sleep 0.1
  done
  healthz=$(http_status "http://127.0.0.1:$port/healthz")
  readyz=$(http_status "http://127.0.0.1:$port/readyz")
  echo "before the application starts (no app.log yet): /healthz $healthz, /readyz $readyz"
  if [ "$healthz" != 200 ] || [ "$readyz" != 200 ]; then
    ok=0; echo "FAIL: /healthz and /readyz must answer 200 before app.log exists"
  fi

  # The application sends SIGTERM itself when the moment is its own.
  app_args=("$logdir" "$LINES" "$ROTATE_BYTES" "$MAX_FILES" "$dir")
  if [ "$scenario" != settled ]; then app_args+=("$scenario" "$scrub_pid"); fi
  "$PY" "$HELPER" app "${app_args[@]}" &
  app_pid=$!
  pids+=("$app_pid")
  t_app=$(now)

  if [ "$scenario" = restart ] || [ "$scenario" = rotated-restart ]; then
    while [ ! -e "$dir/term-at" ] && kill -0 "$app_pid" 2>/dev/null; do sleep 0.01; done
    if [ -e "$dir/term-at" ]; then
      read -r t_term at_line < "$dir/term-at"
      echo "$scenario: the application sent SIGTERM after line $at_line; $(lines_of "$dir/stdout") lines out"
      stop_logscrub already-sent "$t_term"
      drains+=("$drain_secs")
      checkpoint=$(tr -d ' \n' < "$logdir/.logscrub/checkpoint.json" 2>/dev/null || echo none)
      echo "$scenario: first logscrub exited with $exit_code after $drain_secs s, $(lines_of "$dir/stdout") lines out; checkpoint: ${checkpoint:0:400}"
      if [ "$exit_code" != 0 ]; then ok=0; echo "FAIL: exit code $exit_code on the restart's SIGTERM"; fi
      start_logscrub "$dir"
      # Up (and past its start-up scan) before the application goes on.
      for _ in $(seq 100); do
        [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ] && break
        sleep 0.1
      done
      sleep 0.2
      touch "$dir/restarted"
    else
      ok=0; echo "FAIL: the application exited without sending SIGTERM"
    fi
  fi

  app_rc=0
  wait "$app_pid" || app_rc=$?
  app_secs=$(secs "$t_app" "$(now)")
  if [ "$app_rc" != 0 ]; then ok=0; echo "FAIL: the application exited with $app_rc"; fi
  read -r rotations compressed deleted < "$dir/app-stats" || { rotations=0 compressed=0 deleted=0; }
  if [ "$compressed" -lt 1 ] || [ "$deleted" -lt 1 ]; then
    ok=0
    echo "FAIL: $rotations rotations, $compressed gzipped, $deleted deleted: too few to test rotation (raise E2E_LINES or lower E2E_ROTATE_BYTES)"
  fi

  if [ "$scenario" = deletion ]; then
    # The application sent SIGTERM right after its last write.
    t_term=$(now)
    if [ -e "$dir/term-at" ]; then read -r t_term _ < "$dir/term-at"; fi
    stop_logscrub already-sent "$t_term"
  else
    # Until every line is out, or the output has not grown for 3 s (at
    # most 60 s); then 0.5 s more for anything extra.
    last=-1 stable=0 waited=0
    while [ "$(lines_of "$dir/stdout")" -lt "$LINES" ] && [ "$stable" -lt 30 ] && [ "$waited" -lt 600 ]; do
      cur=$(size_of "$dir/stdout")
      if [ "$cur" = "$last" ]; then stable=$(( stable + 1 )); else stable=0; last=$cur; fi
      sleep 0.1
      waited=$(( waited + 1 ))
    done
    sleep 0.5
    echo "output settled at $(lines_of "$dir/stdout") lines, $(secs "$t_app" "$(now)") s after the application started; /readyz $(http_status "http://127.0.0.1:$port/readyz")"
    stop_logscrub
  fi
  drains+=("$drain_secs")
  total_secs=$(secs "$t_start" "$(now)")
  echo "SIGTERM: exit code $exit_code after $drain_secs s (--shutdown-timeout $SHUTDOWN_TIMEOUT); peak RSS ${peak_kb} kB"
  if [ "$exit_code" != 0 ]; then ok=0; echo "FAIL: exit code $exit_code, want 0"; fi
  if [ ! -s "$logdir/.logscrub/checkpoint.json" ]; then
    ok=0; echo "FAIL: no checkpoint at $logdir/.logscrub/checkpoint.json after shutdown"
  fi

  "$PY" "$HELPER" check "$dir/stdout" "$LINES" > "$dir/check" || ok=0
  cat "$dir/check"
  counts=$(sed -n 's/^counts: //p' "$dir/check")
  echo "seconds: application $app_secs, whole scenario $total_secs, drain ${drains[*]}"
  if [ -s "$dir/stderr" ]; then
    if [ "$ok" = 1 ]; then
      echo "logscrub stderr (last 10 lines):"
      tail -n 10 "$dir/stderr" | sed 's/^/  /'
    else
      echo "logscrub stderr (last 50 lines):"
      tail -n 50 "$dir/stderr" | sed 's/^/  /'
    fi
  fi
  verdict=PASS
  if [ "$ok" != 1 ]; then
    verdict=FAIL
    failed+=("$scenario")
    echo "(files in $dir: keep them with E2E_KEEP=1)"
  fi
  drain_list="${drains[*]}"
  result="RESULT $scenario $verdict lines=$LINES ${counts:-output=? lost=? duplicated=? reordered=?}"
  result+=" rotations=$rotations gzipped=$compressed deleted=$deleted starts=$starts exit=$exit_code"
  result+=" drain_s=${drain_list// /,} peak_rss_kb=$peak_kb secs=$total_secs"
  echo "$result"
  results+=("$result")
done

echo
echo "== summary"
printf '%s\n' "${results[@]}"
n=$(wc -w <<< "$SCENARIOS")
echo "sidecar e2e: $(( n - ${#failed[@]} )) passed, ${#failed[@]} failed in $(secs "$t_all" "$(now)") s"
[ "${#failed[@]}" -eq 0 ]
