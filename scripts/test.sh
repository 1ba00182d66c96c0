#!/usr/bin/env bash
# Runs every test: builds the solution, then the xunit suite (unit tests, and integration tests over real loopback
# sockets against the Ollama simulator, a private redis-server and a private PostgreSQL that the tests start).
# Installs redis-server and postgresql from Debian if they are missing (needs root, as on CI).
# Usage: scripts/test.sh [extra dotnet test arguments]
# A failed run ends with the failed tests' names and messages, so the last lines of the log say what broke.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

scripts/install-services.sh

dotnet restore LlmRouter.sln
dotnet build LlmRouter.sln -c Release --no-restore -warnaserror

results=$(mktemp -d)
status=0
dotnet test tests/LlmRouter.Tests -c Release --no-build --logger "console;verbosity=normal" \
    --logger "trx;LogFileName=tests.trx" --results-directory "$results" "$@" || status=$?
if [ "$status" -ne 0 ] && [ -f "$results/tests.trx" ]; then
    echo
    echo "===== failed tests ====="
    # Each failed result: its name, the first lines of its message, then its first frames in the project's own code.
    awk '/<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); print "FAILED " substr($0, RSTART + 10, RLENGTH - 11); want = 1; instack = 0; prev = ""; next }
         want && /<Message>/ { inmsg = 1; n = 0 }
         inmsg { line = $0; sub(/.*<Message>/, "", line); last = sub(/<\/Message>.*/, "", line); print "    " line
                 if (last || ++n >= 8) { inmsg = 0; want = 0; instack = 1; frames = 0 }
                 next }
         instack && / at LlmRouter\./ { line = $0; sub(/.*<StackTrace>/, "", line); sub(/^ +/, "", line); if (line == prev) next; prev = line; print "      " line
                                        if (++frames >= 4) instack = 0 }
         instack && /<\/StackTrace>/ { instack = 0 }' "$results/tests.trx"
fi
exit "$status"
