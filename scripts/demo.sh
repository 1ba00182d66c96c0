#!/usr/bin/env bash
# Brings up a local demo: two Ollama simulators (ports 11434 and 11435; a real Ollama already on 11434 is used instead
# of the first) and the router on 127.0.0.1:4000 (LLMROUTER_URLS to change it) with the shipped config.yaml. Then, in another terminal:
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

taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Streams a token every 50 ms so streaming is visible in a terminal. 11434 is Ollama's own port: a real Ollama already
# there is used instead of the first simulator (config.yaml points at it either way).
if taken 11434; then
  if curl -fsS -m 2 http://127.0.0.1:11434/ 2>/dev/null | grep -q "Ollama is running"; then
    echo "demo: an Ollama already runs on 11434; using it instead of the first simulator" >&2
  else
    echo "demo: port 11434 is taken by something that is not Ollama; free it (config.yaml points there)" >&2
    exit 1
  fi
else
  dotnet "$sim" --port 11434 --models llama3.1:8b,qwen2.5-coder:14b,nomic-embed-text --tokens 24 --token-interval-ms 50 &
  pids+=($!)
fi
if taken 11435; then
  echo "demo: port 11435 is taken; free it (config.yaml points the second \"chat\" backend there)" >&2
  exit 1
fi
dotnet "$sim" --port 11435 --models llama3.1:8b --tokens 24 --token-interval-ms 50 &
pids+=($!)
dotnet "$router" --config config.yaml --urls "${LLMROUTER_URLS:-http://127.0.0.1:4000}" &
pids+=($!)
wait -n "${pids[@]}"
