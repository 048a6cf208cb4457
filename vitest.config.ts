import { defineConfig } from "vitest/config"

// Integration projects start (or reuse) the local stack once per run; unit projects need nothing.
const stack = ["tools/stack/vitest-global-setup.ts"]

const project = (name: string, root: string, services: boolean) => ({
  test: {
    name,
    include: [`${root}/test/**/*.test.ts`],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    ...(services ? { globalSetup: stack } : {})
  }
})

export default defineConfig({
  test: {
    projects: [
      project("dsl", "libs/dsl", false),
      project("engine", "libs/engine", false),
      project("embeddings", "libs/embeddings", false),
      project("postgres", "libs/postgres", true),
      project("neo4j", "libs/neo4j", true),
      project("runner", "apps/runner", false),
      project("fixtures", "tools/fixtures", true),
      {
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          globalSetup: stack
        }
      }
    ]
  }
})
