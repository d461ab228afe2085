#!/usr/bin/env bash
# Builds the cargo-fuzz targets with the stable toolchain (plain cargo with
# the SanitizerCoverage flags cargo-fuzz would pass; no nightly, no
# cargo-fuzz needed) and runs each for a bounded time on the committed
# seeds. A crash fails the script; its input is left in fuzz/artifacts/.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60, all targets)
#
# With cargo-fuzz installed the same targets run with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none TARGET
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reply_parser extensions data_encoder client)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts (they must not be
# instrumented), as cargo-fuzz does.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --target "$host"
bin=$CARGO_TARGET_DIR/$host/release
mkdir -p artifacts
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "=== fuzzing $t for ${secs}s"
  status=0
  "$bin/$t" "corpus/$t" "seeds/$t" \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t-" -print_final_stats=1 >"artifacts/$t.log" 2>&1 || status=$?
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|panicked|SUMMARY" \
    "artifacts/$t.log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "artifacts/$t.log" >&2
    echo "fuzz target $t failed (exit $status); the input is in fuzz/artifacts/" >&2
    exit 1
  fi
done
