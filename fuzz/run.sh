#!/usr/bin/env bash
# Builds every cargo-fuzz target of logscrub and runs each for N seconds
# (first argument, default 30). Called by CI; works on a stable toolchain:
# `-s none` (no sanitizer) avoids the nightly-only -Zsanitizer flags.
#
#   bash fuzz/run.sh        # 30 s per target
#   bash fuzz/run.sh 3600   # an hour per target
#
# Exits non-zero when a target finds a crash; the input that triggered it is
# left in fuzz/artifacts/<target>/ (reproduce with
# `cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>`).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 64
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# libfuzzer-sys builds libFuzzer's C++ sources: it needs a C++ compiler.
if ! command -v c++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
  echo "== installing a C++ compiler for libFuzzer"
  apt-get update -qq && apt-get install -y -qq g++
fi

echo "== cargo fuzz build (-s none, release)"
cargo fuzz build -s none

status=0
for target in $(cargo fuzz list); do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "corpus/$target"
  # -rss_limit_mb: the process, not one input, is bounded; -max_len keeps
  # inputs at log-line scale; -print_final_stats reports the exec count.
  # FUZZ_RUNS (with FUZZ_SEED) makes a run reproducible: a fixed number of
  # inputs from a fixed seed instead of a time budget. CI uses it, so that
  # CI's verdict does not depend on how fast the machine is.
  if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
  else
    budget=(-max_total_time="$seconds")
  fi
  if ! cargo fuzz run -s none "$target" "corpus/$target" -- \
      "${budget[@]}" -max_len=4096 -rss_limit_mb=2048 \
      -print_final_stats=1; then
    echo "!! $target failed: see fuzz/artifacts/$target/" >&2
    status=1
  fi
done
exit "$status"
