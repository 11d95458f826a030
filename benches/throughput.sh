#!/usr/bin/env bash
# Whole-process throughput of the logscrub binary, against `cat` and (when
# present) the simple redaction filters a user might write instead.
#
# What it measures: wall time of whole processes reading a generated log
# corpus on stdin and writing to /dev/null, RUNS times each (tools
# interleaved round by round, so noise on this shared machine spreads over
# all of them); it reports the MEDIAN in MB/s (MB = 10^6 bytes) and the ratio
# to `cat FILE | cat > /dev/null` measured in the same run, as a markdown
# table, plus logscrub's peak RSS (via /usr/bin/time -v, when installed).
#
# Rows: cat; a memchr line-copy program (examples/line_copy.rs: the floor
# of any line filter); logscrub (default options); with `--threads 1` and
# `--threads $(nproc)` when `logscrub --help` lists --threads; the
# detect-only scan (examples/detect_only.rs: the default catalog as one
# regex-automata multi-pattern regex, the reference of issue #18's
# targets); the same lines as CRI and Docker json-file store them
# (benches/wrap.py) through cat and logscrub; and, when the
# directory ../shared/bench/peers exists beside the repository (optional),
# the peers `python3 peers/python_filter.py`, `perl -p peers/perl_filter.pl`
# and `LC_ALL=C sed -E -f peers/sed_filter.sed`. The peers are slow, so they
# (and cat and logscrub again, for their ratios) run on a smaller slice of
# the corpus (PEER_MB, default 10 MiB; a prefix of the big corpus), as the
# table's input column says.
#
# The corpus comes from benches/corpus.py (deterministic; real loghub lines
# from tests/data/loghub, ~20% JSON lines, ~1 line in 200 with a secret) and
# is kept in target/bench/ for the next run.
#
# Run (from anywhere; uses only bash, python3 and coreutils):
#
#     bash benches/throughput.sh            # 100 MiB corpus, 5 runs
#     bash benches/throughput.sh 50         # 50 MiB corpus
#     RUNS=7 PEER_MB=5 bash benches/throughput.sh 200
#
# Environment: RUNS (default 5), PEER_MB (default 10), PEER_RUNS (default
# RUNS), BENCH_DIR (default target/bench), PEERS_DIR (default
# ../shared/bench/peers relative to the repository; set it empty to skip).

set -euo pipefail

SIZE_MB=${1:-100}
RUNS=${RUNS:-5}
PEER_MB=${PEER_MB:-10}
PEER_RUNS=${PEER_RUNS:-$RUNS}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$REPO/target/bench}
PEERS_DIR=${PEERS_DIR-$REPO/../shared/bench/peers}
NPROC=$(nproc)

case "$SIZE_MB$RUNS$PEER_MB$PEER_RUNS" in
*[!0-9]*) echo "usage: $0 [SIZE_MB]   (RUNS, PEER_MB, PEER_RUNS: integers)" >&2; exit 2 ;;
esac

# (a) the release binary
echo "building: cargo build --release (and --example line_copy)" >&2
(cd "$REPO" && cargo build --release --quiet &&
    cargo build --release --quiet --example line_copy --example detect_only)
BIN=$REPO/target/release/logscrub
LINE_COPY=$REPO/target/release/examples/line_copy
DETECT_ONLY=$REPO/target/release/examples/detect_only

# (b) the corpus (regenerated when missing or older than the generator)
mkdir -p "$BENCH_DIR"
corpus() { # corpus SIZE_MB -> path
    local f=$BENCH_DIR/corpus-${1}m.log
    if [[ ! -s $f || ! -s $f.manifest.json || $REPO/benches/corpus.py -nt $f ]]; then
        echo "generating: python3 benches/corpus.py --size ${1}M --out $f" >&2
        if ! python3 "$REPO/benches/corpus.py" --size "${1}M" --out "$f" 2> "$f.err"; then
            cat "$f.err" >&2
            exit 1
        fi
        rm -f "$f.err"
    fi
    echo "$f"
}
CORPUS=$(corpus "$SIZE_MB")
# The same lines as Docker's json-file driver and the CRI runtimes store
# them (benches/wrap.py), regenerated with the corpus.
wrapped() { # wrapped KIND -> path
    local f=${CORPUS%.log}-$1.log
    if [[ ! -s $f || $CORPUS -nt $f || $REPO/benches/wrap.py -nt $f ]]; then
        echo "wrapping: python3 benches/wrap.py $1 < $(basename "$CORPUS") > $(basename "$f")" >&2
        python3 "$REPO/benches/wrap.py" "$1" < "$CORPUS" > "$f"
    fi
    echo "$f"
}
CRI_CORPUS=$(wrapped cri)
DOCKER_CORPUS=$(wrapped docker)

