#!/usr/bin/env bash
# Adds onnxruntime's CUDA execution provider to onnxruntime-node, from registry packages only.
#
# onnxruntime-node bundles the CPU build; its own installer would download the CUDA provider from
# NuGet, which is skipped here (.npmrc: onnxruntime-node-install=skip). This script takes the same
# two libraries from the PyPI wheel `onnxruntime-gpu` of the SAME version as onnxruntime-node:
#
#   onnxruntime/capi/libonnxruntime_providers_cuda.so    -> node_modules/onnxruntime-node/bin/napi-v6/linux/x64/
#   onnxruntime/capi/libonnxruntime_providers_shared.so  -> (next to libonnxruntime.so.1)
#
# The wheel is kept in .cache/cuda-provider (git-ignored). Idempotent: the copied files are checked
# against the sha256 digests in the wheel's RECORD and only re-extracted when they differ.
# Then `ldd` tells which CUDA libraries the provider still lacks (not an error: a machine without a
# GPU simply falls back to cpu).
#
# --with-cuda-libs also installs the CUDA runtime libraries the provider needs (the wheel's
# [cuda,cudnn] extras: nvidia-cuda-runtime, nvidia-cublas, nvidia-curand, nvidia-cufft,
# nvidia-cuda-nvrtc, nvidia-cudnn-*) into the venv .cache/venv-cuda, and prints the
# LD_LIBRARY_PATH to use. The NVIDIA driver (libcuda.so.1) never comes from pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORT_DIR="${POLYMATH_ORT_NODE_DIR:-$ROOT/node_modules/onnxruntime-node}"
BIN_DIR="$ORT_DIR/bin/napi-v6/linux/x64"
CACHE_DIR="$ROOT/.cache/cuda-provider"
VENV="$ROOT/.cache/venv-cuda"
LIBS=(libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so)
# The .so files are the same in every CPython build of the wheel: pin one tag so the cache is reused.
WHEEL_PY="3.11"
WHEEL_ABI="cp311"
PYTHON="${PYTHON:-python3}"

log() { printf '[cuda] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat <<'EOF'
Usage: tools/model/fetch-cuda-provider.sh [--with-cuda-libs] [--remove] [--help]
       npm run cuda -- [options]

Copies libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so from the PyPI wheel
onnxruntime-gpu (same version as node_modules/onnxruntime-node) into
node_modules/onnxruntime-node/bin/napi-v6/linux/x64/, then reports with ldd which CUDA libraries
are still missing. Idempotent; the wheel is cached in .cache/cuda-provider.

Options:
  --with-cuda-libs  also pip-install the CUDA runtime wheels (the wheel's [cuda,cudnn] extras) into
                    .cache/venv-cuda and print the `export LD_LIBRARY_PATH=...` line to use
                    (also written to .cache/venv-cuda/ld-library-path)
  --remove          delete the two copied libraries again (back to the CPU-only package);
                    the caches in .cache/ are kept
  --help            this text

Environment:
  POLYMATH_ORT_NODE_DIR  the onnxruntime-node package dir (default: <repo>/node_modules/onnxruntime-node)
  PYTHON                 the python used for pip (default: python3)

Then run with POLYMATH_EP=cuda (or on a machine with /dev/nvidia0): the embedder creates its
session with ['cuda', 'cpu'] and logs which provider it got, and why not cuda when it fell back.
EOF
}

WITH_CUDA_LIBS=0
REMOVE=0
for arg in "$@"; do
  case "$arg" in
    --with-cuda-libs) WITH_CUDA_LIBS=1 ;;
    --remove) REMOVE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
done

[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] || die "only linux/x64 is supported (this is $(uname -s)/$(uname -m))"
[[ -f "$ORT_DIR/package.json" ]] || die "onnxruntime-node not found in $ORT_DIR (run npm ci first)"
[[ -d "$BIN_DIR" ]] || die "no native dir $BIN_DIR in onnxruntime-node"

if [[ "$REMOVE" == 1 ]]; then
  for lib in "${LIBS[@]}"; do
    if [[ -e "$BIN_DIR/$lib" ]]; then
      rm -f "$BIN_DIR/$lib"
      log "removed $BIN_DIR/$lib"
    else
      log "$lib not present in $BIN_DIR"
    fi
  done
  log "onnxruntime-node is CPU-only again (caches kept in $CACHE_DIR and $VENV)"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (needed for pip)"
command -v unzip >/dev/null 2>&1 || die "unzip not found (apt-get install unzip)"

VERSION="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$ORT_DIR/package.json")"
[[ -n "$VERSION" ]] || die "cannot read the version of $ORT_DIR/package.json"
log "onnxruntime-node $VERSION: using the PyPI wheel onnxruntime-gpu==$VERSION"

# --- the wheel -------------------------------------------------------------------------------
mkdir -p "$CACHE_DIR"
find_wheel() { compgen -G "$CACHE_DIR/onnxruntime_gpu-$VERSION-*.whl" | head -n 1 || true; }
WHEEL="$(find_wheel)"
if [[ -z "$WHEEL" ]]; then
  log "downloading onnxruntime-gpu==$VERSION (about 250 MB) into $CACHE_DIR"
  "$PYTHON" -m pip download --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --python-version "$WHEEL_PY" --implementation cp --abi "$WHEEL_ABI" \
    --dest "$CACHE_DIR" "onnxruntime-gpu==$VERSION" >&2 \
    || die "pip download of onnxruntime-gpu==$VERSION failed"
  WHEEL="$(find_wheel)"
  [[ -n "$WHEEL" ]] || die "pip reported success but no onnxruntime_gpu-$VERSION-*.whl is in $CACHE_DIR"
