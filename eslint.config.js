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
            { sourceTag: "scope:engine", onlyDependOnLibsWithTags: ["scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node"] },
            { sourceTag: "scope:postgres", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["neo4j-driver", "onnxruntime-node"] },
            { sourceTag: "scope:neo4j", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "onnxruntime-node"] },
            { sourceTag: "scope:embeddings", onlyDependOnLibsWithTags: ["scope:engine", "scope:dsl"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver"] },
            { sourceTag: "scope:runner", onlyDependOnLibsWithTags: ["scope:dsl", "scope:engine", "scope:postgres", "scope:neo4j", "scope:embeddings"], bannedExternalImports: ["pg", "pg-copy-streams", "neo4j-driver", "onnxruntime-node"] }
          ]
        }
      ]
    }
  }
]
