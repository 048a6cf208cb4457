import nx from "@nx/eslint-plugin"
import tseslint from "typescript-eslint"

// Module boundaries are the architecture: dsl depends on nothing of ours, the
// engine on dsl, each connector on the engine's ports, the runner composes them.
// Driver packages may only be imported by the lib that owns that system.
export default [
  { ignores: [".cache/**", "**/node_modules/**", "**/dist/**", ".nx/**", ".stack/**", ".models/**", "tools/stack/neo4j/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { "@nx": nx },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@nx/enforce-module-boundaries": [
        "error",
        {
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: "scope:dsl", onlyDependOnLibsWithTags: [], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node"] },
            { sourceTag: "scope:engine", onlyDependOnLibsWithTags: ["scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node", "@effect/sql-pg"] },
            { sourceTag: "scope:postgres", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["neo4j-driver", "onnxruntime-node"] },
            { sourceTag: "scope:neo4j", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "onnxruntime-node"] },
            { sourceTag: "scope:embeddings", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver"] },
            // The cluster lib knows Effect Cluster and the engine's pieces, no database or model driver: its storage's SQL client comes from the postgres lib.
            { sourceTag: "scope:cluster", onlyDependOnLibsWithTags: ["scope:engine"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node", "@effect/sql-pg"] },
            { sourceTag: "scope:runner", onlyDependOnLibsWithTags: ["scope:dsl", "scope:engine", "scope:postgres", "scope:neo4j", "scope:embeddings", "scope:cluster"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node", "@effect/sql-pg"] }
          ]
        }
      ]
    }
  },
  // Settings come through Effect's Config (each lib's or app's config module), never
  // process.env directly, so tests supply a ConfigProvider and --help can list them.
  {
    files: ["libs/*/src/**/*.ts", "apps/*/src/**/*.ts"],
    rules: {
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "read settings through Effect Config in the lib's config module" }],
      // A relative path never leaves its project: other code is reached by its package name.
      "no-restricted-imports": ["error", { patterns: [{ group: ["../../*", "**/libs/**", "**/apps/**", "**/tools/**"], message: "import another project by its package name (@polymath/...), never by a relative path" }] }]
    }
  }
]
