/**
 * A small corpus in the demo's schema (documents, passages, passage_concepts) for the
 * end-to-end tests of a living corpus: tens of passages, two extractor versions that
 * share passages and (passage, concept) pairs with different confidences, titles and
 * concept names with quotes and unicode, a NULL year. Deterministic, built by hand so a
 * test can reason about every row.
 */
import { createConcepts, createDocuments, createPassages, foreignKeys, keysAndIndexes } from "../tools/fixtures/src/schema.ts"
import { pgExec } from "./support.ts"

/** A mention as the corpus stores it. */
export interface Mention {
  readonly passage: string
  readonly name: string
  readonly type: "method" | "problem" | "domain" | "entity"
  readonly confidence: number
  readonly version: "batch-v1" | "batch-v2"
}

const uuid = (kind: number, i: number): string => `00000000-0000-4000-8000-${kind.toString().padStart(4, "0")}${i.toString().padStart(8, "0")}`

/** Document ids: 6 papers. */
export const docId = (i: number): string => uuid(1, i)
/** Passage ids: 4 per paper, 24 in all. */
export const passageId = (i: number): string => uuid(2, i)

const titles = [
  "O'Brien's “spatial” atlas of the mouse brain",
  "Graph attention for cell-type deconvolution",
  "Ünïcode — and other hazards in protein folding",
  "A \"quoted\" survey of single-cell methods",
  "Transformers for genomics: 基因组",
  "Batch effects, revisited"
]

const topics = ["spatial transcriptomics", "cell segmentation", "protein folding", "single-cell clustering", "genome annotation", "batch correction"]

/** The text of passage `i` (distinct for every passage). */
export const passageText = (i: number): string =>
  `Passage ${i} of paper ${Math.floor(i / 4)}: we study ${topics[Math.floor(i / 4)]} with method ${i % 4}, ` +
  `reporting results on benchmark ${(i * 7) % 11} and discussing limitations of approach ${(i * 3) % 5}.`

const concepts: ReadonlyArray<{ readonly name: string; readonly type: Mention["type"] }> = [
  { name: "graph attention network", type: "method" },
  { name: "O'Reilly's \"robust\" PCA", type: "method" },
  { name: "cell-type deconvolution", type: "problem" },
  { name: "spatial transcriptomics", type: "domain" },
  { name: "Visium — 10x", type: "entity" },
  { name: "protein folding", type: "problem" },
  { name: "ünïcode tokenizer", type: "method" },
  { name: "mouse brain atlas", type: "entity" }
]

/** The mentions: batch-v1 over passages 0-15, batch-v2 over 8-23, overlapping pairs with other confidences. */
export const mentions = (): ReadonlyArray<Mention> => {
  const out: Array<Mention> = []
  for (let p = 0; p < 16; p++) {
    for (let k = 0; k < 3; k++) {
      const c = concepts[(p + k * 3) % concepts.length]!
      out.push({ passage: passageId(p), name: c.name, type: c.type, confidence: 0.5 + ((p * 3 + k) % 10) / 20, version: "batch-v1" })
    }
  }
  // The extractor reported one pair twice: the pipeline keeps the higher confidence.
  out.push({ ...out[0]!, confidence: 0.99 })
  for (let p = 8; p < 24; p++) {
    for (let k = 0; k < 2; k++) {
      const c = concepts[(p + k * 3) % concepts.length]!
      out.push({ passage: passageId(p), name: c.name, type: c.type, confidence: 0.3 + ((p * 5 + k) % 10) / 25, version: "batch-v2" })
    }
  }
  return out
}

/** Creates the three tables in `db` and loads the corpus; embeddings are left NULL. */
export const loadSmallCorpus = async (db: string, dim = 384): Promise<void> => {
  await pgExec(`DROP TABLE IF EXISTS passage_concepts, passages, documents CASCADE`, [], db)
  for (const ddl of [createDocuments, createPassages(dim), createConcepts]) await pgExec(ddl, [], db)
  for (const ddl of [...keysAndIndexes.documents, ...keysAndIndexes.passages, ...keysAndIndexes.passage_concepts]) await pgExec(ddl, [], db)
  await pgExec(
    `INSERT INTO documents (doc_id, title, year, doi) SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[])`,
    [titles.map((_, i) => docId(i)), titles, titles.map((_, i) => (i === 2 ? null : 2018 + i)), titles.map((_, i) => `10.1234/doc.${i}`)],
    db
  )
  const ps = Array.from({ length: 24 }, (_, i) => i)
  await pgExec(
    `INSERT INTO passages (passage_id, doc_id, section, passage_text) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])`,
    [ps.map(passageId), ps.map((i) => docId(Math.floor(i / 4))), ps.map((i) => ["abstract", "methods", "results", "discussion"][i % 4]), ps.map(passageText)],
    db
  )
  const m = mentions()
  await pgExec(
    `INSERT INTO passage_concepts (passage_id, concept_name, concept_type, confidence, extractor_version)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::real[], $5::text[])`,
    [m.map((x) => x.passage), m.map((x) => x.name), m.map((x) => x.type), m.map((x) => x.confidence), m.map((x) => x.version)],
    db
  )
  for (const ddl of foreignKeys) await pgExec(ddl, [], db)
}
