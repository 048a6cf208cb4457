/**
 * The movies example (pipelines/examples/movies.sql + movies.yaml) end to end, as a user
 * runs it: a first run that rejects and lists the movies without a plot, a re-run that
 * writes nothing and reads only the incremental mark, an edited plot re-embedded alone,
 * deleted roles and genre links mirrored into the graph, and a second dataset that shares
 * the graph without taking anything from the first. In its own database; in Neo4j it
 * touches only the labels Movie, Person and Genre.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { cypher, cypherScalar, e2eEnv, graphDump, pgExec, pgRows, pgScalar, resetDatabase, resetGraph, run, runner } from "./support.ts"

const db = "polymath_movies"
const labels = ["Movie", "Person", "Genre"]
const pipeline = "--pipeline=pipelines/examples/movies.yaml"
const model = ["--set", "model=bge-small-en-v1.5-q"]
const dataset = "movies-demo"
const festival = "festival-2025"
const env = () => e2eEnv(db)
const sql = (text: string, params: ReadonlyArray<unknown> = []) => pgRows(text, params, db)
const scalar = (text: string, params: ReadonlyArray<unknown> = []) => pgScalar(text, params, db)
const dir = mkdtempSync(join(tmpdir(), "movies-"))

interface Unit {
  readonly unit: string
  readonly read: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly deleted: number
  readonly rejected: number
  readonly combined: number
}
interface Report {
  readonly units: ReadonlyArray<Unit>
  readonly notes: ReadonlyArray<string>
}
const exec = async (...args: ReadonlyArray<string>) => {
  const file = join(dir, `report-${Math.random().toString(36).slice(2)}.json`)
  const r = await run(runner("run", pipeline, ...model, ...args, "--json", file), env())
  return { ...r, report: r.code === 0 || r.code === 3 || r.code === 4 ? (JSON.parse(readFileSync(file, "utf8")) as Report) : null }
}
const unit = (report: Report | null, name: string): Unit => {
  const u = report!.units.find((x) => x.unit === name || x.unit.endsWith(`:${name}`))
  if (u === undefined) throw new Error(`no unit ${name} in ${report!.units.map((x) => x.unit).join(", ")}`)
  return u
}
const graphUnits = ["Movie", "Genre", "Person", "ACTED_IN", "IN_GENRE"]

/** Every role as Postgres holds it and as the graph holds it: actor, movie, role, in one stable order. */
const roles = async () => {
  const pg = await sql(`SELECT p.name, m.title, r.role FROM roles r JOIN people p USING (person_id) JOIN movies m USING (movie_id)`)
  const graph = await cypher("MATCH (p:Person)-[a:ACTED_IN]->(m:Movie) RETURN p.name AS name, m.title AS title, a.role AS role")
  const key = (r: Record<string, unknown>) => JSON.stringify([r["name"], r["title"], r["role"]])
  return { pg: pg.map(key).sort(), graph: graph.map(key).sort() }
}

/** Node and relationship counts in the graph equal what the catalogue says now. */
const expectGraphMatchesSql = async () => {
  expect(await cypherScalar("MATCH (m:Movie) RETURN count(m)")).toBe(await scalar("SELECT count(*) FROM movies"))
  expect(await cypherScalar("MATCH (g:Genre) RETURN count(g)")).toBe(await scalar("SELECT count(*) FROM genres"))
  // People who act, not every row of people: the director has no node.
  expect(await cypherScalar("MATCH (p:Person) RETURN count(p)")).toBe(await scalar("SELECT count(DISTINCT person_id) FROM roles"))
  expect(await cypherScalar("MATCH (:Person)-[a:ACTED_IN]->(:Movie) RETURN count(a)")).toBe(await scalar("SELECT count(*) FROM roles"))
  expect(await cypherScalar("MATCH (:Movie)-[g:IN_GENRE]->(:Genre) RETURN count(g)")).toBe(await scalar("SELECT count(*) FROM movie_genres"))
  const r = await roles()
  expect(r.graph).toEqual(r.pg)
}

const vectors = () => sql("SELECT movie_id, plot_embedding::text AS v FROM movies WHERE plot_embedding IS NOT NULL ORDER BY movie_id")
const pgDump = async () => JSON.stringify([await vectors(), await sql("SELECT target, key, model, text_hash FROM polymath_etl.embeddings ORDER BY target, key")])
const rolesOf = (person: string, title: string) =>
  cypher("MATCH (:Person {name: $person})-[a:ACTED_IN]->(:Movie {title: $title}) RETURN a.role AS role, a.datasets AS datasets ORDER BY role", { person, title } as never)

