# Shared by bench/run.sh and bench/soak.sh: install what is missing, build in Release, raise the file limit.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ "$(nproc --all)" -lt 2 ]; then
  echo "the bench needs 2 CPUs: the proxy under test on CPU 1, everything else on CPU 0" >&2
  exit 1
fi
command -v dotnet >/dev/null 2>&1 || { echo "the .NET 10 SDK is required (https://dot.net)" >&2; exit 1; }

# redis-server and postgresql, plus nginx (static backend and the proxy compared against), wrk, redis-cli and psql.
scripts/install-services.sh nginx wrk redis-tools postgresql-client

echo "building in Release ..." >&2
for project in src/LlmRouter tests/OllamaSimulator bench/LlmRouter.Bench; do
  dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly
done

# A thousand streams through a proxy hold two sockets each, on top of the client's own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

BENCH_DLL=bench/LlmRouter.Bench/bin/Release/net10.0/LlmRouter.Bench.dll
