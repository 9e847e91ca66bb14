import type { Config } from '../config/config.js'

/** Where a command writes its result; process.stdout in the CLI, a collector in tests. */
export interface Output {
  write(chunk: string): unknown
}

/**
 * Every command has this shape, so tests run commands in-process without a subprocess. `out` carries
 * the result (with --json, only the JSON summary); `err` progress and notes (stderr in the CLI).
 */
export type Command = (config: Config, args: readonly string[], out: Output, err?: Output) => Promise<void>

/** Discards what is written: the `err` of a command called without one. */
export const discard: Output = { write: () => true }

/**
 * With --json the human lines go to `err`, so stdout holds exactly one JSON summary; without it
 * they go to `out` and the summary is not printed.
 */
export function reporter(json: boolean, out: Output, err: Output = discard) {
  return {
    say: json ? err : out,
    summary(value: unknown, human: () => void): void {
      if (json) line(out, JSON.stringify(value))
      else human()
    },
  }
}

export const line = (out: Output, text = ''): void => {
  out.write(`${text}\n`)
}

/** A plain text table: columns padded to their widest cell. */
export function table(out: Output, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  line(out, fmt(header))
  for (const r of rows) line(out, fmt(r))
}

/** Collects everything written, for tests and for commands that post-process output. */
export function collector(): Output & { text: () => string } {
  const chunks: string[] = []
  return {
    write(chunk: string) {
      chunks.push(chunk)
      return true
    },
    text: () => chunks.join(''),
  }
}
