#!/usr/bin/env bash
# Builds the Python extension into bindings-python/.venv, lints and type-checks the package
# (ruff, mypy --strict, stubtest on the native module) and runs its pytest suite (with the
# package's docstring examples).
# Run from anywhere (paths are relative to this script). Needs Rust and Python >= 3.10 + pip.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target-py}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import maturin, pytest, hypothesis" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "maturin>=1.5,<2" pytest hypothesis
fi
if ! "$VENV/bin/python" -c "import aws_lambda_powertools, pydantic" 2>/dev/null; then
    # tests/test_powertools.py: lanepool.powertools against Powertools' own processors
    "$VENV/bin/python" -m pip install --quiet "aws-lambda-powertools[parser]>=3"
fi

# Lint and type-check tools, pinned (exceptiongroup: the 3.10 dependency mypy checks too).
LINT_TOOLS=("ruff==0.17.6" "mypy==1.20.2" "exceptiongroup==1.3.0")
FROZEN="$("$VENV/bin/python" -m pip freeze 2>/dev/null)"
for tool in "${LINT_TOOLS[@]}"; do
    if ! grep -qxF -e "$tool" <<<"$FROZEN"; then
        "$VENV/bin/python" -m pip install --quiet "${LINT_TOOLS[@]}"
        break
    fi
done

# Editable install: compiles the Rust extension (release) into python/lanepool/.
(cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --release --quiet)

cd "$HERE"
"$VENV/bin/ruff" check python
"$VENV/bin/mypy" python/lanepool
"$VENV/bin/python" -m mypy.stubtest lanepool._lanepool --mypy-config-file pyproject.toml

cd "$ROOT"
"$VENV/bin/python" -m pytest "$HERE/tests" "$HERE/python/lanepool" --doctest-modules -q "$@"
