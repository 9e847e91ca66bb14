import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildOutbound } from '../../src/fakes/genesys-webhooks.js'
import { outboundFlow, type OutboundPorts } from '../../src/flows/outbound.js'
import { untimed } from '../../src/consumer/record-runner.js'
import { createLogger } from '../../src/log.js'
import { outboundEnvelope } from '../../src/processors/outbound-envelope.js'
import { parseGenesysWebhook } from '../../src/processors/parse-genesys-webhook.js'
import type { GenesysOutboundEnvelope } from '../../src/schemas/records.generated.js'
import type { TrackingStatus } from '../../src/sinks/db/tracking-rows.js'
import { sleep } from '../../src/retry.js'
import { createSemaphore } from '../../src/semaphore.js'
import type { MetaSendResult } from '../../src/sinks/meta-client.js'

/**
 * The outbound flow on literals: the claim hand-over between two owners of one conversation (a
 * rebalance) and what a send with no answer leads to. An in-memory claim table with the database's
 * rules stands in for message_tracking.
 */

interface Row {
  status: TrackingStatus
  claimedAt: Date
  wamid?: string
  resentAt?: Date
  attempts?: number
  settledByStatus?: boolean
  receiptOwed?: { reason: string; text: string }
}

const ok = (): MetaSendResult => ({ ok: true, wamid: `wamid.${randomUUID()}`, waId: '447700900001', status: 200 })

/**
 * One owner's flow over a shared claim table; `record` makes a webhook of a conversation as ingest
 * would have produced it, `setLater` changes a row the way the other owner would.
 */
function world(opts: { windowMs?: number; answer?: (text: string) => MetaSendResult; unmapped?: boolean } = {}) {
  const table = new Map<string, Row>()
  const sent: string[] = []
  const receipts: string[] = []
  /** Message ids whose row the flow read (settlement.state). */
  const reads: string[] = []
  const envelopes = new Map<string, GenesysOutboundEnvelope>()
  const answer = opts.answer ?? ok
  const set = (id: string, from: TrackingStatus[], to: TrackingStatus): Promise<boolean> => {
    const row = table.get(id)
    if (row === undefined || !from.includes(row.status)) return Promise.resolve(false)
    row.status = to
    return Promise.resolve(true)
  }
  // The receipt debt goes with the move, in the same write (as in tracking-outcomes.ts).
  const owe = (moved: boolean, id: string, reason: string | undefined, text: string): boolean => {
    const row = table.get(id)
    if (moved && row !== undefined && reason !== undefined) row.receiptOwed = { reason, text }
    return moved
  }
  const ports: OutboundPorts = {
    publishError: () => Promise.resolve(),
    publishDeadLetter: () => Promise.resolve(),
    now: () => Date.now(),
    log: createLogger('silent'),
    decode: (value) => {
      const env = envelopes.get(value.toString())
      return env === undefined ? Promise.reject(new Error('unknown record')) : Promise.resolve(env)
    },
    mappingByConversation: (tenantId, conversationId) =>
      Promise.resolve(
        opts.unmapped === true ? undefined : { tenantId, conversationId, waId: '447700900001', phoneNumberId: 'pn' },
      ),
    mappingByWa: () => Promise.resolve(undefined),
    slowSendRate: () => Promise.resolve(),
    pairRetryMaxMs: 300_000,
    learnMapping: () => Promise.resolve(),
    whatsappCredentials: () => Promise.resolve({ accessToken: 'token', phoneNumberId: 'pn' }),
    rehostMedia: () => Promise.reject(new Error('no media in this test')),
    claimer: {
      // The database's rule: a new row is claimed, an existing one only from 'retrying'.
      claim: ({ messageId }) => {
        const row = table.get(messageId)
        if (row !== undefined && row.status !== 'retrying') return Promise.resolve(false)
        table.set(messageId, { ...row, status: 'claimed', claimedAt: new Date(), attempts: (row?.attempts ?? 0) + 1 })
        return Promise.resolve(true)
      },
      drain: () => Promise.resolve(),
    },
    tracking: {
      markSent: ({ messageId }) => set(messageId, ['claimed', 'retrying', 'dead_lettered'], 'sent'),
      markRetrying: ({ messageId }) => set(messageId, ['claimed'], 'retrying'),
      markFailed: ({ messageId, receiptOwed, errorText }) =>
        set(messageId, ['claimed', 'retrying', 'dead_lettered'], 'failed').then((moved) =>
          owe(moved, messageId, receiptOwed, errorText),
        ),
      markDeadLettered: ({ messageId, receiptOwed, errorText }) =>
        set(messageId, ['claimed', 'retrying'], 'dead_lettered').then((moved) =>
          owe(moved, messageId, receiptOwed, errorText),
        ),
      release: ({ messageId }) => set(messageId, ['claimed', 'sent', 'failed', 'dead_lettered'], 'retrying'),
      drain: () => Promise.resolve(),
    },
    // The rules of src/sinks/db/settlement.ts, in memory.
    settlement: {
      state: ({ messageId }) => {
        reads.push(messageId)
        const r = table.get(messageId)
        return Promise.resolve(
          r === undefined
            ? undefined
            : {
                status: r.status,
                wamid: r.wamid ?? null,
                claimedAt: r.claimedAt,
                resentAt: r.resentAt ?? null,
                settledByStatus: r.settledByStatus ?? false,
                attempts: r.attempts ?? 1,
                firstFailedAt: null,
              },
        )
      },
      takeForResend: ({ messageId, attempts }) => {
        const r = table.get(messageId)
        if (r?.status !== 'claimed' || r.wamid !== undefined || r.resentAt !== undefined) return Promise.resolve(false)
        if ((r.attempts ?? 1) !== attempts) return Promise.resolve(false)
        Object.assign(r, { claimedAt: new Date(), resentAt: new Date(), attempts: attempts + 1 })
        return Promise.resolve(true)
      },
      useResendToken: () => Promise.resolve(false),
    },
    reconcileWindowMs: opts.windowMs ?? 10_000,
    settlePollMs: 20,
    sleep,
    sendSlots: createSemaphore(4),
    sendRate: () => Promise.resolve(),
    meta: {
      sendMessage: ({ body }) => {
        const text = (body as { text: { body: string } }).text.body
        sent.push(text)
        return Promise.resolve(answer(text))
      },
      getMediaUrl: () => Promise.reject(new Error('unused')),
      downloadMedia: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    },
    receipts: {
      owed: ({ messageId }) => Promise.resolve(table.get(messageId)?.receiptOwed),
      paid: ({ messageId }) => {
        const row = table.get(messageId)
        if (row !== undefined) delete row.receiptOwed
        return Promise.resolve()
      },
    },
    sendFailedReceipt: (_tenant, r) => {
      receipts.push(r.messageId)
      return Promise.resolve()
    },
    touchActivity: () => undefined,
  }
  const record = (text: string, conversationId: string, toId = '447700900001'): { value: Buffer; id: string } => {
    const payload = Buffer.from(JSON.stringify(buildOutbound({ integrationId: 'int', conversationId, toId, text })))
    const parsed = parseGenesysWebhook(payload, Number.MAX_SAFE_INTEGER)
    if (!parsed.ok) throw new Error(parsed.reason)
    const { env } = outboundEnvelope(parsed.value, { tenantId: 'tn', receivedAtMs: Date.now(), payload, resend: false })
    envelopes.set(env.messageId, env)
    return { value: Buffer.from(env.messageId), id: env.messageId }
  }
  const setLater = (id: string, status: TrackingStatus, ms: number): void => {
    setTimeout(() => {
      const row = table.get(id)
      if (row !== undefined) row.status = status
    }, ms)
  }
  return { table, sent, receipts, reads, flow: outboundFlow(ports), record, setLater }
}

