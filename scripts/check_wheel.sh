#!/usr/bin/env bash
# Install the release wheel (scripts/release.sh) into a clean virtual environment, as a user would, and run the
# three things a user does first: rerank a file, serve and answer one request, write the browser demo.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=$(ls dist/crossrank-*.whl | head -1)
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel[server]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
cd "$work"  # away from the checkout: the installed package, not src/, answers
bin="$work/venv/bin"
export CROSSRANK_CACHE="$work/cache"
"$bin/crossrank" rerank -q "how do wings produce lift" -d "$OLDPWD/examples/passages.txt" --json --top-k 1 > rerank.json
"$bin/python" -c "import json; r = json.load(open('rerank.json'))['results']; assert len(r) == 1 and 0 < r[0]['score'] < 1"
port=$("$bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$bin/crossrank" serve --port "$port" 2> serve.log &
server=$!
for _ in $(seq 120); do
  if "$bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health')" 2>/dev/null; then break; fi
  sleep 0.5
done
"$bin/python" - "$port" <<'PY'
import json, sys, urllib.request

body = json.dumps({"query": "capital of France", "documents": ["Paris is the capital of France.", "Flour."]})
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v2/rerank", body.encode(),
                                 {"Content-Type": "application/json"})
results = json.load(urllib.request.urlopen(request))["results"]
assert [r["index"] for r in results] == [0, 1], results
PY
kill "$server"
"$bin/crossrank" demo --out site > demo.log
test -s site/vendor/ort-wasm-simd-threaded.wasm && test -s site/model.onnx && test -s site/first_pass.onnx
echo "check_wheel: $(basename "$wheel") installs cleanly; rerank, serve (one request) and demo --out work"
