import { randomUUID } from 'node:crypto'
import t from 'tap'
import { runRecord, type RecordMeta } from '../../src/consumer/record-runner.js'
import { statusFlow, type StatusPorts } from '../../src/flows/status.js'
import { createLogger } from '../../src/log.js'
import type { GenesysReceipt } from '../../src/processors/types/genesys.js'
import type { WhatsAppStatusEnvelope } from '../../src/schemas/records.generated.js'
import type { Sql } from '../../src/sinks/db/client.js'
import { clearOwedStatusReceipt, createStatusApplier } from '../../src/sinks/db/delivery-statuses.js'
import { createSettlementStore } from '../../src/sinks/db/settlement.js'
import type { GenesysPostResult } from '../../src/sinks/genesys-client.js'
import { createTestDb } from '../helpers/db.js'
import { recordPorts } from '../helpers/flow-ports.js'
import { seedTenant } from '../helpers/tenants.js'

/**
 * What survives a process for the status flow's receipts: a status record handled again after a
 * crash, a dead letter or a Genesys refusal, by a fresh flow over the same database (the real
 * status write and its owed receipt; Genesys is a function here). Each "process" is one status
 * flow and one run of the record.
 */

const log = createLogger('silent')
const batch = { maxSize: 50, maxWaitMs: 1 }
const TENANT = 'acme'
const WA_ID = '447700900002'

type Status = 'sent' | 'delivered' | 'read' | 'failed'
const accepted = (): GenesysPostResult => ({ ok: true, status: 202, body: {} })
const refused = (status: number): GenesysPostResult => ({ ok: false, status, error: { message: `HTTP ${status}` } })

/** One bridge process's status flow over the shared database. */
function processOver(
  sql: Sql,
  opts: {
    envelopes: Map<string, WhatsAppStatusEnvelope>
    receipts: GenesysReceipt[]
    /** Genesys's answer to each receipt; throwing is the process dying while the request is out. */
    genesys?: (body: GenesysReceipt) => GenesysPostResult
    deadLetters?: string[]
  },
) {
  const applier = createStatusApplier(sql, batch)
  const settlement = createSettlementStore(sql, batch)
  const ports: StatusPorts = {
    ...recordPorts(opts),
    applyStatus: (s) => applier.add(s),
    settleFromStatus: (ref) => settlement.settleFromStatus(ref),
    savePending: () => Promise.reject(new Error('every send is recorded in this test')),
    postReceipt: (_tenant, body) => {
      const res = (opts.genesys ?? accepted)(body)
      if (res.ok) opts.receipts.push(body)
      return Promise.resolve(res)
    },
    clearOwedReceipt: (ref, paid) => clearOwedStatusReceipt(sql, ref, paid),
    parkAtAttempt: 2,
  }
  return statusFlow(ports)
}

