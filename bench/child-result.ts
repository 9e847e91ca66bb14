import { spawn, type ChildProcess } from 'node:child_process'

// The A/B benches run each variant in a child process of its own, so its CPU is that variant's alone.

/** Starts `script` under this Node in a child process; its stdout is piped, its stderr inherited. */
export function startChild(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  })
}

/** Runs `script` in a child process to its end; resolves the JSON of the last line it printed. */
export function childResult<T>(script: string, args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = startChild(script, args)
    let out = ''
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    p.on('error', reject)
    p.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T)
      } catch {
        reject(new Error(`${what} printed no result: ${out}`))
      }
    })
  })
}
