#!/usr/bin/env bash
# How far two scrubbing threads can go on this machine: one logscrub
# process with `--threads 2` against two `--threads 1` processes each given
# half of the file at once (no sharing at all between them), and `gzip -1`
# the same way as a check that the machine's two cores scale.
#
#     bash benches/threads_ceiling.sh FILE [RUNS] [BINARY]
#     bash benches/threads_ceiling.sh target/bench/corpus-100m.log 15 ./target/release/logscrub
#
# Each round runs, back to back: the binary with `--threads 1` over the
# whole file; two `--threads 1` processes over its halves (split at a line
# boundary) in parallel; the binary with `--threads 2` over the whole file;
# then gzip -1 over the whole file and over the halves in parallel. Reports
# the median wall time of each and the speed-ups over one thread (one gzip).

set -euo pipefail
if (($# < 1)); then
    echo "usage: $0 FILE [RUNS] [BINARY]" >&2
    exit 2
fi
file=$1 runs=${2:-15} bin=${3:-./target/release/logscrub}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
lines=$(wc -l < "$file")
head -n $((lines / 2)) "$file" > "$dir/a"
tail -n +$((lines / 2 + 1)) "$file" > "$dir/b"

ms() { # ms COMMAND... -> wall milliseconds
    local start end
    start=$(date +%s%N)
    "$@"
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
one() { "$bin" --threads 1 < "$file" > /dev/null; }
halves() {
    "$bin" --threads 1 < "$dir/a" > /dev/null &
    "$bin" --threads 1 < "$dir/b" > /dev/null
    wait
}
two() { "$bin" --threads 2 < "$file" > /dev/null; }
gzip_one() { gzip -1 -c < "$file" > /dev/null; }
gzip_halves() {
    gzip -1 -c < "$dir/a" > /dev/null &
    gzip -1 -c < "$dir/b" > /dev/null
    wait
}

t1=() th=() t2=() g1=() gh=()
for ((i = 1; i <= runs; i++)); do
    t1+=("$(ms one)") th+=("$(ms halves)") t2+=("$(ms two)")
    g1+=("$(ms gzip_one)") gh+=("$(ms gzip_halves)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
a=$(median "${t1[@]}") b=$(median "${th[@]}") c=$(median "${t2[@]}")
d=$(median "${g1[@]}") e=$(median "${gh[@]}")
echo "logscrub --threads 1, whole file:          $a ms"
echo "two --threads 1 processes, halves at once: $b ms ($(ratio "$a" "$b")x)"
echo "logscrub --threads 2, whole file:          $c ms ($(ratio "$a" "$c")x)"
echo "gzip -1 whole / halves at once:            $d / $e ms ($(ratio "$d" "$e")x)"
echo "($runs rounds, medians; $file)"
