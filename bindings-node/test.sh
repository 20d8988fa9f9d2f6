#!/usr/bin/env bash
# Node face: installs the package's tools locally (node_modules), builds the native addon in
# release mode, type-checks index.d.ts and runs the node:test suite. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

echo "==> npm: local install"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

echo "==> addon: cargo build --release"
node build.js

echo "==> types: tsc --noEmit (index.d.ts with @types/aws-lambda)"
node node_modules/typescript/bin/tsc -p test/types/tsconfig.json

echo "==> node --test"
node --test test/*.test.js test/*.test.mjs