HAVE_PEERS=0
if [[ -n $PEERS_DIR && -d $PEERS_DIR ]]; then
    PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
    HAVE_PEERS=1
    if ((PEER_MB == SIZE_MB)); then SLICE=$CORPUS; else SLICE=$(corpus "$PEER_MB"); fi
fi

# The rows: name, input file, runs, command (run with eval; FILE is "$in").
NAMES=() INPUTS=() NRUNS=() CMDS=()
add() { NAMES+=("$1"); INPUTS+=("$2"); NRUNS+=("$3"); CMDS+=("$4"); }

add_main_rows() { # add_main_rows FILE RUNS SUFFIX
    add "cat${3}" "$1" "$2" 'cat "$in" | cat > /dev/null'
    add "memchr line copy${3}" "$1" "$2" '"$LINE_COPY" < "$in" > /dev/null'
    add "logscrub${3}" "$1" "$2" '"$BIN" < "$in" > /dev/null'
    if [[ $HAVE_THREADS == 1 ]]; then
        add "logscrub --threads 1${3}" "$1" "$2" '"$BIN" --threads 1 < "$in" > /dev/null'
        add "logscrub --threads $NPROC${3}" "$1" "$2" "\"\$BIN\" --threads $NPROC < \"\$in\" > /dev/null"
    fi
}
HAVE_THREADS=0
help=$("$BIN" --help)
if [[ $help == *--threads* ]]; then HAVE_THREADS=1; fi
add_main_rows "$CORPUS" "$RUNS" ""
# The reference the throughput targets are stated against (issue #18): the
# default catalog as one regex-automata multi-pattern regex, detect only.
add "detect-only scan" "$CORPUS" "$RUNS" '"$DETECT_ONLY" < "$in" 2> /dev/null'
for kind in cri docker; do
    if [[ $kind == cri ]]; then in_f=$CRI_CORPUS; else in_f=$DOCKER_CORPUS; fi
    add "cat ($kind)" "$in_f" "$RUNS" 'cat "$in" | cat > /dev/null'
    if [[ $HAVE_THREADS == 1 ]]; then
        add "logscrub --threads 1 ($kind)" "$in_f" "$RUNS" '"$BIN" --threads 1 < "$in" > /dev/null'
        add "logscrub --threads $NPROC ($kind)" "$in_f" "$RUNS" "\"\$BIN\" --threads $NPROC < \"\$in\" > /dev/null"
    else
        add "logscrub ($kind)" "$in_f" "$RUNS" '"$BIN" < "$in" > /dev/null'
    fi
done
if [[ $HAVE_PEERS == 1 ]]; then
    add_main_rows "$SLICE" "$PEER_RUNS" " (slice)"
    add "python_filter.py" "$SLICE" "$PEER_RUNS" 'python3 "$PEERS_DIR/python_filter.py" < "$in" > /dev/null'
    add "perl_filter.pl" "$SLICE" "$PEER_RUNS" 'perl -p "$PEERS_DIR/perl_filter.pl" < "$in" > /dev/null'
    add "sed_filter.sed" "$SLICE" "$PEER_RUNS" 'LC_ALL=C sed -E -f "$PEERS_DIR/sed_filter.sed" < "$in" > /dev/null'
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TIMES=$TMP/times

# Warm the page cache, then check that logscrub really scrubs this corpus.
cat "$CORPUS" > /dev/null
[[ $HAVE_PEERS == 1 ]] && cat "$SLICE" > /dev/null
"$BIN" --stats < "$CORPUS" 2> "$TMP/stats" > "$TMP/scrubbed"
if [[ $(wc -l < "$TMP/scrubbed") != $(wc -l < "$CORPUS") ]]; then
    echo "logscrub changed the number of lines" >&2
    exit 1
fi
rm -f "$TMP/scrubbed"

# (c) the timed runs: round by round, every row once per round.
max_runs=$RUNS
((PEER_RUNS > max_runs)) && max_runs=$PEER_RUNS
: > "$TIMES"
for ((round = 1; round <= max_runs; round++)); do
    echo "round $round/$max_runs" >&2
    for i in "${!NAMES[@]}"; do
        ((round > NRUNS[i])) && continue
        in=${INPUTS[i]}
        start=$(date +%s%N)
        if eval "${CMDS[i]}"; then
            end=$(date +%s%N)
            echo "$i $((end - start))" >> "$TIMES"
        else
            echo "$i FAILED" >> "$TIMES"
            echo "failed: ${NAMES[i]}" >&2
        fi
    done
done

