/**
 * The Python reference's venv (.cache/venv, git-ignored), created by the benchmark that needs it:
 * `python3 -m venv` and a pip install of tools/bench/requirements-reference.txt from the configured
 * registry. A stamp holding the requirements file's text records a finished install, so a venv made by
 * hand with other versions (or an interrupted install) is brought to the pinned ones once.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { log, pythonBin, repoRoot } from "./common.ts"

const venvDir = join(repoRoot, ".cache", "venv")
const requirements = join(repoRoot, "tools", "bench", "requirements-reference.txt")
const stamp = join(venvDir, ".polymath-bench-requirements")

/** One line for the user: what failed, the last line the tool printed, and what to do. */
const failure = (what: string, r: ReturnType<typeof spawnSync>): Error => {
  const out = `${String(r.stderr ?? "")}\n${String(r.stdout ?? "")}`.trim().split("\n").filter((l) => l.trim() !== "")
  const why = r.error !== undefined ? r.error.message : (out.at(-1) ?? `exit ${r.status}`)
  return new Error(`python reference: ${what} failed (${why}); it needs python3 with venv and pip and the registry, or leave it out with --methods raw,runner,fixed32`)
}

/** Makes sure .cache/venv has the pinned onnxruntime, tokenizers and numpy; returns its python. */
export const ensurePythonVenv = (python3: string = process.env["POLYMATH_BENCH_PYTHON3"] ?? "python3"): string => {
  const wanted = readFileSync(requirements, "utf8")
  if (existsSync(pythonBin) && existsSync(stamp) && readFileSync(stamp, "utf8") === wanted) return pythonBin
  if (!existsSync(pythonBin)) {
    const v = spawnSync(python3, ["--version"], { encoding: "utf8" })
    if (v.status !== 0) throw failure(`${python3} --version`, v)
    log(`creating ${venvDir} with ${String(v.stdout || v.stderr).trim()}`)
    const mk = spawnSync(python3, ["-m", "venv", venvDir], { encoding: "utf8" })
    if (mk.status !== 0) throw failure(`${python3} -m venv .cache/venv`, mk)
  }
  log(`installing ${requirements.slice(repoRoot.length + 1)} into .cache/venv`)
  // Wheels only: building onnxruntime or tokenizers from source would take a toolchain and an hour.
  const pip = spawnSync(pythonBin, ["-m", "pip", "install", "--quiet", "--only-binary=:all:", "-r", requirements], { encoding: "utf8" })
  if (pip.status !== 0) throw failure("pip install into .cache/venv", pip)
  writeFileSync(stamp, wanted)
  return pythonBin
}
