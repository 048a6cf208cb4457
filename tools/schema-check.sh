#!/usr/bin/env bash
# Fails when the committed pipelines/pipeline.schema.json (what editors and CI validate
# pipeline files with) is not what pipelineJsonSchema() generates from libs/dsl now.
# Regenerate with `npm run schema` and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
node --input-type=module -e '
import { existsSync, readFileSync } from "node:fs"
import { isDeepStrictEqual } from "node:util"
import { pipelineJsonSchema } from "@polymath/dsl"
const file = "pipelines/pipeline.schema.json"
const committed = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null
if (!isDeepStrictEqual(committed, pipelineJsonSchema())) {
  console.error(committed === null ? `${file} is missing.` : `${file} is out of date: libs/dsl (Spec.ts, SchemaDocs.ts, JsonSchema.ts) now generates another schema.`)
  console.error("Run `npm run schema` and commit pipelines/pipeline.schema.json.")
  process.exit(1)
}
'
