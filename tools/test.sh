#!/usr/bin/env bash
# The project's test command (`npm test`): type-check, check the committed pipeline
# JSON Schema is current, lint, make sure the test model is fetched and the runner's
# bundle is current, then run every test project. Integration tests start (or reuse) the
# real local stack through vitest's global setup. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(node --version)" in
  v2[4-9]*|v[3-9]*) ;;
  *) echo "npm test needs Node >= 24; run it through npm (the project installs Node 24 into node_modules)" >&2; exit 1 ;;
esac
echo "== typecheck" >&2
tsc -p .
echo "== pipeline schema" >&2
bash tools/schema-check.sh
echo "== lint (module boundaries)" >&2
eslint .
echo "== test model" >&2
bash tools/model/fetch-model.sh
echo "== runner bundle" >&2
node apps/runner/src/BundleBuild.ts --if-stale
echo "== tests" >&2
vitest run "$@"
