import { randomUUID } from 'node:crypto'
import t from 'tap'
import { runRecord, type RecordMeta } from '../../src/consumer/record-runner.js'
import { BridgeError } from '../../src/errors.js'
import { buildOutbound } from '../../src/fakes/genesys-webhooks.js'
import { outboundFlow, type OutboundPorts } from '../../src/flows/outbound.js'
import { createLogger } from '../../src/log.js'
import { receiptReasonForExhausted } from '../../src/processors/classify-meta-error.js'
import { outboundEnvelope } from '../../src/processors/outbound-envelope.js'
import { parseGenesysWebhook } from '../../src/processors/parse-genesys-webhook.js'
import { sleep } from '../../src/retry.js'
import type { GenesysOutboundEnvelope } from '../../src/schemas/records.generated.js'
import { createSemaphore } from '../../src/semaphore.js'
import type { Sql } from '../../src/sinks/db/client.js'
import { createClaimer } from '../../src/sinks/db/claims.js'
import { createReceiptDebts } from '../../src/sinks/db/owed-receipts.js'
import { createSettlementStore } from '../../src/sinks/db/settlement.js'
import { createTrackingWriter, type TrackingWriter } from '../../src/sinks/db/tracking-outcomes.js'
import { lookupByMessageIds } from '../../src/sinks/db/tracking-rows.js'
import type { MetaSendResult } from '../../src/sinks/meta-client.js'
import { createTestDb } from '../helpers/db.js'
import { recordPorts } from '../helpers/flow-ports.js'
import { seedTenant } from '../helpers/tenants.js'

/**
 * What survives a process: a record redelivered after a crash or a rebalance, run by a fresh flow
 * over the same database (the real claim, tracking and settlement SQL; Meta and Genesys are
 * functions here). Each "process" is one outbound flow and one run of the record.
 */

const log = createLogger('silent')
const batch = { maxSize: 50, maxWaitMs: 1 }
const TENANT = 'acme'
const WA_ID = '447700900001'

const transient = (): MetaSendResult => ({
  ok: false,
  status: 500,
  error: { code: 131000, message: 'Something went wrong' },
})
const outsideWindow = (): MetaSendResult => ({
  ok: false,
  status: 400,
  error: { code: 131047, message: 'Re-engagement message' },
})
const accepted = (): MetaSendResult => ({ ok: true, wamid: `wamid.${randomUUID()}`, waId: WA_ID, status: 200 })

interface Receipt {
  messageId: string
  reason: string
}

/** One bridge process's outbound flow over the shared database. */
function processOver(
  sql: Sql,
  opts: {
    answer: () => MetaSendResult
    envelopes: Map<string, GenesysOutboundEnvelope>
    receipts?: Receipt[]
    deadLetters?: string[]
    /** Wraps the tracking writer (to crash after a write). */
    tracking?: (w: TrackingWriter) => TrackingWriter
    sendFailedReceipt?: OutboundPorts['sendFailedReceipt']
  },
) {
  const sends: string[] = []
  const writer = createTrackingWriter(sql, batch)
  const ports: OutboundPorts = {
    ...recordPorts(opts),
    mappingByConversation: (tenantId, conversationId) =>
      Promise.resolve({ tenantId, conversationId, waId: WA_ID, phoneNumberId: 'pn' }),
    mappingByWa: () => Promise.resolve(undefined),
    learnMapping: () => Promise.resolve(),
    whatsappCredentials: () => Promise.resolve({ accessToken: 'token', phoneNumberId: 'pn' }),
    rehostMedia: () => Promise.reject(new Error('no media in this test')),
    claimer: createClaimer(sql, batch),
    tracking: opts.tracking?.(writer) ?? writer,
    settlement: createSettlementStore(sql, batch),
    reconcileWindowMs: 60_000,
    settlePollMs: 20,
    sleep,
    sendSlots: createSemaphore(4),
    sendRate: () => Promise.resolve(),
    slowSendRate: () => Promise.resolve(),
    pairRetryMaxMs: 300_000,
    meta: {
      sendMessage: () => {
        sends.push('send')
        return Promise.resolve(opts.answer())
      },
      getMediaUrl: () => Promise.reject(new Error('unused')),
      downloadMedia: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    },
    receipts: createReceiptDebts(sql),
    sendFailedReceipt:
      opts.sendFailedReceipt ??
      ((_tenant, r) => {
        opts.receipts?.push({ messageId: r.messageId, reason: r.reason })
        return Promise.resolve()
      }),
    touchActivity: () => undefined,
  }
  return { flow: outboundFlow(ports), sends }
}

