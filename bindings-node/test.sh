#!/usr/bin/env bash
# Node face: installs the package's tools locally (node_modules), builds the native addon in
# release mode, type-checks index.d.ts and the JavaScript sources and runs the node:test suite.
# Run from anywhere.
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

echo "==> types: tsc --noEmit (index.d.ts, powertools.d.ts and .d.mts with @types/aws-lambda and Powertools)"
# powertools.d.mts is powertools.d.ts under the name that makes TypeScript read Powertools' ES
# module types: the two must stay the same text.
cmp powertools.d.ts powertools.d.mts || { echo "powertools.d.mts differs from powertools.d.ts" >&2; exit 1; }
node node_modules/typescript/bin/tsc -p test/types/tsconfig.json

echo "==> JS: tsc --checkJs (strict, JSDoc types) over the package's .js/.mjs sources, tests and soak.mjs excluded (tsconfig.checkjs.json)"
node node_modules/typescript/bin/tsc -p tsconfig.checkjs.json

echo "==> node --test"
node --test test/*.test.js test/*.test.mjs