const meta = { topic: 'x', partition: 0, offset: 0, key: null, value: null }

t.test(
  'a message whose other owner is backing off (retrying) is claimed and sent here, before the next one',
  async (t) => {
    const { table, sent, flow, record, setLater } = world()
    const conv = randomUUID()
    const first = record('m1', conv)
    const second = record('m2', conv)
    // The previous owner claimed m1, then Meta answered 500: known not sent, it backs off.
    table.set(first.id, { status: 'claimed', claimedAt: new Date() })
    setLater(first.id, 'retrying', 300)

    const r1 = await flow.handle(await flow.decode(first.value), 1, meta, untimed)
    t.equal(r1.kind, 'ok', 'm1 sent by this owner, not dropped as a duplicate')
    const r2 = await flow.handle(await flow.decode(second.value), 1, meta, untimed)
    t.equal(r2.kind, 'ok')
    t.same(sent, ['m1', 'm2'], 'each once, in order')
    t.equal(table.get(first.id)?.status, 'sent')
  },
)

t.test('a message sent at the first try costs its claim and its tracking write; its row is not read', async (t) => {
  const { table, sent, reads, flow, record } = world()
  const m = record('first try', randomUUID())
  const r = await flow.handle(await flow.decode(m.value), 1, meta, untimed)
  t.equal(r.kind, 'ok')
  t.same(sent, ['first try'])
  t.equal(table.get(m.id)?.status, 'sent')
  t.same(reads, [], 'no read of the row before the claim (a statement per message, issue 15)')
})

t.test('a redelivered copy of a sent message whose mapping now fails: dropped, no Failed receipt', async (t) => {
  const { table, sent, receipts, flow, record } = world({ unmapped: true })
  // No mapping, and a channel.to.id that is no wa_id: the recipient cannot be resolved any more.
  const m = record('sent before', randomUUID(), 'opaque-id')
  table.set(m.id, { status: 'delivered', claimedAt: new Date(), wamid: 'wamid.x' })
  const r = await flow.handle(await flow.decode(m.value), 1, meta, untimed)
  t.equal(r.kind, 'drop', 'its row says it went out')
  t.same(sent, [])
  t.same(receipts, [])
  t.equal(table.get(m.id)?.status, 'delivered')

  const fresh = record('never sent', randomUUID(), 'opaque-id')
  const f = await flow.handle(await flow.decode(fresh.value), 1, meta, untimed)
  t.equal(f.kind, 'fail', 'a message with no row fails as before (InvalidDestination)')
})

