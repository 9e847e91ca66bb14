import type { FakeGenesys, GenesysClient } from './fake-genesys.js'
import type { FakeMeta, MetaFault, MetaFaultMatch, MetaNumber, ReceivedMessage } from './fake-meta.js'
import type { LatencyModel } from './fault-plan.js'
import type { EmittedStatus, StatusWebhookOptions } from './meta-status-emitter.js'

/**
 * A control channel for fakes running in a process of their own (run.ts started with an IPC
 * channel, child_process.fork): a test whose own process is busy posting traffic keeps the fakes'
 * answers and status webhooks on time, and still reads what they received and scripts them.
 * One request `{ id, op, args }` → one reply `{ id, ok, value | error }`.
 */

/** What a received send looks like across the channel: no headers, no downloaded bytes. */
export type ReceivedSummary = Pick<
  ReceivedMessage,
  'seq' | 'phoneNumberId' | 'body' | 'raw' | 'arrivedAt' | 'status' | 'accepted' | 'wamid'
>

/** Selects recorded sends: accepted ones only, and/or those whose raw body contains a string. */
export interface ReceivedFilter {
  acceptedOnly?: boolean
  contains?: string
}

export interface ControlOps {
  addNumber: (n: MetaNumber) => void
  addClient: (c: GenesysClient) => void
  setMetaLatency: (m: LatencyModel | null) => void
  /** `null` turns status webhooks off. */
  setStatusWebhooks: (o: StatusWebhookOptions | null) => void
  failMetaNext: (a: { n: number; fault: MetaFault; match?: MetaFaultMatch }) => void
  countReceived: (f: ReceivedFilter) => number
  received: (f: ReceivedFilter) => ReceivedSummary[]
  /** Emitted statuses whose callback data contains the string (all when omitted). */
  emittedStatuses: (a: { callbackContains?: string }) => EmittedStatus[]
}

export type ControlRequest = {
  [K in keyof ControlOps]: { id: number; op: K; args: Parameters<ControlOps[K]>[0] }
}[keyof ControlOps]

export type ControlReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string }

const matches = (f: ReceivedFilter) => (r: ReceivedMessage) =>
  (f.acceptedOnly !== true || r.accepted) && (f.contains === undefined || r.raw.includes(f.contains))

export function controlOps(fakes: { meta: FakeMeta; genesys: FakeGenesys }): ControlOps {
  const { meta, genesys } = fakes
  return {
    addNumber: (n) => meta.addNumber(n),
    addClient: (c) => genesys.addClient(c),
    setMetaLatency: (m) => meta.setLatency(m ?? undefined),
    setStatusWebhooks: (o) => meta.setStatusWebhooks(o ?? undefined),
    failMetaNext: (a) => meta.failNext(a.n, a.fault, a.match),
    countReceived: (f) => meta.received.filter(matches(f)).length,
    received: (f) =>
      meta.received.filter(matches(f)).map((r) => ({
        seq: r.seq,
        phoneNumberId: r.phoneNumberId,
        body: r.body,
        raw: r.raw,
        arrivedAt: r.arrivedAt,
        status: r.status,
        accepted: r.accepted,
        ...(r.wamid === undefined ? {} : { wamid: r.wamid }),
      })),
    emittedStatuses: (a) =>
      meta.emittedStatuses.filter(
        (s) => a.callbackContains === undefined || (s.callbackData ?? '').includes(a.callbackContains),
      ),
  }
}

/** Answers one request; a failing op is answered with its message, never thrown. */
export function answer(ops: ControlOps, req: ControlRequest): ControlReply {
  try {
    const op = ops[req.op] as (args: unknown) => unknown
    if (typeof op !== 'function') return { id: req.id, ok: false, error: `unknown op ${String(req.op)}` }
    return { id: req.id, ok: true, value: op(req.args) ?? null }
  } catch (err) {
    return { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }
  }
}

/**
 * Serves the channel of this process, when it has one: says where the fakes listen, answers requests,
 * and calls `onClose` when the parent goes away (a fake left behind would hold its ports).
 */
export function serveControl(
  fakes: { meta: FakeMeta; genesys: FakeGenesys },
  onClose: () => void,
  proc: NodeJS.Process = process,
): void {
  const send = proc.send?.bind(proc)
  if (send === undefined) return
  const ops = controlOps(fakes)
  proc.on('message', (msg: unknown) => {
    if (typeof msg !== 'object' || msg === null || typeof (msg as { id?: unknown }).id !== 'number') return
    send(answer(ops, msg as ControlRequest))
  })
  proc.once('disconnect', onClose)
  send({ ready: { metaUrl: fakes.meta.url, genesysUrl: fakes.genesys.url } })
}
