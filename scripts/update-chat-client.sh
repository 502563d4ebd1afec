#!/usr/bin/env bash
# Builds the TypeScript package (clients/ts) and copies its ES modules to the
# chat example's page (examples/chat/web/zocket-rs/), which serves them so that
# `cargo run --example chat` needs no npm step. tests/typescript.rs checks that
# the copy is the build.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd clients/ts && npm install --silent --no-audit --no-fund && node node_modules/typescript/bin/tsc -p .)
mkdir -p examples/chat/web/zocket-rs
cp clients/ts/dist/index.js clients/ts/dist/client.js clients/ts/dist/types.js examples/chat/web/zocket-rs/
echo "copied to examples/chat/web/zocket-rs/"
