import type { Config } from '../config/config.js'

/** Where a command writes its result; process.stdout in the CLI, a collector in tests. */
export interface Output {
  write(chunk: string): unknown
}

/** Every command has this shape, so tests run commands in-process without a subprocess. */
export type Command = (config: Config, args: readonly string[], out: Output) => Promise<void>

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
