#!/usr/bin/env bash
# `npm run demo`: the whole product on a fresh machine. Starts Postgres+pgvector and
# Neo4j, fetches the test model, loads the scale-1 demo corpus and runs the batch-v1
# pipeline with the test model standing in for BGE-M3 (which cannot be downloaded here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/stack/stack.sh up
eval "$(bash tools/stack/stack.sh env)"
bash tools/model/fetch-model.sh
node tools/fixtures/src/main.ts --scale 1
# The pipelines name BGE-M3, which cannot be downloaded here: a local profile makes the
# fetched test model the default for every later command too (README, "Using it").
if [ ! -e polymath.local.yaml ]; then
  cat > polymath.local.yaml <<'YAML'
# Written by `npm run demo` (git-ignored). Defaults for pipeline params on this machine:
# the test model stands in for BGE-M3 until .models/bge-m3/ holds it. --set still wins.
params:
  model: bge-small-en-v1.5
YAML
  echo "demo: wrote polymath.local.yaml (params.model = bge-small-en-v1.5)" >&2
fi
# The runner's V8 flags (apps/runner/src/NodeFlags.ts).
exec node --max-semi-space-size=16 apps/runner/src/main.ts run --pipeline=batch-v1 "$@"
