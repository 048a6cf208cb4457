import { describe, expect, it } from "@effect/vitest"
import { sqlParamRefs } from "../src/index.ts"
import { selectedColumns } from "../src/SelectList.ts"

describe("selectedColumns", () => {
  it("reads the names Postgres gives a plain select list", () => {
    expect(selectedColumns("SELECT a, t.b, c AS d, \"Mixed\", e::text, count(*), max(x) AS m FROM t WHERE z = :z")).toEqual(["a", "b", "d", "Mixed", "e", "count", "m"])
    expect(selectedColumns("select distinct on (a) a, B from t")).toEqual(["a", "b"])
    expect(selectedColumns("WITH x AS (SELECT q FROM t) SELECT a, b FROM x UNION ALL SELECT 1, 2")).toEqual(["a", "b"])
    expect(selectedColumns("SELECT CASE WHEN a THEN 1 ELSE 2 END AS k, lower(n) name -- , hidden\nFROM t")).toEqual(["k", "name"])
    expect(selectedColumns("SELECT 'a, b' AS s, $$x, y$$ AS d")).toEqual(["s", "d"])
  })

  it("is unknown (null) where the text does not settle the names", () => {
    expect(selectedColumns("SELECT * FROM t")).toBeNull()
    expect(selectedColumns("SELECT t.*, a FROM t")).toBeNull()
    expect(selectedColumns("SELECT a + b FROM t")).toBeNull()
    expect(selectedColumns("SELECT 1 FROM t")).toBeNull()
    expect(selectedColumns("SELECT CASE WHEN a THEN 1 END FROM t")).toBeNull()
    expect(selectedColumns("TABLE t")).toBeNull()
    expect(selectedColumns("SELECT 'unclosed FROM t")).toBeNull()
  })
})

describe("sqlParamRefs", () => {
  it("finds each :name where it is written, skipping casts, literals, quoted names and comments", () => {
    const sql = "SELECT a::text, ':x', \"c:y\" -- :z\nFROM t WHERE v = :v AND w = :w /* :q */ AND v2 = :v"
    expect(sqlParamRefs(sql)).toEqual([
      { name: "v", index: sql.indexOf(":v") },
      { name: "w", index: sql.indexOf(":w") },
      { name: "v", index: sql.lastIndexOf(":v") }
    ])
  })
})