else
  log "wheel cached: $WHEEL"
fi

# RECORD lines look like: onnxruntime/capi/<lib>,sha256=<urlsafe base64, no padding>,<size>
RECORD="$(unzip -p "$WHEEL" "onnxruntime_gpu-$VERSION.dist-info/RECORD")" || die "no RECORD in $WHEEL"
record_digest() { printf '%s\n' "$RECORD" | awk -F, -v p="onnxruntime/capi/$1" '$1 == p { sub(/^sha256=/, "", $2); print $2 }'; }
file_digest() { openssl dgst -sha256 -binary "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
installed_ok() {
  local lib="$1" want
  want="$(record_digest "$lib")"
  [[ -n "$want" ]] || die "$lib is not listed in the RECORD of $WHEEL"
  [[ -f "$BIN_DIR/$lib" ]] && [[ "$(file_digest "$BIN_DIR/$lib")" == "$want" ]]
}

# --- copy the provider libraries ---------------------------------------------------------------
for lib in "${LIBS[@]}"; do
  if installed_ok "$lib"; then
    log "$lib already installed (sha256 matches the wheel)"
    continue
  fi
  TMP="$(mktemp -d "$BIN_DIR/.fetch-cuda.XXXXXX")"
  unzip -q -o -j "$WHEEL" "onnxruntime/capi/$lib" -d "$TMP" || { rm -rf "$TMP"; die "cannot extract $lib from $WHEEL"; }
  chmod 0755 "$TMP/$lib"
  mv -f "$TMP/$lib" "$BIN_DIR/$lib"
  rm -rf "$TMP"
  installed_ok "$lib" || die "$BIN_DIR/$lib does not match the wheel's sha256 after extraction"
  log "installed $BIN_DIR/$lib"
done

# --- CUDA runtime wheels (optional) -------------------------------------------------------------
# The [cuda] and [cudnn] extras of the wheel name the nvidia-* runtime wheels of the CUDA major it was built for.
EXTRAS="$(unzip -p "$WHEEL" "onnxruntime_gpu-$VERSION.dist-info/METADATA" \
  | sed -nE 's/^Requires-Dist: *([^;]+);.*extra *== *"(cuda|cudnn)".*/\1/p' | tr -d ' ')"
[[ -n "$EXTRAS" ]] || log "warning: the wheel's METADATA names no [cuda]/[cudnn] extras"
CUDA_MAJOR="$(printf '%s\n' "$EXTRAS" | sed -nE 's/^nvidia-cuda-runtime(-cu[0-9]+)?[~=>]=([0-9]+).*/\2/p' | head -n 1)"
if [[ -n "$CUDA_MAJOR" ]]; then
  log "onnxruntime-gpu $VERSION is built for CUDA $CUDA_MAJOR: the GPU machine needs CUDA $CUDA_MAJOR libraries and a driver that supports CUDA $CUDA_MAJOR"
fi

LD_DIRS=""
if [[ "$WITH_CUDA_LIBS" == 1 ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating the venv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  # shellcheck disable=SC2086 # one requirement per word
  log "pip-installing into $VENV: $(printf '%s ' $EXTRAS)"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --only-binary=:all: $EXTRAS >&2 || die "pip install of the CUDA runtime wheels failed"
  SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  LD_DIRS="$(find "$SITE/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)"
  [[ -n "$LD_DIRS" ]] || die "no lib*.so* found under $SITE/nvidia after the install"
  printf '%s\n' "$LD_DIRS" >"$VENV/ld-library-path"
fi

# --- verify with ldd ---------------------------------------------------------------------------
PROVIDER="$BIN_DIR/libonnxruntime_providers_cuda.so"
missing_libs() { LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$PROVIDER" | awk '/not found/ { print $1 }' | paste -sd' ' -; }
MISSING="$(missing_libs "$LD_DIRS")"
if [[ -z "$MISSING" ]]; then
  log "ldd: every library the CUDA provider links is found"
else
  log "ldd: the CUDA provider still lacks: $MISSING"
  if [[ " $MISSING " == *" libcuda.so.1 "* ]]; then
    log "  libcuda.so.1 is the NVIDIA driver (not on pip): without it, sessions fall back to cpu"
  fi
fi
log "loaded at run time (dlopen, not shown by ldd): cuDNN 9, cuFFT, NVRTC"

if [[ "$WITH_CUDA_LIBS" == 1 ]]; then
  log "use these CUDA libraries with:"
  printf 'export LD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$LD_DIRS"
elif [[ -n "$MISSING" ]]; then
  log "CUDA runtime wheels this build needs: $(printf '%s ' $EXTRAS)(the GPU machine's CUDA install, or --with-cuda-libs)"
fi
log "done: run with POLYMATH_EP=cuda to use it; remove with: npm run cuda -- --remove"
