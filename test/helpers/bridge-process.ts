import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { projectRoot } from '../../src/paths.js'

export interface BridgeProcess {
  readonly child: ChildProcess
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>
  kill: (signal?: NodeJS.Signals) => Promise<number | NodeJS.Signals | null>
  output: () => string
  /** The public and admin ports from the start line (HTTP_PORT=0 / ADMIN_PORT=0 pick free ones). */
  ports: () => { port: number; adminPort: number }
}

/** Bridges started by this test process and not yet gone. */
const live = new Set<ChildProcess>()
const killLive = (): void => {
  for (const child of live) child.kill('SIGKILL')
}
// A test process that ends without its teardowns (tap's timeout sends SIGALRM, then SIGKILL) would
// leave its bridges running, still in their consumer groups and holding database connections: they
// go with it. A listener of our own also keeps tap's signal handler from re-raising SIGALRM at once,
// so tap still reports the timeout and then ends the process itself.
process.once('exit', killLive)
process.on('SIGALRM', killLive)

/**
 * Runs the built bridge (dist/src/main.js) as its own process with the given environment, so a
 * test can SIGKILL it mid-stream. Resolves once its log says it started (or rejects with its output).
 */
export async function spawnBridge(env: Record<string, string>, timeoutMs = 60_000): Promise<BridgeProcess> {
  const child = spawn(process.execPath, [join(projectRoot, 'dist/src/main.js')], {
    // The start line is read from the log, so the child logs at info whatever the test's level.
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let out = ''
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child)
      resolve(signal ?? code)
    }),
  )
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (out.length > 200_000) out = out.slice(-100_000)
      if (out.includes('"msg":"bridge started"')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`bridge exited (${String(code)}) before it started:\n${out}`))
    })
  })
  return {
    child,
    exited,
    output: () => out,
    ports() {
      const m = /"port":(\d+),"adminPort":(\d+),"msg":"bridge started"/.exec(out)
      if (m === null) throw new Error(`no start line with ports:\n${out}`)
      return { port: Number(m[1]), adminPort: Number(m[2]) }
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
