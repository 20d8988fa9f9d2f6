#!/usr/bin/env bash
# End-to-end tests: the example Lambda handlers (examples/python, examples/node) run in child
# processes against a Lambda Runtime API served by the tests on 127.0.0.1, several invocations,
# the process frozen with SIGSTOP between invocations and thawed with SIGCONT.
#
#   Python: under AWS's runtime interface client `awslambdaric` (PyPI), tests/e2e/test_python_runtime.py
#   Node:   under tests/e2e/node_bootstrap.js (a minimal runtime loop) and under AWS's runtime
#           interface client `aws-lambda-ric` (npm), tests/e2e/test_node_runtime.mjs
#
# Run from anywhere, after the faces are built:
#   bash bindings-python/test.sh   # bindings-python/.venv with lanepool installed
#   bash bindings-node/test.sh     # bindings-node/*.node
#   bash tests/e2e/run.sh
# scripts/test does exactly that. This script installs awslambdaric (and pytest) into
# bindings-python/.venv when missing; awslambdaric ships manylinux wheels, and where pip has to
# build it from source instead, the Debian packages it needs are installed with apt-get (as root).
#
# aws-lambda-ric builds native code (curl, aws-lambda-cpp) when npm installs it: this script
# installs it into tests/e2e/.node-ric (git-ignored) when missing, after installing the Debian
# packages the build needs (cmake autoconf automake libtool g++ make libcurl4-openssl-dev) with
# apt-get as root, or through sudo. A failed install fails the Node suite (the bootstrap tests
# still run).
#
# Knobs: LANEPOOL_E2E_PYTHON=/path/to/python (default bindings-python/.venv/bin/python);
#        LANEPOOL_E2E_NODE_PATH=dir holding lanepool/ (default: a temporary copy of bindings-node);
#        LANEPOOL_E2E_NODE_RIC=dir holding node_modules/aws-lambda-ric (default tests/e2e/.node-ric);
#        LANEPOOL_E2E_ONLY=python|node to run one suite.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY="${LANEPOOL_E2E_PYTHON:-bindings-python/.venv/bin/python}"
ONLY="${LANEPOOL_E2E_ONLY:-}"
AWSLAMBDARIC_SPEC='awslambdaric>=3,<5'
status=0

step() { printf '\n==> e2e: %s\n' "$*"; }

step "sample events are what examples/events/generate.py produces"
python3 examples/events/generate.py --check

install_awslambdaric() {
  if "$PY" -m pip install --quiet --disable-pip-version-check --only-binary awslambdaric "$AWSLAMBDARIC_SPEC"; then
    return 0
  fi
  echo "no awslambdaric wheel for this platform: building it from source" >&2
  local pkgs=(g++ make cmake unzip autoconf automake libtool libcurl4-openssl-dev) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
      echo "awslambdaric needs these packages to build: ${missing[*]} (install them, or run as root)" >&2
    fi
  fi
  "$PY" -m pip install --quiet --disable-pip-version-check "$AWSLAMBDARIC_SPEC"
}

NODE_RIC_DIR="${LANEPOOL_E2E_NODE_RIC:-tests/e2e/.node-ric}"
AWS_LAMBDA_RIC_NPM_SPEC='aws-lambda-ric@^3'

# Debian packages aws-lambda-ric's native build needs: apt-get as root, else sudo (no
# `apt-get update` unless the install fails without it).
install_ric_build_deps() {
  local pkgs=(cmake autoconf automake libtool g++ make libcurl4-openssl-dev) missing=() p sudo=()
  for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "aws-lambda-ric needs: ${missing[*]} (no apt-get here)" >&2; return 1; }
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "aws-lambda-ric needs: ${missing[*]} (not root, no sudo)" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "installing ${missing[*]} (for aws-lambda-ric's native build)"
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}")
  "${apt[@]}" || { "${sudo[@]}" apt-get update -qq && "${apt[@]}"; }
}

install_node_ric() {
  local start=$SECONDS
  install_ric_build_deps || return 1
  mkdir -p "$NODE_RIC_DIR"
  (cd "$NODE_RIC_DIR" && npm install --no-audit --no-fund --no-save --prefix . "$AWS_LAMBDA_RIC_NPM_SPEC") || return 1
  echo "aws-lambda-ric installed into $NODE_RIC_DIR in $((SECONDS - start)) s"
}

# A face that is not in the tree yet (no test.sh) is skipped, loudly; one that is must be built.
if [ -z "$ONLY" ] && [ ! -f bindings-python/test.sh ] && [ -z "${LANEPOOL_E2E_PYTHON:-}" ]; then
  step "Python: SKIPPED (bindings-python/test.sh does not exist yet)"
elif [ -z "$ONLY" ] || [ "$ONLY" = python ]; then
  step "Python: examples/python/handler.py under awslambdaric"
  if [ ! -x "$PY" ] || ! "$PY" -c 'import lanepool' 2>/dev/null; then
    echo "lanepool is not importable by $PY: run 'bash bindings-python/test.sh' first" >&2
    exit 1
  fi
  "$PY" -c 'import awslambdaric' 2>/dev/null || install_awslambdaric
  "$PY" -c 'import pytest' 2>/dev/null || "$PY" -m pip install --quiet --disable-pip-version-check pytest
  LANEPOOL_E2E_REQUIRE_RIC=1 "$PY" -m pytest -q -p no:cacheprovider tests/e2e/test_python_runtime.py || status=1
fi

if [ -z "$ONLY" ] && [ ! -f bindings-node/test.sh ] && [ -z "${LANEPOOL_E2E_NODE_PATH:-}" ]; then
  step "Node: SKIPPED (bindings-node/test.sh does not exist yet)"
elif [ -z "$ONLY" ] || [ "$ONLY" = node ]; then
  step "Node: examples/node/handler.js under tests/e2e/node_bootstrap.js and aws-lambda-ric"
  if [ -z "${LANEPOOL_E2E_NODE_PATH:-}" ] && ! compgen -G 'bindings-node/*.node' >/dev/null; then
    echo "bindings-node has no built addon: run 'bash bindings-node/test.sh' first" >&2
    exit 1
  fi
  require_ric=1
  if [ ! -f "$NODE_RIC_DIR/node_modules/aws-lambda-ric/bin/index.mjs" ] && ! install_node_ric; then
    echo "e2e: could not install aws-lambda-ric: its tests are skipped and the Node suite fails" >&2
    require_ric=0
    status=1
  fi
  LANEPOOL_E2E_NODE_RIC="$NODE_RIC_DIR" LANEPOOL_E2E_REQUIRE_RIC="$require_ric" \
    node --test tests/e2e/test_node_runtime.mjs || status=1
fi

if [ "$status" != 0 ]; then
  echo "e2e: FAILED" >&2
fi
exit "$status"
