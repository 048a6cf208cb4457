import { describe, expect, it } from "@effect/vitest"
import { redact, redactUrl } from "../src/index.ts"

describe("redact", () => {
  it("removes URL passwords of every scheme, password pairs and given secrets", () => {
    expect(redact("connect postgres://etl:s3cret@db:5432/x failed")).toBe("connect postgres://etl:***@db:5432/x failed")
    expect(redact("bolt://neo4j:hunter22@graph:7687 refused")).toBe("bolt://neo4j:***@graph:7687 refused")
    expect(redact("host=db password='a b c' user=etl")).toBe("host=db password=*** user=etl")
    expect(redact("pwd: hunter22, next")).toBe("pwd: ***, next")
    expect(redact("the server said hunter22 is wrong", ["hunter22"])).toBe("the server said *** is wrong")
    expect(redact("no secrets here")).toBe("no secrets here")
  })

  it("redactUrl keeps where we connect and hides the password, also in the query string", () => {
    expect(redactUrl("postgres://etl:s3cret@db:5432/x")).toBe("postgres://etl:***@db:5432/x")
    expect(redactUrl("postgres://db/x?password=s3cret&sslmode=require")).not.toContain("s3cret")
    expect(redactUrl("not a url password=s3cret")).toBe("not a url password=***")
  })
})
