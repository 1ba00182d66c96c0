#!/usr/bin/env bash
# Runs every test: builds the solution, then the xunit suite (unit tests, and integration tests over real loopback
# sockets against the Ollama simulator, a private redis-server and a private PostgreSQL that the tests start).
# Installs redis-server and postgresql from Debian if they are missing (needs root, as on CI).
# Usage: scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

scripts/install-services.sh

dotnet restore LlmRouter.sln
dotnet build LlmRouter.sln -c Release --no-restore -warnaserror
dotnet test tests/LlmRouter.Tests -c Release --no-build --logger "console;verbosity=normal" "$@"
