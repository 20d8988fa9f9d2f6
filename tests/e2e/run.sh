#!/usr/bin/env bash
# End-to-end tests: the example Lambda handlers (examples/python, examples/node) run in child
# processes against a Lambda Runtime API served by the tests on 127.0.0.1, several invocations,
# the process frozen with SIGSTOP between invocations and thawed with SIGCONT.
#
#   Python:  under AWS's runtime interface client `awslambdaric` (PyPI), tests/e2e/test_python_runtime.py
#   Node:    under tests/e2e/node_bootstrap.js (a minimal runtime loop) and under AWS's runtime
#            interface client `aws-lambda-ric` (npm), tests/e2e/test_node_runtime.mjs, twice:
#            on the `node` on PATH with aws-lambda-ric 3.x (the client for Node 20), and on
#            Node 24 (scripts/node-versions puts it in .tools/node-24) with aws-lambda-ric 4.x,
#            which adds Lambda Managed Instances' multi-concurrent mode (worker threads, several
#            invocations at once in each).
#   Rust:    examples/rust's `lambda` binary (lambda_runtime's run_concurrent, its Lambda Managed
#            Instances mode), tests/e2e/test_rust_runtime.py; this script builds it (debug).
# Both Node suites talk to the Runtime API of tests/e2e/runtime_api.py, run as a child process.
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
# installs 3.x into tests/e2e/.node-ric and 4.x into tests/e2e/.node-ric4 (git-ignored; 4.x with
# npm run by Node 24, against its headers) when missing, after installing the Debian packages the
# build needs (cmake autoconf automake libtool g++ make libcurl4-openssl-dev) with apt-get as
# root, or through sudo. A failed install fails the Node suite (the bootstrap tests still run).
#
# Knobs: LANEPOOL_E2E_PYTHON=/path/to/python (default bindings-python/.venv/bin/python);
#        LANEPOOL_E2E_NODE_PATH=dir holding lanepool/ (default: a temporary copy of bindings-node);
#        LANEPOOL_E2E_NODE_RIC=dir holding node_modules/aws-lambda-ric (default tests/e2e/.node-ric);
#        LANEPOOL_E2E_NODE_RIC4=the same for 4.x (default tests/e2e/.node-ric4);
#        LANEPOOL_E2E_NODE24=/path/to/node of a Node 24 (default: scripts/node-versions 24);
#        LANEPOOL_E2E_ONLY=python|node|node24|rust to run one suite (node: the PATH's node only).
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
NODE_RIC4_DIR="${LANEPOOL_E2E_NODE_RIC4:-tests/e2e/.node-ric4}"

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

# install_node_ric <dir> <npm spec> [node]: npm (run by that node, building against its headers)
# installs the spec into <dir>/node_modules.
install_node_ric() {
  local dir="$1" spec="$2" node="${3:-}" start=$SECONDS env=()
  install_ric_build_deps || return 1
  if [ -n "$node" ]; then
    env=(env PATH="$(dirname "$node"):$PATH" npm_config_nodedir="$(dirname "$(dirname "$node")")")
  fi
  mkdir -p "$dir"
  (cd "$dir" && "${env[@]}" npm install --no-audit --no-fund --no-save --prefix . "$spec") || return 1
  echo "$spec installed into $dir in $((SECONDS - start)) s"
}
ric_installed() { # ric_installed <dir> <major>: that major is there, its native client built
  local pkg="$1/node_modules/aws-lambda-ric"
  [ -f "$pkg/package.json" ] && find "$pkg" -maxdepth 3 -name rapid-client.node | grep -q . \
    && python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["version"].split(".")[0] != sys.argv[2])' \
      "$pkg/package.json" "$2"
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
elif [ -z "$ONLY" ] || [ "$ONLY" = node ] || [ "$ONLY" = node24 ]; then
  if [ -z "${LANEPOOL_E2E_NODE_PATH:-}" ] && ! compgen -G 'bindings-node/*.node' >/dev/null; then
    echo "bindings-node has no built addon: run 'bash bindings-node/test.sh' first" >&2
    exit 1
  fi
  if [ "$ONLY" != node24 ]; then
    step "Node $(node --version): examples/node/handler.js under tests/e2e/node_bootstrap.js and aws-lambda-ric 3.x"
    require_ric=1
    if ! ric_installed "$NODE_RIC_DIR" 3 && ! install_node_ric "$NODE_RIC_DIR" 'aws-lambda-ric@^3'; then
      echo "e2e: could not install aws-lambda-ric 3.x: its tests are skipped and the Node suite fails" >&2
      require_ric=0
      status=1
    fi
    LANEPOOL_E2E_NODE_RIC="$NODE_RIC_DIR" LANEPOOL_E2E_REQUIRE_RIC="$require_ric" \
      node --test tests/e2e/test_node_runtime.mjs || status=1
  fi
  if [ "$ONLY" != node ]; then
    NODE24="${LANEPOOL_E2E_NODE24:-}"
    if [ -z "$NODE24" ] && ! NODE24="$(bash scripts/node-versions 24)"; then
      echo "e2e: could not install Node 24 (scripts/node-versions 24): the Node 24 suite fails" >&2
      status=1
    else
      step "Node $("$NODE24" --version): examples/node/handler.js under tests/e2e/node_bootstrap.js and aws-lambda-ric 4.x, one-at-a-time and multi-concurrent"
      require_ric=1
      if ! ric_installed "$NODE_RIC4_DIR" 4 && ! install_node_ric "$NODE_RIC4_DIR" 'aws-lambda-ric@^4' "$NODE24"; then
        echo "e2e: could not install aws-lambda-ric 4.x: its tests are skipped and the Node 24 suite fails" >&2
        require_ric=0
        status=1
      fi
      LANEPOOL_E2E_NODE_RIC="$NODE_RIC4_DIR" LANEPOOL_E2E_REQUIRE_RIC="$require_ric" LANEPOOL_E2E_REQUIRE_LMI="$require_ric" \
        "$NODE24" --test tests/e2e/test_node_runtime.mjs || status=1
    fi
  fi
fi

if [ -z "$ONLY" ] || [ "$ONLY" = rust ]; then
  step "Rust: examples/rust's lambda binary under lambda_runtime (run_concurrent), one at a time and with AWS_LAMBDA_MAX_CONCURRENCY=4"
  if [ ! -x "$PY" ]; then PY=python3; fi
  "$PY" -c 'import pytest' 2>/dev/null || "$PY" -m pip install --quiet --disable-pip-version-check pytest
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  if cargo build --quiet -p lanepool-example --bin lambda; then
    LANEPOOL_E2E_RUST_BIN="$target_dir/debug/lambda" LANEPOOL_E2E_REQUIRE_RUST=1 \
      "$PY" -m pytest -q -p no:cacheprovider tests/e2e/test_rust_runtime.py || status=1
  else
    echo "e2e: cargo build -p lanepool-example --bin lambda failed" >&2
    status=1
  fi
fi

if [ "$status" != 0 ]; then
  echo "e2e: FAILED" >&2
fi
exit "$status"
