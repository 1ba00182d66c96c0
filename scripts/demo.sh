#!/usr/bin/env bash
# Brings up a local demo: two Ollama simulators (ports 11434 and 11435) and the router on 127.0.0.1:4000
# with the shipped config.yaml. Then, in another terminal:
#   curl -N http://127.0.0.1:4000/v1/chat/completions -H 'Content-Type: application/json' \
#     -d '{"model":"chat","stream":true,"messages":[{"role":"user","content":"Hello"}]}'
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build LlmRouter.sln -c Release -v quiet -nologo

sim=tests/OllamaSimulator/bin/Release/net10.0/OllamaSimulator.dll
router=src/LlmRouter/bin/Release/net10.0/LlmRouter.dll
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

# Streams a token every 50 ms so streaming is visible in a terminal.
dotnet "$sim" --port 11434 --models llama3.1:8b,qwen2.5-coder:14b,nomic-embed-text --tokens 24 --token-interval-ms 50 &
pids+=($!)
dotnet "$sim" --port 11435 --models llama3.1:8b --tokens 24 --token-interval-ms 50 &
pids+=($!)
dotnet "$router" --config config.yaml --urls "${LLMROUTER_URLS:-http://127.0.0.1:4000}" &
pids+=($!)
wait -n "${pids[@]}"
