import { defineConfig } from "vitest/config"

const project = (name: string, root: string) => ({
  test: { name, include: [`${root}/test/**/*.test.ts`], testTimeout: 60_000, hookTimeout: 180_000 }
})

export default defineConfig({
  test: {
    projects: [
      project("dsl", "libs/dsl"),
      project("engine", "libs/engine"),
      project("postgres", "libs/postgres"),
      project("neo4j", "libs/neo4j"),
      project("embeddings", "libs/embeddings"),
      project("runner", "apps/runner"),
      { test: { name: "e2e", include: ["test/**/*.test.ts"], testTimeout: 300_000, hookTimeout: 600_000, fileParallelism: false } }
    ]
  }
})
