/**
 * pgvector's text format, `[x,y,...]`. Vectors travel as text parameters because
 * pgvector's input function parses them server-side with no extension on our side.
 */

// The shortest decimal that reads back as the same float32. Nine significant digits
// always round-trip; most embedding values need eight, so eight is tried first and
// shorter forms only when eight works (a few attempts per value instead of nine).
const float32Text = (v: number): string => {
  if (Number.isInteger(v)) return String(v)
  let best = v.toPrecision(8)
  if (Math.fround(Number(best)) !== v) return v.toPrecision(9)
  for (let p = 7; p >= 1; p--) {
    const s = v.toPrecision(p)
    if (Math.fround(Number(s)) !== v) break
    best = s
  }
  return best
}

/** Serialises a vector as pgvector text with values that round-trip exactly as float32. */
export const vectorText = (vector: Float32Array): string => {
  const parts = new Array<string>(vector.length)
  for (let i = 0; i < vector.length; i++) parts[i] = float32Text(vector[i] as number)
  return `[${parts.join(",")}]`
}

/** The index of the first NaN or infinite component, or -1; pgvector rejects both. */
export const firstNonFinite = (vector: Float32Array): number => {
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) return i
  }
  return -1
}