/** A Genesys message as ingest would have put it on the topic; the record's value names it. */
function message(envelopes: Map<string, GenesysOutboundEnvelope>, text: string): RecordMeta & { id: string } {
  const payload = Buffer.from(
    JSON.stringify(buildOutbound({ integrationId: 'int', conversationId: randomUUID(), toId: WA_ID, text })),
  )
  const parsed = parseGenesysWebhook(payload, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) throw new Error(parsed.reason)
  const { env } = outboundEnvelope(parsed.value, { tenantId: TENANT, receivedAtMs: Date.now(), payload, resend: false })
  envelopes.set(env.messageId, env)
  return {
    id: env.messageId,
    topic: 'genesys-outbound',
    partition: 0,
    offset: 0,
    key: null,
    value: Buffer.from(env.messageId),
  }
}

const CEILING_MS = 60_000
const runnerOpts = {
  maxAttempts: 0,
  retryBaseMs: 5,
  retryMaxMs: 20,
  retryMaxDurationMs: CEILING_MS,
  unknownErrorMaxMs: 20,
}

/**
 * Runs the record to its end, or gives up after 5 s or when `stop` aborts (then 'abandoned': the
 * process stopped, or died, and the record is read again by the next owner).
 */
async function run(flow: ReturnType<typeof outboundFlow>, record: RecordMeta, stop = new AbortController()) {
  const timer = setTimeout(() => stop.abort(), 5000)
  try {
    return await runRecord(flow, record, runnerOpts, { log, metrics: undefined, signal: stop.signal })
  } finally {
    clearTimeout(timer)
  }
}

const rowOf = async (sql: Sql, id: string) => (await lookupByMessageIds(sql, TENANT, 'outbound', [id])).get(id)

/** The row as an earlier process left it: claimed, then Meta said 500 (known not sent) at `failedAt`. */
async function failedEarlier(sql: Sql, id: string, failedAt: Date): Promise<void> {
  const claimer = createClaimer(sql, batch)
  const writer = createTrackingWriter(sql, batch)
  await claimer.claim({ tenantId: TENANT, direction: 'outbound', messageId: id })
  await writer.markRetrying({
    tenantId: TENANT,
    direction: 'outbound',
    messageId: id,
    errorCode: '131000',
    errorText: 'Something went wrong',
    at: failedAt,
  })
}

t.test('the retry ceiling counts from the first failure the row records, across a restart', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, TENANT)
  const envelopes = new Map<string, GenesysOutboundEnvelope>()

  t.test('first failed longer ago than the ceiling: dead-lettered on its next transient failure', async (t) => {
    const m = message(envelopes, 'failing since before the restart')
    await failedEarlier(sql, m.id, new Date(Date.now() - CEILING_MS - 60_000))
    const deadLetters: string[] = []
    const { flow, sends } = processOver(sql, { answer: transient, envelopes, deadLetters })
    t.equal(await run(flow, m), 'done', 'finished (not still retrying when the test gave up)')
    t.same(deadLetters, ['GWB_META_TRANSIENT'], 'dead-lettered')
    t.equal(sends.length, 1, 'tried once more, then the ceiling was over')
    t.equal((await rowOf(sql, m.id))?.status, 'dead_lettered')
  })

  t.test('first failed within the ceiling: retried as before, and sent', async (t) => {
    const m = message(envelopes, 'failing for a short while')
    await failedEarlier(sql, m.id, new Date(Date.now() - CEILING_MS / 2))
    let n = 0
    const { flow, sends } = processOver(sql, { answer: () => (++n < 3 ? transient() : accepted()), envelopes })
    t.equal(await run(flow, m), 'done')
    t.equal(sends.length, 3)
    t.equal((await rowOf(sql, m.id))?.status, 'sent')
  })
})

