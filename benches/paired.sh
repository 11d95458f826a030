#!/usr/bin/env bash
# Wall-time ratio of two logscrub builds on one input, robust to a noisy
# shared machine: the two run back to back (their order alternating), RUNS
# times, and the median of the per-pair ratios NEW/BASE is reported with
# each build's median time. Pairs cancel the drift of the machine's load,
# which medians of separate series do not.
#
#     bash benches/paired.sh FILE RUNS BASE_BINARY NEW_BINARY
#     THREADS=2 bash benches/paired.sh target/bench/corpus-100m.log 15 ./old ./target/release/logscrub
#
# Each run is `BINARY --threads $THREADS < FILE > /dev/null` (THREADS
# defaults to 1).

set -euo pipefail
if (($# != 4)); then
    echo "usage: $0 FILE RUNS BASE_BINARY NEW_BINARY" >&2
    exit 2
fi
file=$1 runs=$2 base=$3 new=$4
threads=${THREADS:-1}
ratios=() base_ns=() new_ns=()
run() { # run BINARY -> nanoseconds
    local start end
    start=$(date +%s%N)
    "$1" --threads "$threads" < "$file" > /dev/null
    end=$(date +%s%N)
    echo $((end - start))
}
for ((i = 1; i <= runs; i++)); do
    if ((i % 2)); then
        b=$(run "$base")
        n=$(run "$new")
    else
        n=$(run "$new")
        b=$(run "$base")
    fi
    base_ns+=("$b") new_ns+=("$n")
    ratios+=("$(awk -v n="$n" -v b="$b" 'BEGIN { printf "%.4f", n / b }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "base $(($(median "${base_ns[@]}") / 1000000)) ms, new $(($(median "${new_ns[@]}") / 1000000)) ms, median ratio new/base $(median "${ratios[@]}") ($runs pairs, $threads thread(s))"
