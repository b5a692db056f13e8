# shellcheck shell=bash
# Sourced by the benchmarks' scripts. `bench_build REPO CARGO-ARGS...` builds with cargo in
# the profile BENCH_PROFILE names and prints the directory of its binaries:
#   release (default)  the figures: optimised, as shipped;
#   dev                a check that every peer still starts and answers (CI's
#                      `BENCH_PROFILE=dev scripts/bench --short`): reuses the binaries the
#                      tests built, so it adds seconds, not the minutes of a release build;
#                      its figures are not comparable.
bench_build() {
    local repo=$1 target=${CARGO_TARGET_DIR:-$1/target}
    shift
    case ${BENCH_PROFILE:-release} in
        release) cargo build -q --release --manifest-path "$repo/Cargo.toml" "$@" >&2 && echo "$target/release" ;;
        dev) cargo build -q --manifest-path "$repo/Cargo.toml" "$@" >&2 && echo "$target/debug" ;;
        *) echo "BENCH_PROFILE must be release or dev, not ${BENCH_PROFILE}" >&2; return 2 ;;
    esac
}
