#!/usr/bin/env bash
# Phase 5 of issue 5: ten minutes of mixed traffic through LlmRouter (non-streamed at a fixed rate, open streams,
# clients hanging up, failing requests) and its resident memory at the end vs after a warm-up minute (bar: within 10%).
# Usage: bench/soak.sh [--minutes 10] [--rate 500] [--streams 64] [--results DIR]
source "$(dirname "$0")/common.sh"
exec taskset -c 0 dotnet "$BENCH_DLL" soak "$@"
