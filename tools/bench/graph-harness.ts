/**
 * What `bench graph` needs around its contenders: a capped, measured child process (wall time,
 * peak RSS from /usr/bin/time or /proc, last progress line) and the Neo4j state between runs
 * (emptied, every constraint and index dropped, so the seed's method starts as its plan is written).
 */
import { spawn } from "node:child_process"
import { existsSync, readFileSync, readdirSync } from "node:fs"
import neo4j from "neo4j-driver"
import type { Driver } from "neo4j-driver"
import { childOf, statusKb } from "./common.ts"

export interface ChildRun {
  readonly seconds: number
  /** The contender's own user + system CPU seconds (null without /usr/bin/time). */
  readonly cpuS: number | null
  /** True when the cap stopped it. */
  readonly capped: boolean
  readonly exitCode: number | null
  readonly peakRssMb: number | null
  /** The last `progress ...` or runner progress line, for a capped run. */
  readonly lastProgress: string | null
  readonly stderrTail: string
}

/** Runs `node args...` with a wall-clock cap (SIGKILL at the cap: a capped contender's work is not counted). */
export const timedNode = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd: string, capS: number): Promise<ChildRun> =>
  new Promise((resolve, reject) => {
    const useTime = existsSync("/usr/bin/time")
    const child = useTime
      ? spawn("/usr/bin/time", ["-f", "POLYMATH_BENCH_MAXRSS_KB %M %U %S", process.execPath, ...args], { cwd, env, stdio: ["ignore", "ignore", "pipe"] })
      : spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "ignore", "pipe"] })
    const t0 = performance.now()
    let capped = false
    let hwm = 0
    let maxRssKb: number | null = null
    let cpuS: number | null = null
    let lastProgress: string | null = null
    let tail = ""
    let buf = ""
    let nodePid: number | null = useTime ? null : child.pid ?? null
    const sample = setInterval(() => {
      if (nodePid === null && child.pid !== undefined) nodePid = childOf(child.pid)
      if (nodePid !== null) hwm = Math.max(hwm, statusKb(nodePid, "VmHWM") ?? 0)
    }, 200)
    const cap = setTimeout(() => {
      capped = true
      if (nodePid !== null) process.kill(nodePid, "SIGKILL")
      child.kill("SIGKILL")
    }, capS * 1000)
    const onLine = (line: string) => {
      const t = /^POLYMATH_BENCH_MAXRSS_KB (\d+) ([\d.]+) ([\d.]+)/.exec(line)
      if (t) {
        maxRssKb = Number(t[1])
        cpuS = Number(t[2]) + Number(t[3])
      }
      else if (/^progress |rows/.test(line)) lastProgress = line.replace(/^progress /, "")
    }
    child.stderr!.on("data", (d: Buffer) => {
      const s = d.toString()
      tail = (tail + s).slice(-3000)
      buf += s
      const lines = buf.split(/\r|\n/)
      buf = lines.pop() ?? ""
      for (const l of lines) onLine(l.replace(/^\[[#-]+\] /, ""))
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      clearInterval(sample)
      clearTimeout(cap)
      if (buf !== "") onLine(buf)
      const kb = maxRssKb ?? (hwm > 0 ? hwm : null)
      resolve({
        seconds: (performance.now() - t0) / 1000,
        cpuS,
        capped,
        exitCode: code,
        peakRssMb: kb === null ? null : Math.round(kb / 102.4) / 10,
        lastProgress,
        stderrTail: tail
      })
    })
  })

const ticks = (pid: number, children: boolean): number => {
  try {
    // Fields after the command name: utime is the 12th, stime 13th, cutime 14th, cstime 15th.
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ").map(Number)
    return f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)
  } catch {
    return 0
  }
}

const childPids = (pid: number): ReadonlyArray<number> => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter((x) => x !== "").map(Number))
  } catch {
    return []
  }
}

/**
 * CPU seconds a server spends from now until the returned function is called: the process
 * and, for Postgres, its live backends plus those that exited (reaped into the postmaster's
 * children's times). Load-independent where wall time on a shared machine is not.
 */
export const serverCpu = (pid: number | null, withChildren: boolean): (() => number | null) => {
  if (pid === null) return () => null
  const sample = () => ticks(pid, withChildren) + (withChildren ? childPids(pid).reduce((s, c) => s + ticks(c, false), 0) : 0)
  const t0 = sample()
  return () => (sample() - t0) / 100
}

export const openDriver = async (uri: string, user: string, password: string): Promise<Driver> => {
  const driver = neo4j.driver(uri, password === "" ? undefined : neo4j.auth.basic(user, password), { disableLosslessIntegers: true })
  await driver.verifyConnectivity()
  return driver
}

/** Nodes and relationships in the database. */
export const graphCounts = async (driver: Driver): Promise<{ nodes: number; relationships: number }> => {
  const n = await driver.executeQuery("MATCH (n) RETURN count(n) AS c")
  const r = await driver.executeQuery("MATCH ()-[r]->() RETURN count(r) AS c")
  return { nodes: Number(n.records[0]!.get("c")), relationships: Number(r.records[0]!.get("c")) }
}

/** Empties the graph and drops every constraint and (non-lookup) index. */
export const resetGraph = async (driver: Driver): Promise<void> => {
  const session = driver.session()
  try {
    // Implicit transactions: CALL ... IN TRANSACTIONS keeps a large delete from holding one huge transaction.
    await session.run("MATCH ()-[r]->() CALL { WITH r DELETE r } IN TRANSACTIONS OF 20000 ROWS")
    await session.run("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS")
  } finally {
    await session.close()
  }
  const constraints = await driver.executeQuery("SHOW CONSTRAINTS YIELD name RETURN name")
  for (const r of constraints.records) await driver.executeQuery(`DROP CONSTRAINT \`${String(r.get("name")).replace(/`/g, "``")}\` IF EXISTS`)
  const indexes = await driver.executeQuery("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name")
  for (const r of indexes.records) await driver.executeQuery(`DROP INDEX \`${String(r.get("name")).replace(/`/g, "``")}\` IF EXISTS`)
}