t.test('a Failed receipt is owed from the move to failed until it is produced', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, TENANT)
  const envelopes = new Map<string, GenesysOutboundEnvelope>()
  const debts = createReceiptDebts(sql)

  t.test('the process dies right after markFailed: the redelivered record produces the receipt, once', async (t) => {
    const m = message(envelopes, 'outside the 24 h window')
    const receipts: Receipt[] = []
    // Process A: the row moves to failed, then the process is gone before the receipt.
    const killed = new AbortController()
    const a = processOver(sql, {
      answer: outsideWindow,
      envelopes,
      receipts,
      tracking: (w) => ({
        ...w,
        markFailed: async (i) => {
          const moved = await w.markFailed(i)
          killed.abort()
          throw new Error(`killed after markFailed (moved: ${moved})`)
        },
      }),
    })
    t.equal(await run(a.flow, m, killed), 'abandoned', 'A died with the record unfinished')
    t.equal((await rowOf(sql, m.id))?.status, 'failed', 'the row moved to failed')
    t.same(receipts, [], 'A produced no receipt')
    t.same(await debts.owed({ tenantId: TENANT, messageId: m.id }), {
      reason: 'MessageNotAllowed',
      text: (await rowOf(sql, m.id))?.errorText,
    })

    // Process B gets the record again (its offset was never committed).
    const b = processOver(sql, { answer: accepted, envelopes, receipts })
    t.equal(await run(b.flow, m), 'done')
    t.same(receipts, [{ messageId: m.id, reason: 'MessageNotAllowed' }], 'the agent gets its Failed receipt')
    t.equal(b.sends.length, 0, 'not sent to Meta again')
    t.equal(await debts.owed({ tenantId: TENANT, messageId: m.id }), undefined, 'the debt is paid')

    // Yet another redelivery (B died before its commit): nothing more is owed.
    const c = processOver(sql, { answer: accepted, envelopes, receipts })
    t.equal(await run(c.flow, m), 'done')
    t.equal(receipts.length, 1, 'exactly one receipt in all')
  })

  t.test('the process dies right after dead-lettering: the redelivered record produces the receipt', async (t) => {
    const m = message(envelopes, 'Meta down past the ceiling')
    await failedEarlier(sql, m.id, new Date(Date.now() - CEILING_MS - 60_000))
    const receipts: Receipt[] = []
    const killed = new AbortController()
    const a = processOver(sql, {
      answer: transient,
      envelopes,
      receipts,
      tracking: (w) => ({
        ...w,
        markDeadLettered: async (i) => {
          await w.markDeadLettered(i)
          killed.abort()
          throw new Error('killed after markDeadLettered')
        },
      }),
    })
    t.equal(await run(a.flow, m, killed), 'abandoned')
    t.equal((await rowOf(sql, m.id))?.status, 'dead_lettered')
    t.same(receipts, [])
    const b = processOver(sql, { answer: accepted, envelopes, receipts })
    t.equal(await run(b.flow, m), 'done')
    t.same(receipts, [{ messageId: m.id, reason: receiptReasonForExhausted('GWB_META_TRANSIENT') }])
    t.equal(b.sends.length, 0, 'a dead-lettered message is not sent by a plain redelivery')
  })

  t.test('Genesys refusing the receipt for a while: the retried failure still produces it', async (t) => {
    const m = message(envelopes, 'outside the window, Genesys busy')
    const receipts: Receipt[] = []
    let refusals = 2
    const { flow } = processOver(sql, {
      answer: outsideWindow,
      envelopes,
      sendFailedReceipt: (_tenant, r) => {
        if (refusals-- > 0) return Promise.reject(new Error('Genesys 503'))
        receipts.push({ messageId: r.messageId, reason: r.reason })
        return Promise.resolve()
      },
    })
    t.equal(await run(flow, m), 'done')
    t.same(receipts, [{ messageId: m.id, reason: 'MessageNotAllowed' }])
  })

  t.test('no receipt for a row that did not move to failed', async (t) => {
    const m = message(envelopes, 'sent already')
    const claimer = createClaimer(sql, batch)
    const writer = createTrackingWriter(sql, batch)
    const ref = { tenantId: TENANT, direction: 'outbound' as const, messageId: m.id }
    await claimer.claim(ref)
    await writer.markSent({ ...ref, wamid: 'wamid.sent-before', at: new Date() })
    const receipts: Receipt[] = []
    const { flow, sends } = processOver(sql, { answer: outsideWindow, envelopes, receipts })
    // A late failure of a message another owner sent (the runner's onFail on a stale copy).
    const value = m.value ?? Buffer.alloc(0)
    const error = new BridgeError('GWB_META_PERMANENT', 'refused', { details: { receiptReason: 'MessageNotAllowed' } })
    await flow.onFail(await flow.decode(value), error, m, 1)
    t.equal(await run(flow, m), 'done', 'a redelivered record of it')
    t.same(receipts, [], 'no Failed receipt for a message that was sent')
    t.equal(sends.length, 0)
    t.equal((await rowOf(sql, m.id))?.status, 'sent')
  })
})
