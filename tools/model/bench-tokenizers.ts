/**
 * Compares the two tokenizer implementations installed in the workspace on the model's
 * tokenizer.json: `tokenizers` (HF Rust core, native N-API binding) and
 * `@huggingface/tokenizers` (pure JS). Checks that both give identical ids on a corpus of
 * ~1000 real passages plus edge cases, then times them.
 *
 *   node tools/model/bench-tokenizers.ts [path/to/tokenizer.json]
 *   (RAYON_NUM_THREADS=1 limits the native binding's encodeBatch to one thread)
 */
import { readFileSync, readdirSync, statSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join, resolve } from "node:path"
import { Tokenizer as JsTokenizer } from "@huggingface/tokenizers"
import { Effect } from "effect"
import { Tokenizer as NativeTokenizer } from "tokenizers"
import { loadEmbeddingsConfig } from "@polymath/embeddings"

const root = resolve(import.meta.dirname, "../..")
// POLYMATH_MODELS_DIR, else <repo>/.models: the embeddings lib's one reading of that setting.
const { modelsDir } = Effect.runSync(loadEmbeddingsConfig)
const tokenizerPath = process.argv[2] ?? join(modelsDir, "bge-small-en-v1.5", "tokenizer.json")

/** ~1000 passages of real prose: paragraphs of the README files under node_modules, sorted for determinism. */
const collectPassages = (limit: number): Array<string> => {
  const files: Array<string> = []
  const walk = (dir: string, depth: number) => {
    let entries: Array<string>
    try {
      entries = readdirSync(dir).sort()
    } catch {
      return
    }
    for (const e of entries) {
      const p = join(dir, e)
      if (/^readme\.md$/i.test(e)) files.push(p)
      else if (depth < 3 && !e.startsWith(".") && statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p, depth + 1)
    }
  }
  walk(join(root, "node_modules"), 0)
  const out: Array<string> = []
  for (const f of files) {
    for (const para of readFileSync(f, "utf8").split(/\n\s*\n/)) {
      const t = para.trim()
      if (t.length >= 200 && t.length <= 3000 && !t.startsWith("```") && !t.startsWith("|")) out.push(t)
      if (out.length >= limit) return out
    }
  }
  return out
}

const edgeCases: Array<string> = [
  "The quick brown fox jumps over the lazy dog.",
  "Crème brûlée, naïve café, São Paulo, Zürich, Ångström, Łódź, İstanbul, ﬁnancial ligature.",
  "Ünïcödé ÀÉÎÕÜ déjà vu — “smart quotes” ‘and’ dashes – … ellipsis",
  "机器学习是人工智能的一个分支。東京大学の研究者が新しいモデルを発表しました。한국어 문장도 있습니다.",
  "Emoji 🚀🔥👍🏽 and family 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵 with text ❤️",
  "",
  "   \t\n  ",
  "Mixed\u0000control\u0007chars\u200bzero\u00a0width and soft\u00adhyphen",
  "Αρχαία ελληνικά, русский текст, עברית, العربية, हिन्दी",
  "supercalifragilisticexpialidocious antidisestablishmentarianism " + "x".repeat(150),
  "Long text: " + "Graph neural networks propagate information along edges of a knowledge graph. ".repeat(80)
]

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const main = async () => {
  const json = readFileSync(tokenizerPath, "utf8")
  const native = NativeTokenizer.fromString(json)
  const js = new JsTokenizer(JSON.parse(json), {})

  const passages = collectPassages(1000)
  const sample = [...edgeCases, ...passages]

  // 1. Identical ids.
  let mismatches = 0
  let tokens = 0
  const nativeEnc = await native.encodeBatch(sample)
  sample.forEach((text, i) => {
    const a = nativeEnc[i]!.getIds()
    const b = js.encode(text).ids
    tokens += a.length
    if (a.length !== b.length || a.some((id, k) => id !== b[k])) {
      mismatches++
      if (mismatches <= 5) console.log(`MISMATCH #${i}: ${JSON.stringify(text.slice(0, 80))}\n  native ${a.slice(0, 24)}\n  js     ${b.slice(0, 24)}`)
    }
  })
  console.log(`texts=${sample.length} (edge cases ${edgeCases.length}, passages ${passages.length}) tokens=${tokens} mismatches=${mismatches}`)

  // 2. Speed on the passages (warm-up first, then the median of 5 rounds).
  const rounds = 5
  // Wall time and process CPU time (user + system, all threads): the CPU time is steadier on a busy machine.
  const time = async (f: () => unknown) => {
    await f()
    const wall: Array<number> = []
    const cpu: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await f()
      wall.push(performance.now() - t0)
      const c = process.cpuUsage(c0)
      cpu.push((c.user + c.system) / 1000)
    }
    return `${median(wall).toFixed(1)} ms wall, ${median(cpu).toFixed(1)} ms cpu`
  }
  const chars = passages.reduce((n, p) => n + p.length, 0)
  const jsMs = await time(() => passages.map((p) => js.encode(p).ids))
  const nativeSeqMs = await time(async () => {
    for (const p of passages) (await native.encode(p)).getIds()
  })
  const nativeBatchMs = await time(async () => (await native.encodeBatch(passages)).map((e) => e.getIds()))
  const loadJs = await time(() => new JsTokenizer(JSON.parse(json), {}))
  const loadNative = await time(() => NativeTokenizer.fromString(json))
  console.log(`passages=${passages.length} chars=${chars} cores=${availableParallelism()} (median of ${rounds})`)
  console.log(`@huggingface/tokenizers encode (sync, one by one): ${jsMs}`)
  console.log(`tokenizers (native) encode (await one by one):      ${nativeSeqMs}`)
  console.log(`tokenizers (native) encodeBatch:                    ${nativeBatchMs}`)
  console.log(`load tokenizer.json: js ${loadJs}; native ${loadNative}`)
}

await main()