# Peak RSS of logscrub (one extra run each).
RSS=()
if [[ -x /usr/bin/time ]]; then
    rss_of() { # rss_of ARGS... -> kB
        /usr/bin/time -v "$BIN" "$@" < "$CORPUS" 2>&1 > /dev/null |
            sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p'
    }
    RSS+=("logscrub: $(rss_of) kB")
    if [[ $HAVE_THREADS == 1 ]]; then
        RSS+=("logscrub --threads 1: $(rss_of --threads 1) kB")
        RSS+=("logscrub --threads $NPROC: $(rss_of --threads "$NPROC") kB")
    fi
fi

# Commands as shown: paths relative to the repository, FILE for the input.
SHOWN=()
for i in "${!NAMES[@]}"; do
    c=${CMDS[i]//\"\$BIN\"/target/release/logscrub}
    c=${c//\"\$LINE_COPY\"/target/release/examples/line_copy}
    c=${c//\"\$DETECT_ONLY\"/target/release/examples/detect_only}
    c=${c//\"\$in\"/FILE}
    c=${c//\"\$PEERS_DIR\//peers/}
    c=${c//.py\"/.py}
    c=${c//.pl\"/.pl}
    c=${c//.sed\"/.sed}
    SHOWN+=("$c")
done

python3 - "$TIMES" "$CORPUS" "${SLICE:-}" "$TMP/stats" "$HAVE_PEERS" "$PEERS_DIR" \
    "${#NAMES[@]}" "${NAMES[@]}" "${INPUTS[@]}" "${SHOWN[@]}" "${RSS[@]+"${RSS[@]}"}" <<'EOF'
import json, os, statistics, sys

times_f, corpus, slice_f, stats_f, have_peers, peers_dir, n = sys.argv[1:8]
n = int(n)
rest = sys.argv[8:]
names, inputs, shown, rss = rest[:n], rest[n:2 * n], rest[2 * n:3 * n], rest[3 * n:]

runs = {i: [] for i in range(n)}
failed = set()
for line in open(times_f):
    i, t = line.split()
    if t == "FAILED":
        failed.add(int(i))
    else:
        runs[int(i)].append(int(t))

def label(path):
    return "%s (%.1f MiB)" % (os.path.basename(path), os.path.getsize(path) / 2**20)

med = {}
for i in range(n):
    if runs[i] and i not in failed:
        size = os.path.getsize(inputs[i]) / 1e6
        med[i] = (size / (statistics.median(runs[i]) / 1e9),
                  size / (max(runs[i]) / 1e9), size / (min(runs[i]) / 1e9), len(runs[i]))
cat_of = {}
for i in range(n):
    if names[i].startswith("cat") and i in med:
        cat_of[inputs[i]] = med[i][0]
detect = next((med[i][0] for i in range(n) if names[i] == "detect-only scan" and i in med), None)

print()
print("| tool | input | median MB/s | min–max MB/s | ratio vs cat | ratio vs detect-only | runs | command |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
for i in range(n):
    if i not in med:
        print("| %s | %s | failed | | | | | `%s` |"
              % (names[i], label(inputs[i]), shown[i].replace("|", "\\|")))
        continue
    m, lo, hi, k = med[i]
    shown[i] = shown[i].replace("|", "\\|")  # a pipe inside a table cell
    cat = cat_of.get(inputs[i])
    ratio = "%.3f" % (m / cat) if cat else "n/a"
    vs_detect = "%.2f" % (m / detect) if detect else "n/a"
    print("| %s | %s | %.1f | %.1f–%.1f | %s | %s | %d | `%s` |"
          % (names[i], label(inputs[i]), m, lo, hi, ratio, vs_detect, k, shown[i]))
print()
print("MB = 10^6 bytes; whole-process wall time, stdin from FILE, stdout to /dev/null;")
print("ratio = median MB/s over the median MB/s of `cat FILE | cat > /dev/null` on the same FILE;")
print("ratio vs detect-only = median MB/s over that of the detect-only scan of the plain corpus.")
if have_peers == "1":
    print("Peers (from %s) and the rows marked (slice) read the smaller slice %s;"
          % (peers_dir, label(slice_f)))
    print("the slice is a prefix of the same corpus.")
else:
    print("Peers: not run (no ../shared/bench/peers beside the repository; set PEERS_DIR).")
man = json.load(open(corpus + ".manifest.json"))
stats = open(stats_f).read().split("\n")[0]
print("Corpus: %d lines, %d JSON, %d non-ASCII, %d injected secrets (manifest); logscrub --stats: %s"
      % (man["lines"], man["json_lines"], man.get("non_ascii_lines", -1), man["injected"], stats))
if rss:
    print("Peak RSS (/usr/bin/time -v, %s): %s" % (label(corpus), "; ".join(rss)))
else:
    print("Peak RSS: /usr/bin/time not installed (apt-get install time)")
EOF