/** A sent outbound message, as the outbound flow leaves its row; returns its Genesys id and wamid. */
async function sentMessage(sql: Sql): Promise<{ id: string; wamid: string }> {
  const id = randomUUID().replace(/-/g, '')
  const wamid = `wamid.${randomUUID()}`
  await sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, wa_id, status, sent_at)
    values (${TENANT}, 'outbound', ${id}, ${wamid}, ${WA_ID}, 'sent', now())`
  return { id, wamid }
}

let offset = 0
/** A status record as ingest would have put it on the topic; the record's value names it. */
function statusRecord(
  envelopes: Map<string, WhatsAppStatusEnvelope>,
  wamid: string,
  status: Status,
  item: Record<string, unknown> = {},
): RecordMeta {
  const key = randomUUID()
  const timestampMs = Date.now() - 1000
  envelopes.set(key, {
    tenantId: TENANT,
    phoneNumberId: 'pn',
    waId: WA_ID,
    wamid,
    status,
    timestampMs,
    receivedAtMs: Date.now(),
    item: Buffer.from(JSON.stringify({ id: wamid, status, recipient_id: WA_ID, ...item })),
    attempt: 0,
  })
  return { topic: 'whatsapp-status', partition: 0, offset: offset++, key: null, value: Buffer.from(key) }
}

const runnerOpts = { maxAttempts: 0, retryBaseMs: 5, retryMaxMs: 20, retryMaxDurationMs: 60_000, unknownErrorMaxMs: 20 }

/** Runs the record to its end, or 'abandoned' when `stop` aborts (the process died; the record is read again). */
async function run(
  flow: ReturnType<typeof statusFlow>,
  record: RecordMeta,
  stop = new AbortController(),
  opts: Partial<typeof runnerOpts> = {},
) {
  const timer = setTimeout(() => stop.abort(), 5000)
  try {
    return await runRecord(flow, record, { ...runnerOpts, ...opts }, { log, metrics: undefined, signal: stop.signal })
  } finally {
    clearTimeout(timer)
  }
}

/** Genesys answers nothing: the process dies while the receipt is on its way. */
function dying(killed: AbortController) {
  return (): GenesysPostResult => {
    killed.abort()
    throw new Error('killed while posting the receipt')
  }
}

const owedOn = async (sql: Sql, wamid: string) =>
  (await sql<{ owed: unknown }[]>`select status_receipt_owed as owed from message_tracking where wamid = ${wamid}`)[0]
    ?.owed

t.test('status receipts are owed from the status write until Genesys took them', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, TENANT)
  const envelopes = new Map<string, WhatsAppStatusEnvelope>()

  t.test('the process dies before the receipt: the redelivered status produces it, once', async (t) => {
    const m = await sentMessage(sql)
    const record = statusRecord(envelopes, m.wamid, 'delivered')
    const receipts: GenesysReceipt[] = []
    const killed = new AbortController()
    const a = processOver(sql, { envelopes, receipts, genesys: dying(killed) })
    t.equal(await run(a, record, killed), 'abandoned', 'A died with the record unfinished')
    t.same(receipts, [], 'Genesys got nothing from A')
    t.match(await owedOn(sql, m.wamid), { status: 'Delivered' }, 'the row owes the Delivered receipt')

    // Process B reads the record again (its offset was never committed).
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done')
    t.same(
      receipts.map((r) => [r.id, r.status, r.isFinalReceipt]),
      [[m.id, 'Delivered', false]],
      'the agent gets its Delivered receipt',
    )
    t.equal(await owedOn(sql, m.wamid), null, 'the debt is paid')

    // B died before its commit: yet another redelivery owes nothing.
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done')
    t.equal(receipts.length, 1, 'exactly one receipt in all')
  })

  t.test('Genesys refuses twice (429, 503) in one process, then takes it: one receipt', async (t) => {
    const m = await sentMessage(sql)
    const receipts: GenesysReceipt[] = []
    const answers = [refused(429), refused(503)]
    const flow = processOver(sql, { envelopes, receipts, genesys: () => answers.shift() ?? accepted() })
    t.equal(await run(flow, statusRecord(envelopes, m.wamid, 'delivered')), 'done')
    t.equal(answers.length, 0, 'both refusals were seen')
    t.same(
      receipts.map((r) => [r.id, r.status]),
      [[m.id, 'Delivered']],
    )
    t.equal(await owedOn(sql, m.wamid), null)
  })

  t.test('Genesys refuses twice (429, then 503), each time the process stops: the third takes it, once', async (t) => {
    const m = await sentMessage(sql)
    const record = statusRecord(envelopes, m.wamid, 'delivered')
    const receipts: GenesysReceipt[] = []
    /** A process whose Genesys refuses with `status`, stopped (rebalance, shutdown) while it retries. */
    const refusing = async (status: number) => {
      const stop = new AbortController()
      const flow = processOver(sql, {
        envelopes,
        receipts,
        genesys: () => {
          stop.abort()
          return refused(status)
        },
      })
      return run(flow, record, stop)
    }
    t.equal(await refusing(429), 'abandoned')
    t.equal(await refusing(503), 'abandoned')
    t.same(receipts, [])
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done')
    t.same(
      receipts.map((r) => [r.id, r.status]),
      [[m.id, 'Delivered']],
    )
    t.equal(await owedOn(sql, m.wamid), null)
  })

  t.test('a redelivered status whose receipt was paid: no second receipt', async (t) => {
    const m = await sentMessage(sql)
    const record = statusRecord(envelopes, m.wamid, 'delivered')
    const receipts: GenesysReceipt[] = []
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done')
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done', 'redelivered')
    t.equal(await run(processOver(sql, { envelopes, receipts }), statusRecord(envelopes, m.wamid, 'read')), 'done')
    t.same(
      receipts.map((r) => r.status),
      ['Delivered'],
      'one Delivered receipt; read calls for none after delivered',
    )
  })

  t.test('a failed status: the agent’s Failed receipt survives the same crash', async (t) => {
    const m = await sentMessage(sql)
    const record = statusRecord(envelopes, m.wamid, 'failed', {
      errors: [{ code: 131026, title: 'Message undeliverable', error_data: { details: 'not on WhatsApp' } }],
    })
    const receipts: GenesysReceipt[] = []
    const killed = new AbortController()
    t.equal(await run(processOver(sql, { envelopes, receipts, genesys: dying(killed) }), record, killed), 'abandoned')
    t.same(receipts, [])
    const [row] = await sql<{ status: string }[]>`select status from message_tracking where wamid = ${m.wamid}`
    t.equal(row?.status, 'failed', 'the row moved to failed before the crash')
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done')
    t.equal(await run(processOver(sql, { envelopes, receipts }), record), 'done', 'and once more')
    t.same(
      receipts.map((r) => ({ id: r.id, status: r.status, final: r.isFinalReceipt, reasons: r.reasons })),
      [
        {
          id: m.id,
          status: 'Failed',
          final: true,
          reasons: [{ code: 'InvalidDestination', message: 'WhatsApp 131026: not on WhatsApp' }],
        },
      ],
      'one Failed receipt with the reason of the failed status',
    )
  })

  t.test('a status record dead-lettered while Genesys refused: the next status pays it', async (t) => {
    const m = await sentMessage(sql)
    const receipts: GenesysReceipt[] = []
    const deadLetters: string[] = []
    const busy = processOver(sql, { envelopes, receipts, deadLetters, genesys: () => refused(503) })
    t.equal(await run(busy, statusRecord(envelopes, m.wamid, 'delivered'), undefined, { maxAttempts: 2 }), 'done')
    t.same(deadLetters, ['GWB_GENESYS_TRANSIENT'], 'dead-lettered, its offset committed')
    t.same(receipts, [])
    t.equal(await run(processOver(sql, { envelopes, receipts }), statusRecord(envelopes, m.wamid, 'read')), 'done')
    t.same(
      receipts.map((r) => [r.id, r.status]),
      [[m.id, 'Delivered']],
      'the read (which calls for none itself) pays the Delivered receipt still owed',
    )
  })

  t.test('an unpaid Delivered superseded by failed: only the Failed receipt, never Delivered after it', async (t) => {
    const m = await sentMessage(sql)
    const delivered = statusRecord(envelopes, m.wamid, 'delivered')
    const receipts: GenesysReceipt[] = []
    const killed = new AbortController()
    t.equal(
      await run(processOver(sql, { envelopes, receipts, genesys: dying(killed) }), delivered, killed),
      'abandoned',
    )
    const failed = statusRecord(envelopes, m.wamid, 'failed', { errors: [{ code: 131047, title: 'Re-engagement' }] })
    t.equal(await run(processOver(sql, { envelopes, receipts }), failed), 'done')
    t.equal(await run(processOver(sql, { envelopes, receipts }), delivered), 'done', 'the delivered redelivered')
    t.same(
      receipts.map((r) => [r.status, r.reasons?.[0]?.code]),
      [['Failed', 'MessageNotAllowed']],
    )
  })

  t.test('Genesys refusing for good (400): the debt is dropped, not retried by later statuses', async (t) => {
    const m = await sentMessage(sql)
    const receipts: GenesysReceipt[] = []
    const posts: string[] = []
    const flow = processOver(sql, {
      envelopes,
      receipts,
      genesys: (b) => {
        posts.push(b.status)
        return refused(400)
      },
    })
    t.equal(await run(flow, statusRecord(envelopes, m.wamid, 'delivered')), 'done')
    t.equal(await owedOn(sql, m.wamid), null)
    t.equal(await run(flow, statusRecord(envelopes, m.wamid, 'read')), 'done')
    t.same(posts, ['Delivered'], 'posted once')
  })
})
