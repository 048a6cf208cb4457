/** Where progress is written: stderr, or a stand-in with the same few members in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
  readonly rows?: number | undefined
  write(text: string): unknown
}

// Cursor up n lines, then erase to the end of the screen: the block is always the last
// thing on the terminal and the cursor sits at the start of the line below it.
const erase = (lines: number): string => (lines > 0 ? `\x1b[${lines}A\x1b[J` : "")

/**
 * A block of lines kept at the bottom of a terminal and rewritten in place. Other text
 * goes above it through `writeAbove` (erase the block, write, draw it again, in one
 * write so nothing flickers or interleaves). Each line is cut to the terminal's width,
 * since a wrapped line would throw off the count of lines to erase, and the block to its
 * height for the same reason.
 */
export interface LiveLines {
  /** Replaces the block. */
  readonly show: (lines: ReadonlyArray<string>) => void
  /** Writes a line (or several, newline-separated) above the block, replacing the block with `next` when given. */
  readonly writeAbove: (text: string, next?: ReadonlyArray<string>) => void
  /** Erases the block; the next `show` draws it again. */
  readonly clear: () => void
  /** Lines now on the screen. */
  readonly shown: () => number
  /** The longest line that fits. */
  readonly width: () => number
}

export const makeLiveLines = (stream: ProgressStream): LiveLines => {
  let frame: ReadonlyArray<string> = []
  let onScreen = 0
  // A pty without a size reports 0 columns: assume the classic 80.
  const width = () => Math.max(20, (stream.columns ?? 0) > 0 ? stream.columns! : 80) - 1
  const fit = (lines: ReadonlyArray<string>): ReadonlyArray<string> => {
    const w = width()
    const height = (stream.rows ?? 0) > 2 ? stream.rows! - 1 : Infinity
    const cut = lines.map((l) => (l.length > w ? `${l.slice(0, w - 1)}…` : l))
    return cut.length <= height ? cut : [...cut.slice(0, height - 1), `… and ${cut.length - height + 1} more`]
  }
  const draw = (before: string) => {
    const text = frame.map((l) => `${l}\n`).join("")
    stream.write(`${erase(onScreen)}${before}${text}`)
    onScreen = frame.length
  }
  return {
    show: (lines) => {
      frame = fit(lines)
      if (frame.length > 0 || onScreen > 0) draw("")
    },
    writeAbove: (text, next) => {
      if (next) frame = fit(next)
      draw(text.endsWith("\n") ? text : `${text}\n`)
    },
    clear: () => {
      if (onScreen > 0) stream.write(erase(onScreen))
      onScreen = 0
      frame = []
    },
    shown: () => onScreen,
    width
  }
}
