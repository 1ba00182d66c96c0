#!/usr/bin/env bash
# What Redis, and keys + limits + usage recording, each add per request (issues 3 and 4), against the direct path.
# Usage: bench/overhead.sh [--repeats N]        (about 3 minutes)
source "$(dirname "$0")/common.sh"
exec taskset -c 0 dotnet "$BENCH_DLL" overhead "$@"
