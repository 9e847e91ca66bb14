/**
 * Inbound traffic for the exactly-once tests: customers write one message after another (each
 * Meta webhook posted once ingest answered the previous one; a refused post is posted again, as
 * Meta retries), then what the fake Genesys stored is checked: every message once, in order.
 */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import { inboundText, newWamid } from '../../src/fakes/meta-webhooks.js'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import type { Harness } from './bridge-harness.js'

export interface InboundTraffic {
  readonly run: string
  readonly total: number
  /** Message text → wamid, for every message posted. */
  readonly wamids: Map<string, string>
  /** Resolves once every webhook was acknowledged with 200. */
  readonly done: Promise<void>
  /** Messages of this traffic that the fake Genesys stored (answered 2xx), in arrival order. */
  stored: () => GenesysReceived[]
}

type Body = { channel?: { messageId?: string }; text?: string }
export const inboundBodyOf = (r: GenesysReceived): Body => r.body as Body

export function startInboundTraffic(
  h: Harness,
  opts: { customers: number; perCustomer: number; pauseMs: number; tenant?: TenantSpec },
): InboundTraffic {
  const run = randomUUID().slice(0, 8)
  const tenant = opts.tenant ?? h.tenant
  const wamids = new Map<string, string>()
  const base = 4470000000 + Math.floor(Math.random() * 1e8)
  const done = Promise.all(
    Array.from({ length: opts.customers }, async (_, c) => {
      const from = `${base + c * 7}`
      for (let m = 0; m < opts.perCustomer; m++) {
        const text = `${run} c${c} m${m}`
        const id = newWamid()
        wamids.set(text, id)
        const payload = h.meta.buildWebhook({
          phoneNumberId: tenant.whatsapp.phoneNumberId,
          messages: [inboundText({ from, id, body: text })],
        })
        for (;;) {
          const res = await h.postMeta(payload, { tenant }).catch(() => ({ status: 0 }))
          if (res.status === 200) break
          await new Promise((r) => setTimeout(r, 500))
        }
        if (opts.pauseMs > 0) await new Promise((r) => setTimeout(r, opts.pauseMs))
      }
    }),
  ).then(() => undefined)
  const stored = () =>
    h.genesys.received.filter(
      (r) => r.kind === 'message' && r.status >= 200 && r.status < 300 && (inboundBodyOf(r).text ?? '').startsWith(run),
    )
  return { run, total: opts.customers * opts.perCustomer, wamids, done, stored }
}

/**
 * Waits until every message of the traffic was stored by Genesys, then asserts: none missing, each
 * once (and carrying its wamid as channel.messageId), in order per customer.
 */
export async function checkInboundDelivery(
  t: Test,
  tr: InboundTraffic,
  timeoutMs: number,
  /**
   * Where the strict "once" cannot be kept yet (a SIGKILL between Genesys storing a message and
   * the bridge recording it): the reason, and the bound that does hold (at most one per customer).
   */
  duplicates?: { todo: string; max: number },
): Promise<void> {
  await tr.done
  const deadline = Date.now() + timeoutMs
  let texts: string[] = []
  for (;;) {
    texts = tr.stored().map((r) => inboundBodyOf(r).text ?? '')
    if (new Set(texts).size >= tr.total || Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 200))
  }
  // A moment for a late duplicate to show up, if there were one.
  await new Promise((r) => setTimeout(r, 1000))
  const stored = tr.stored()
  texts = stored.map((r) => inboundBodyOf(r).text ?? '')
  const missing = [...tr.wamids.keys()].filter((x) => !texts.includes(x))
  t.same(missing, [], `every customer message reached Genesys (${new Set(texts).size} of ${tr.total})`)
  const twice = texts.filter((x, i) => texts.indexOf(x) !== i)
  if (duplicates === undefined) t.same(twice, [], 'none reached Genesys twice')
  else {
    t.same(twice, [], 'none reached Genesys twice', { todo: duplicates.todo })
    t.ok(twice.length <= duplicates.max, `${twice.length} repeated, at most ${duplicates.max}`)
  }
  const wrongId = stored.filter(
    (r) => inboundBodyOf(r).channel?.messageId !== tr.wamids.get(inboundBodyOf(r).text ?? ''),
  )
  t.equal(wrongId.length, 0, 'each carries its wamid as channel.messageId')
  let outOfOrder = 0
  const customers = new Set(texts.map((x) => / c(\d+) /.exec(x)?.[1]))
  for (const c of customers) {
    const seq = texts.filter((x) => x.includes(` c${c} `)).map((x) => Number(/m(\d+)$/.exec(x)?.[1]))
    if (seq.some((v, i) => i > 0 && v < (seq[i - 1] as number))) {
      outOfOrder++
      t.comment(`customer c${c}: ${seq.join(' ')}`)
    }
  }
  t.equal(outOfOrder, 0, 'in order per customer')
}
