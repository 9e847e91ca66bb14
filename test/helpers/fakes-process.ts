import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { ControlOps, ReceivedFilter, ReceivedSummary } from '../../src/fakes/control.js'
import { projectRoot } from '../../src/paths.js'

/**
 * Both fakes (dist/src/fakes/run.js) in a process of their own, scripted and read over its IPC
 * control channel (src/fakes/control.ts). A test that drives thousands of messages keeps its own
 * event loop's stalls away from the fakes' answers and status webhooks.
 */
export interface FakesProcess {
  readonly metaUrl: string
  readonly genesysUrl: string
  call: <K extends keyof ControlOps>(op: K, args: Parameters<ControlOps[K]>[0]) => Promise<ReturnType<ControlOps[K]>>
  received: (f: ReceivedFilter) => Promise<ReceivedSummary[]>
  /** Polls until `count` sends match; rejects after `timeoutMs` with how many did. */
  waitForCount: (count: number, f: ReceivedFilter, timeoutMs: number) => Promise<void>
  output: () => string
  close: () => Promise<void>
}

export async function spawnFakes(args: string[] = [], timeoutMs = 30_000): Promise<FakesProcess> {
  const child: ChildProcess = fork(join(projectRoot, 'dist/src/fakes/run.js'), args, {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [],
  })
  let out = ''
  const keep = (c: Buffer): void => {
    out = (out + c.toString()).slice(-50_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 0
  const ready = new Promise<{ metaUrl: string; genesysUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fakes did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs)
    child.on('message', (msg: unknown) => {
      const m = msg as {
        ready?: { metaUrl: string; genesysUrl: string }
        id?: number
        ok?: boolean
        value?: unknown
        error?: string
      }
      if (m.ready !== undefined) {
        clearTimeout(timer)
        resolve(m.ready)
        return
      }
      const p = typeof m.id === 'number' ? pending.get(m.id) : undefined
      if (p === undefined) return
      pending.delete(m.id as number)
      if (m.ok === true) p.resolve(m.value)
      else p.reject(new Error(`fakes: ${m.error ?? 'no answer'}`))
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`fakes exited before they started:\n${out}`))
      for (const p of pending.values()) p.reject(new Error(`fakes exited:\n${out}`))
      pending.clear()
    })
  })
  const urls = await ready

  const call: FakesProcess['call'] = (op, args) =>
    new Promise((resolve, reject) => {
      const id = ++nextId
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      child.send({ id, op, args }, (err) => {
        if (err === null) return
        pending.delete(id)
        reject(err)
      })
    })

  return {
    ...urls,
    call,
    received: (f) => call('received', f),
    async waitForCount(count, f, ms) {
      const deadline = Date.now() + ms
      for (;;) {
        const n = await call('countReceived', f)
        if (n >= count) return
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${count} sends; ${n} arrived`)
        await new Promise((r) => setTimeout(r, 200))
      }
    },
    output: () => out,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}
