#!/usr/bin/env bash
# How logscrub's cost grows with the number of rules and with the density of
# secrets, plus start-up time and peak RSS. Whole processes, one scrubbing
# thread (`--threads 1`), stdin from a file, stdout to /dev/null.
#
# Rows (each run RUNS times, interleaved round by round with `cat FILE | cat`
# on the same file, so noise on this shared machine spreads over all rows):
#
#   rules:   the default catalog (218 rules in patterns/ when written, 215
#            enabled), +102 generated user rules (×4 the 34 rules of the first
#            catalog, as the first measurements named them) and
#            ×16 (+510), loaded with --patterns, on the standard corpus
#            (1 line in 200 with a secret);
#   density: default rules on corpora with no secret, 1 line in 200, and a
#            secret on every line (benches/corpus.py --inject-every 0|200|1).
#
# Reports medians in MB/s (10^6 bytes), the ratio to the median of
# `cat FILE | cat` on the same file in the same run, the median peak RSS
# (/usr/bin/time -f %M), and the median start-up time of 20 runs of
# `logscrub < /dev/null` per rule set.
#
#     bash benches/scaling.sh            # 50 MiB corpora, 5 runs
#     RUNS=7 bash benches/scaling.sh 100
#
# The user rules come from benches/user_rules.py (fixed seed): literal-
# prefixed ids, keyword=value pairs and fixed-layout internal numbers.

set -euo pipefail

SIZE_MB=${1:-50}
RUNS=${RUNS:-5}
STARTUP_RUNS=${STARTUP_RUNS:-20}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
BENCH_DIR=${BENCH_DIR:-$TARGET/bench}
mkdir -p "$BENCH_DIR"

echo "building: cargo build --release" >&2
(cd "$REPO" && cargo build --release --quiet)
BIN=$TARGET/release/logscrub

corpus() { # corpus INJECT_EVERY -> path
    local f=$BENCH_DIR/scaling-${SIZE_MB}m-i$1.log
    if [[ ! -s $f || $REPO/benches/corpus.py -nt $f ]]; then
        echo "generating: python3 benches/corpus.py --size ${SIZE_MB}M --inject-every $1 --out $f" >&2
        python3 "$REPO/benches/corpus.py" --size "${SIZE_MB}M" --inject-every "$1" --out "$f" 2> /dev/null
    fi
    echo "$f"
}
C0=$(corpus 0)
C200=$(corpus 200)
C1=$(corpus 1)
U4=$BENCH_DIR/user-rules-102.toml
U16=$BENCH_DIR/user-rules-510.toml
python3 "$REPO/benches/user_rules.py" 102 > "$U4"
python3 "$REPO/benches/user_rules.py" 510 > "$U16"
"$BIN" --patterns "$U16" < /dev/null > /dev/null # the rules load

NAMES=() INPUTS=() CMDS=()
add() { NAMES+=("$1"); INPUTS+=("$2"); CMDS+=("$3"); }
add "cat | cat (no secrets)" "$C0" 'cat "$in" | cat > /dev/null'
add "cat | cat (1 in 200)" "$C200" 'cat "$in" | cat > /dev/null'
add "cat | cat (every line)" "$C1" 'cat "$in" | cat > /dev/null'
add "default rules, 1 in 200" "$C200" '"$BIN" --threads 1 < "$in" > /dev/null'
add "default + 102 user rules, 1 in 200" "$C200" '"$BIN" --threads 1 --patterns "$U4" < "$in" > /dev/null'
add "default + 510 user rules, 1 in 200" "$C200" '"$BIN" --threads 1 --patterns "$U16" < "$in" > /dev/null'
add "default rules, no secrets" "$C0" '"$BIN" --threads 1 < "$in" > /dev/null'
add "default rules, every line" "$C1" '"$BIN" --threads 1 < "$in" > /dev/null'

TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
for ((r = 1; r <= RUNS; r++)); do
    echo "round $r/$RUNS" >&2
    for i in "${!NAMES[@]}"; do
        in=${INPUTS[$i]}
        t0=$(date +%s%N)
        rss=$( { /usr/bin/time -f %M bash -c "in=\"$in\"; BIN=\"$BIN\"; U4=\"$U4\"; U16=\"$U16\"; ${CMDS[$i]}" ; } 2>&1 >/dev/null | tail -1)
        t1=$(date +%s%N)
        echo "$i $((t1 - t0)) $rss" >> "$TIMES"
    done
done

STARTUP=$(mktemp)
for set in default x4 x16; do
    case $set in
    default) args=() ;;
    x4) args=(--patterns "$U4") ;;
    x16) args=(--patterns "$U16") ;;
    esac
    for ((r = 1; r <= STARTUP_RUNS; r++)); do
        t0=$(date +%s%N)
        rss=$( { /usr/bin/time -f %M "$BIN" "${args[@]}" < /dev/null > /dev/null; } 2>&1 | tail -1)
        t1=$(date +%s%N)
        echo "$set $((t1 - t0)) $rss" >> "$STARTUP"
    done
done

python3 - "$TIMES" "$STARTUP" "${NAMES[@]}" -- "${INPUTS[@]}" <<'PY'
import os, statistics, sys
times_f, startup_f = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
sep = rest.index("--")
names, inputs = rest[:sep], rest[sep + 1:]
runs = {i: [] for i in range(len(names))}
for line in open(times_f):
    i, ns, rss = line.split()
    runs[int(i)].append((int(ns), int(rss)))
med = {}
for i, rs in runs.items():
    mb = os.path.getsize(inputs[i]) / 1e6
    med[i] = (mb / (statistics.median(t for t, _ in rs) / 1e9), statistics.median(m for _, m in rs), len(rs))
cat = {inputs[i]: med[i][0] for i in med if names[i].startswith("cat")}
base = None
print("| row | input | median MB/s | ratio vs `cat \\| cat` (same file) | vs default rules | peak RSS (median) | runs |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for i in range(len(names)):
    m, rss, k = med[i]
    if names[i].startswith("default rules, 1 in 200"):
        base = m
    rel = "%.2f" % (m / base) if base and not names[i].startswith("cat") else ""
    print("| %s | %s | %.1f | %.3f | %s | %.1f MB | %d |" % (names[i].replace("|", "\\|"), os.path.basename(inputs[i]), m,
          m / cat[inputs[i]], rel, rss / 1000, k))
print()
st = {}
for line in open(startup_f):
    s, ns, rss = line.split()
    st.setdefault(s, []).append((int(ns), int(rss)))
print("| rule set | start-up, median of %d (`logscrub < /dev/null`) | min | peak RSS |" % len(st["default"]))
print("| --- | ---: | ---: | ---: |")
for s in ["default", "x4", "x16"]:
    v = st[s]
    print("| %s | %.1f ms | %.1f ms | %.1f MB |" % (s, statistics.median(t for t, _ in v) / 1e6,
          min(t for t, _ in v) / 1e6, statistics.median(m for _, m in v) / 1000))
PY