describe("the movies example", () => {
  beforeAll(async () => {
    await resetDatabase(db)
    await pgExec(readFileSync("pipelines/examples/movies.sql", "utf8"), [], db)
    await resetGraph(labels)
  })

  it("validates without a warning", async () => {
    const r = await run(runner("validate", pipeline), env())
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("ok (2 steps, 8 checks)")
    expect(r.stderr).not.toContain("warning")
  })

  it("first run: the movies without a plot are rejected and listed (exit 4), the graph is exact, verify passes", async () => {
    const r = await exec()
    expect(r.code).toBe(4)
    expect(r.stdout).toContain("rejected rows: 2")
    expect(r.stdout).toContain(`embed_plots (movie_id="3"): plot is empty`)
    expect(r.stdout).toContain(`embed_plots (movie_id="4"): plot is NULL`)
    expect(await sql("SELECT step, key->>0 AS movie_id, reason FROM polymath_etl.rejected_rows ORDER BY key->>0")).toEqual([
      { step: "embed_plots", movie_id: "3", reason: "plot is empty" },
      { step: "embed_plots", movie_id: "4", reason: "plot is NULL" }
    ])
    expect(unit(r.report, "embed_plots")).toMatchObject({ read: 12, created: 10, updated: 0, rejected: 2 })
    expect(await scalar("SELECT count(*) FROM movies WHERE plot_embedding IS NOT NULL AND plot_model = 'bge-small-en-v1.5-q'")).toBe(10)
    expect(await scalar("SELECT count(*) FROM movies WHERE plot_embedding IS NOT NULL AND movie_id IN (3, 4)")).toBe(0)

    expect(unit(r.report, "Movie")).toMatchObject({ read: 12, created: 12 })
    expect(unit(r.report, "Genre")).toMatchObject({ read: 5, created: 5 })
    // 25 roles of 19 actors: 6 rows folded into a node another role already made.
    expect(unit(r.report, "Person")).toMatchObject({ read: 25, created: 19, combined: 6 })
    expect(unit(r.report, "ACTED_IN")).toMatchObject({ read: 25, created: 25, combined: 0 })
    expect(unit(r.report, "IN_GENRE")).toMatchObject({ read: 15, created: 15 })
    await expectGraphMatchesSql()

    // One ACTED_IN per role, also when one actor plays two parts in one movie.
    expect(await rolesOf("Lindsay Lohan", "The Parent Trap")).toEqual([
      { role: "Annie James", datasets: [dataset] },
      { role: "Hallie Parker", datasets: [dataset] }
    ])
    expect((await rolesOf("Peter Sellers", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb")).map((x) => x["role"]))
      .toEqual(["Dr. Strangelove", "Group Capt. Lionel Mandrake", "President Merkin Muffley"])

    // Quotes and unicode round-trip exactly; NULLs stay absent.
    const people = await cypher("MATCH (p:Person) RETURN p.person_id AS id, p.name AS name, p.born AS born, p.first_film AS first, p.latest_film AS latest ORDER BY id")
    const expected = await sql(`SELECT p.person_id AS id, p.name, p.born, min(m.released) AS first, max(m.released) AS latest
      FROM people p JOIN roles r USING (person_id) JOIN movies m USING (movie_id) GROUP BY 1, 2, 3 ORDER BY 1`)
    expect(people.map((p) => ({ ...p, id: Number(p["id"]) }))).toEqual(expected)
    expect(people.map((p) => p["name"])).toEqual(expect.arrayContaining(["Zoë Saldaña", "\"Weird Al\" Yankovic", "Richard O'Brien", "Björk", "柊瑠美"]))
    expect(people.map((p) => p["name"])).not.toContain("Stanley Kubrick")
    expect(people.find((p) => p["name"] === "Francisco Reiguera")).toMatchObject({ born: null, first: null, latest: null })
    // The fold takes each year its own way: Keanu Reeves' first and latest films differ.
    expect(people.find((p) => p["name"] === "Keanu Reeves")).toMatchObject({ first: 1999, latest: 2014 })
    expect(await cypher("MATCH (m:Movie {movie_id: 7}) RETURN m.title AS title, m.released AS released")).toEqual([{ title: "千と千尋の神隠し", released: 2001 }])
    expect(await cypher("MATCH (m:Movie {movie_id: 11}) RETURN m.title AS title, m.released AS released")).toEqual([{ title: "Don Quixote", released: null }])
    expect((await rolesOf("George C. Scott", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb")).map((x) => x["role"])).toEqual(["Gen. \"Buck\" Turgidson"])
    // Every entity is in this dataset's scope, and only there.
    expect(await cypherScalar("MATCH (n) WHERE (n:Movie OR n:Person OR n:Genre) AND n.datasets <> [$d] RETURN count(n)", { d: dataset } as never)).toBe(0)
    expect(await cypherScalar("MATCH (a)-[r]->(b) WHERE (a:Person OR a:Movie) AND (b:Movie OR b:Genre) AND r.datasets <> [$d] RETURN count(r)", { d: dataset } as never)).toBe(0)

    expect(r.stdout).toMatch(/PASS {2}every usable plot has a vector from this model: got 10, expected = 10/)
    expect(r.stdout).toMatch(/PASS {2}every role is an ACTED_IN with its role: got 25, expected = 25/)
    expect(r.stdout).toContain("all 8 checks passed")
  })

  it("a re-run without changes writes nothing, and the embed step reads only the rows at its high-water mark", async () => {
    const graphBefore = await graphDump(labels)
    const pgBefore = await pgDump()
    const r = await exec()
    expect(r.code).toBe(0)
    for (const u of r.report!.units) {
      expect(u, u.unit).toMatchObject({ created: 0, updated: 0, deleted: 0, rejected: 0 })
      expect(u.unchanged + u.combined, u.unit).toBe(u.read)
    }
    // Only the movie last edited (John Wick, at the mark itself) is read again; the rejected
    // plots are older than the mark and are not read, so the run exits 0.
    expect(unit(r.report, "embed_plots")).toMatchObject({ read: 1, unchanged: 1 })
    expect(await graphDump(labels)).toBe(graphBefore)
    expect(await pgDump()).toBe(pgBefore)
    expect(r.stdout).toContain("all 8 checks passed")
  })

  it("an edited plot is re-embedded alone; every other vector stays byte-identical", async () => {
    const before = await vectors()
    const stamp = async () => String((await sql("SELECT updated_at::text AS t FROM movies WHERE movie_id = 1"))[0]!["t"])
    const stampBefore = await stamp()
    await pgExec("UPDATE movies SET plot = plot || ' He takes the red pill.' WHERE movie_id = 1", [], db)
    expect(await stamp()).not.toBe(stampBefore) // the trigger moves the cursor column
    const r = await exec()
    expect(r.code).toBe(0)
    // The edited movie and the one at the old mark are read; one vector is rewritten.
    expect(unit(r.report, "embed_plots")).toMatchObject({ read: 2, created: 0, updated: 1, unchanged: 1, rejected: 0 })
    for (const name of graphUnits) expect(unit(r.report, name), name).toMatchObject({ created: 0, updated: 0, deleted: 0 })
    const after = await vectors()
    expect(after.map((a) => a["movie_id"])).toEqual(before.map((b) => b["movie_id"]))
    expect(after.filter((a, i) => a["v"] !== before[i]!["v"]).map((a) => a["movie_id"])).toEqual([1])
    // Writing the vector does not move the cursor: the next run reads only the edited movie.
    const again = await exec("--no-verify")
    expect(unit(again.report, "embed_plots")).toMatchObject({ read: 1, updated: 0, unchanged: 1 })
  })

  it("a plot blanked after it was embedded is rejected, and its old vector is removed with it", async () => {
    await pgExec("UPDATE movies SET plot = '   ' WHERE movie_id = 2", [], db)
    const r = await exec()
    expect(r.code).toBe(4)
    expect(unit(r.report, "embed_plots")).toMatchObject({ read: 2, rejected: 1, unchanged: 1 })
    expect(r.stdout).toContain(`embed_plots (movie_id="2"): plot is only whitespace; its old vector was removed`)
    expect(await sql("SELECT plot_embedding IS NULL AS gone FROM movies WHERE movie_id = 2")).toEqual([{ gone: true }])
    expect(await sql("SELECT count(*)::int AS n FROM polymath_etl.embeddings WHERE key = '2' AND target LIKE 'movies.%'")).toEqual([{ n: 0 }])
    expect(r.stdout).toContain("all 8 checks passed")
    // The plot comes back: the movie is embedded again, as new.
    await pgExec("UPDATE movies SET plot = 'A marine on an alien moon is torn between his orders and the world he comes to love.' WHERE movie_id = 2", [], db)
    const back = await exec()
    expect(back.code).toBe(0)
    expect(unit(back.report, "embed_plots")).toMatchObject({ created: 1, rejected: 0 })
  })

  it("a deleted role and a deleted genre link are removed from the graph, and nothing else", async () => {
    const strangelove = "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb"
    await pgExec("DELETE FROM roles WHERE person_id = 15 AND role = 'Dr. Strangelove'", [], db)
    await pgExec("DELETE FROM movie_genres WHERE movie_id = 10 AND genre_id = 5", [], db)
    const r = await exec()
    expect(r.code).toBe(0)
    expect(unit(r.report, "ACTED_IN")).toMatchObject({ read: 24, deleted: 1, created: 0, updated: 0 })
    expect(unit(r.report, "IN_GENRE")).toMatchObject({ read: 14, deleted: 1, created: 0, updated: 0 })
    for (const name of ["Movie", "Genre", "Person"]) expect(unit(r.report, name), name).toMatchObject({ created: 0, updated: 0, deleted: 0 })
    await expectGraphMatchesSql()
    // Sellers keeps his two other parts in the same movie.
    expect((await rolesOf("Peter Sellers", strangelove)).map((x) => x["role"])).toEqual(["Group Capt. Lionel Mandrake", "President Merkin Muffley"])
    expect(await cypher("MATCH (:Movie {movie_id: 10})-[:IN_GENRE]->(g:Genre) RETURN g.name AS name")).toEqual([{ name: "Comedy" }])
    // The genre itself stays: Dancer in the Dark is still a musical.
    expect(await cypherScalar("MATCH (:Movie)-[:IN_GENRE]->(g:Genre {name: 'Musical'}) RETURN count(g)")).toBe(1)
    expect(r.stdout).toContain("all 8 checks passed")
  })

  it("a second dataset shares the graph; a role deleted later leaves the first dataset's scope, and the graph once neither holds it", async () => {
    const r = await exec("--set", `dataset=${festival}`)
    // The embed source's cursor belongs to these params: this dataset's first run reads every
    // plot (finding the vectors fresh) and lists the two movies without a plot again.
    expect(r.code).toBe(4)
    expect(unit(r.report, "embed_plots")).toMatchObject({ read: 12, created: 0, updated: 0, unchanged: 10, rejected: 2 })
    // Nothing new, nothing removed: every entity gains the second scope.
    for (const name of graphUnits) {
      const u = unit(r.report, name)
      expect(u, name).toMatchObject({ created: 0, deleted: 0, updated: u.read - u.combined })
    }
    await expectGraphMatchesSql()
    const both = [dataset, festival].sort()
    // A set: compared without its order.
    const scopes = async (match: string) => [...new Set((await cypher(`${match} RETURN x.datasets AS d`)).map((row) => JSON.stringify([...(row["d"] as Array<string>)].sort())))].map((d) => JSON.parse(d) as Array<string>)
    expect(await scopes("MATCH (x) WHERE x:Movie OR x:Person OR x:Genre")).toEqual([both])
    expect(await scopes("MATCH (:Person)-[x:ACTED_IN]->(:Movie)")).toEqual([both])
    expect(await scopes("MATCH (:Movie)-[x:IN_GENRE]->(:Genre)")).toEqual([both])
    expect(r.stdout).toContain("all 8 checks passed")

    // The first dataset no longer yields Annie James: it gives up its claim, the festival's stays.
    await pgExec("DELETE FROM roles WHERE person_id = 13 AND role = 'Annie James'", [], db)
    const first = await exec()
    expect(first.code).toBe(0)
    expect(unit(first.report, "ACTED_IN")).toMatchObject({ read: 23, deleted: 0 })
    expect(first.report!.notes.join("\n")).toMatch(/ACTED_IN: 1 entit.* lost scope movies-demo but .*kept/)
    expect(await rolesOf("Lindsay Lohan", "The Parent Trap")).toEqual([
      { role: "Annie James", datasets: [festival] },
      { role: "Hallie Parker", datasets: expect.arrayContaining(both) }
    ])
    expect(first.stdout).toContain("all 8 checks passed")

    // The festival run mirrors the same deletion: no scope holds the role any more, it goes.
    // (Its embed cursor is past the rejected plots now, so nothing is rejected.)
    const second = await exec("--set", `dataset=${festival}`)
    expect(second.code).toBe(0)
    expect(unit(second.report, "embed_plots")).toMatchObject({ read: 1, rejected: 0 })
    expect(unit(second.report, "ACTED_IN")).toMatchObject({ read: 23, deleted: 1 })
    expect((await rolesOf("Lindsay Lohan", "The Parent Trap")).map((x) => x["role"])).toEqual(["Hallie Parker"])
    await expectGraphMatchesSql()
  })
})
