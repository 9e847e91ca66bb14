import type { Output } from './io.js'

/** 75 → "1m15s", 4 → "4s": short enough for one progress line. */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/**
 * Progress of a long command on stderr (stdout keeps the result): done/total, the rate so far and the
 * time left at that rate. `now` is injectable so a test can check the arithmetic.
 */
export function progress(err: Output, label: string, total: number, now: () => number = Date.now) {
  const started = now()
  return (done: number, detail = ''): void => {
    const seconds = Math.max((now() - started) / 1000, 0.001)
    const rate = done / seconds
    const eta = rate > 0 ? ` ETA ${duration((total - done) / rate)}` : ''
    err.write(
      `${label}: ${done}/${total} (${rate.toFixed(rate < 10 ? 1 : 0)}/s${eta})${detail === '' ? '' : `, ${detail}`}\n`,
    )
  }
}