t.test('a message another owner finished is a duplicate: dropped, not sent', async (t) => {
  const { table, sent, flow, record, setLater } = world()
  const m = record('done already', randomUUID())
  table.set(m.id, { status: 'claimed', claimedAt: new Date() })
  setLater(m.id, 'sent', 300)
  const r = await flow.handle(await flow.decode(m.value), 1, meta, untimed)
  t.equal(r.kind, 'drop', 'waited for the other owner, then dropped')
  t.same(sent, [])
})

t.test('a claim nobody resolves within the window is resent once, in its place in the conversation', async (t) => {
  const { table, sent, flow, record } = world({ windowMs: 400 })
  const conv = randomUUID()
  const m = record('owner died', conv)
  table.set(m.id, { status: 'claimed', claimedAt: new Date() })
  const r = await flow.handle(await flow.decode(m.value), 1, meta, untimed)
  t.equal(r.kind, 'ok')
  t.same(sent, ['owner died'], 'resent once after the window')
  t.equal(table.get(m.id)?.status, 'sent')
  t.ok(table.get(m.id)?.resentAt, 'the resend is recorded')
})

t.test('shutdown ends the wait on an unsettled row at once, deciding nothing', async (t) => {
  const { table, sent, receipts, flow, record } = world({ windowMs: 600_000 })
  const m = record('owner died', randomUUID())
  table.set(m.id, { status: 'claimed', claimedAt: new Date() })
  const shutdown = new AbortController()
  const r = flow.handle(await flow.decode(m.value), 1, meta, untimed, shutdown.signal)
  shutdown.abort()
  const result = await r
  t.equal(result.kind, 'retry', 'handed back to the runner, which abandons it at shutdown')
  t.same(sent, [], 'not resent')
  t.same(receipts, [])
  t.equal(table.get(m.id)?.status, 'claimed', 'the row is left for the next owner to settle')
  t.notOk(table.get(m.id)?.resentAt, 'no resend recorded')
})

const noAnswer: MetaSendResult = {
  ok: false,
  status: 0,
  network: true,
  networkCode: 'UND_ERR_HEADERS_TIMEOUT',
  error: { message: 'Headers Timeout Error' },
  outcomeUnknown: true,
}

t.test('a send with no answer is settled by a status naming it: not resent, the conversation waits', async (t) => {
  const { table, sent, receipts, flow, record } = world({
    answer: (x) => (x === 'm1' ? noAnswer : ok()),
    windowMs: 5000,
  })
  const conv = randomUUID()
  const first = record('m1', conv)
  // The status flow records the wamid a status names (settleFromStatus) a moment later.
  setTimeout(
    () => Object.assign(table.get(first.id) ?? {}, { wamid: 'wamid.s', status: 'sent', settledByStatus: true }),
    200,
  )
  const r1 = await flow.handle(await flow.decode(first.value), 1, meta, untimed)
  t.equal(r1.kind, 'ok', 'settled')
  const r2 = await flow.handle(await flow.decode(record('m2', conv).value), 1, meta, untimed)
  t.equal(r2.kind, 'ok')
  t.same(sent, ['m1', 'm2'], 'm1 tried once, never resent; m2 after it')
  t.same(receipts, [])
})

t.test('no answer and no status: resent once; still none: dead-lettered unsettled, agent not told', async (t) => {
  const { table, sent, receipts, flow, record } = world({ answer: () => noAnswer, windowMs: 300 })
  const m = record('m1', randomUUID())
  const decoded = await flow.decode(m.value)
  const r = await flow.handle(decoded, 1, meta, untimed)
  t.equal(r.kind, 'dead-letter')
  if (r.kind !== 'dead-letter') return
  t.equal(r.error.code, 'GWB_SEND_UNSETTLED')
  t.same(sent, ['m1', 'm1'], 'sent, then resent exactly once')
  await flow.onDeadLetter(decoded, r.error, meta, 1)
  t.equal(table.get(m.id)?.status, 'dead_lettered', 'listed by gwb in-doubt list')
  t.same(receipts, [], 'no Failed receipt for a message that may have been delivered')
})

t.test(
  'a send refused before it left (connection refused) is retried, and the agent hears of it only when retries run out',
  async (t) => {
    const refused = (): MetaSendResult => ({
      ok: false,
      status: 0,
      network: true,
      networkCode: 'ECONNREFUSED',
      error: { message: 'connect ECONNREFUSED' },
    })
    const { table, receipts, flow, record } = world({ answer: refused })
    const m = record('m1', randomUUID())
    const decoded = await flow.decode(m.value)
    const r = await flow.handle(decoded, 1, meta, untimed)
    t.equal(r.kind, 'retry', 'known not sent: safe to try again')
    t.equal(table.get(m.id)?.status, 'retrying', 'claimable again')
    if (r.kind !== 'retry') return
    await flow.onDeadLetter(decoded, r.error, meta, 5)
    t.same(receipts, [m.id], 'exhausted: Failed receipt to the agent')
  },
)
