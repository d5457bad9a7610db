#!/usr/bin/env bash
# Build the in-browser demo's JavaScript: ONNX Runtime Web from the npm registry (pinned by web/package-lock.json),
# copied into the Python package so `crossrank demo` and `pip install` users need no node. Nothing is fetched
# from a CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix web --no-audit --no-fund --silent
dist=web/node_modules/onnxruntime-web/dist
vendor=src/crossrank/web/static/vendor
tmp=$(mktemp -d "$vendor.XXXXXX" 2>/dev/null || mktemp -d)
for f in ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm; do
  cp "$dist/$f" "$tmp/$f"
done
version=$(node -p "require('./web/node_modules/onnxruntime-web/package.json').version")
cat > "$tmp/LICENSES.txt" <<NOTICE
Bundled in crossrank's browser demo (copied from the npm registry by scripts/build_web.sh):

onnxruntime-web $version (ort.wasm.min.mjs, ort-wasm-simd-threaded.mjs, ort-wasm-simd-threaded.wasm)
  License: MIT, Copyright (c) Microsoft Corporation. https://github.com/microsoft/onnxruntime
  It bundles onnxruntime-common (MIT, Microsoft); the WebAssembly build of ONNX Runtime carries the
  third-party notices listed at https://github.com/microsoft/onnxruntime/blob/main/ThirdPartyNotices.txt
NOTICE
chmod 755 "$tmp"
rm -rf "$vendor"
mv "$tmp" "$vendor"
echo "built $vendor (onnxruntime-web $version)"
