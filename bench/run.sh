#!/usr/bin/env bash
# The benchmark in one command (phases 1-4 and 6 of issue 5; the soak is bench/soak.sh):
# builds in Release, starts a static nginx backend, the Ollama simulator, Redis and PostgreSQL on CPU 0 and LlmRouter
# and nginx (the proxy it is compared with) on CPU 1, all on loopback; measures direct, router and nginx paths in the
# same run with the same client; prints one table and writes it to bench/results/ as Markdown and JSON.
# Usage: bench/run.sh [--repeats N] [--phases 1,2,3,4,6] [--results DIR]        (about 10 minutes)
source "$(dirname "$0")/common.sh"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures are noisy while other work runs; ratios in one run still compare)" >&2
exec taskset -c 0 dotnet "$BENCH_DLL" suite "$@"
