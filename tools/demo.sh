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
exec node apps/runner/src/main.ts run --pipeline=batch-v1 --set model=bge-small-en-v1.5 "$@"
