import { FaultQueue, sampleLatencyMs, sleep, type LatencyModel } from './fault-plan.js'
import { buildWebhook, sendMetaWebhook, statusUpdate, type StatusError } from './meta-webhooks.js'
import { Recorder } from './recorder.js'

/**
 * What Meta does after it accepts a send: status webhooks (sent, delivered, …) for that message,
 * signed with the app secret and carrying the send's `biz_opaque_callback_data`, POSTed to the
 * app's webhook URL. Meta retries a webhook that is not answered 200; so does this, a few times.
 * Delay and loss are settable so tests can show what the bridge does when statuses are late or gone.
 */

export type EmittedKind = 'sent' | 'delivered' | 'read' | 'failed'

export interface StatusWebhookOptions {
  /** Where to POST (the bridge's /webhook/meta). */
  url: string
  /** Wait before a message's statuses go out. Default 0. */
  delay?: LatencyModel
  /** Probability (0..1) that every status of a message is lost. Default 0. */
  lossRate?: number
  /** Statuses sent for an accepted message, in order. Default sent, delivered. */
  statuses?: readonly Exclude<EmittedKind, 'failed'>[]
}

export interface AcceptedSend {
  wamid: string
  phoneNumberId: string
  recipientId: string
  callbackData: string | undefined
  appSecret: string
  wabaId?: string | undefined
  displayPhoneNumber?: string | undefined
}

export interface EmittedStatus {
  wamid: string
  status: EmittedKind
  callbackData: string | undefined
  recipientId: string
  /** True when loss was chosen: never sent. */
  lost: boolean
  /** HTTP status of the last delivery try; 0 when lost or unreachable. */
  httpStatus: number
  /** When delivery started (after the delay). */
  at: number
  /** When the last delivery try ended (answered or not): `at` plus the receiver's time and retries. */
  answeredAt: number
}

const RETRIES = 5

export class StatusEmitter {
  readonly emitted = new Recorder<EmittedStatus>(
    (e) => `${e.wamid} ${e.status}${e.lost ? ' (lost)' : ` → ${e.httpStatus}`}`,
  )
  private opts: StatusWebhookOptions | undefined
  private readonly inFlight = new Set<Promise<void>>()
  /** Scripted per-send outcome: the next matching accepted sends get a failed status instead. */
  private readonly failures = new FaultQueue<StatusError, { recipientId: string }>()
  private closed = false

  configure(opts: StatusWebhookOptions | undefined): void {
    this.opts = opts
  }

  /** The next `n` accepted sends (to `to`, if given) are reported `sent` then `failed` with `error`. */
  failNext(n: number, error: StatusError, to?: string): void {
    this.failures.add(n, error, to === undefined ? undefined : (c) => c.recipientId === to)
  }

  accepted(send: AcceptedSend): void {
    const opts = this.opts
    if (opts === undefined || this.closed) return
    const failure = this.failures.take({ recipientId: send.recipientId })
    const kinds: EmittedKind[] =
      failure === undefined ? [...(opts.statuses ?? ['sent', 'delivered'])] : ['sent', 'failed']
    const lost = Math.random() < (opts.lossRate ?? 0)
    const p = this.run(opts, send, kinds, lost, failure).finally(() => this.inFlight.delete(p))
    this.inFlight.add(p)
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.inFlight])
  }

  private async run(
    opts: StatusWebhookOptions,
    send: AcceptedSend,
    kinds: EmittedKind[],
    lost: boolean,
    failure: StatusError | undefined,
  ): Promise<void> {
    await sleep(sampleLatencyMs(opts.delay))
    for (const status of kinds) {
      const rec: EmittedStatus = {
        wamid: send.wamid,
        status,
        callbackData: send.callbackData,
        recipientId: send.recipientId,
        lost,
        httpStatus: 0,
        at: Date.now(),
        answeredAt: 0,
      }
      if (!lost && !this.closed) rec.httpStatus = await this.deliver(opts.url, send, status, failure)
      rec.answeredAt = Date.now()
      this.emitted.push(rec)
    }
  }

  private async deliver(url: string, send: AcceptedSend, status: EmittedKind, failure: StatusError | undefined) {
    const item = statusUpdate({
      wamid: send.wamid,
      status,
      recipientId: send.recipientId,
      ...(status === 'failed' && failure !== undefined ? { errors: [failure] } : {}),
    })
    if (send.callbackData !== undefined) item.biz_opaque_callback_data = send.callbackData
    const payload = buildWebhook({
      phoneNumberId: send.phoneNumberId,
      statuses: [item],
      ...(send.wabaId === undefined ? {} : { wabaId: send.wabaId }),
      ...(send.displayPhoneNumber === undefined ? {} : { displayPhoneNumber: send.displayPhoneNumber }),
    })
    let last = 0
    for (let n = 0; n < RETRIES && !this.closed; n++) {
      try {
        last = (await sendMetaWebhook(url, payload, send.appSecret)).status
        if (last === 200) return last
      } catch {
        last = 0
      }
      await sleep(200 * 2 ** n)
    }
    return last
  }
}
