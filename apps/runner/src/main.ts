import { hello } from "@polymath/dsl"
import { Effect } from "effect"
Effect.runSync(Effect.log(hello(process.versions.node as unknown as number)))
