import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { GenesysApi } from './sinks/genesys-api.js'
import type { MetaClient, MetaDownloadResult, MetaMediaInfoResult, MetaSendResult } from './sinks/meta-client.js'
import { inSpan, markHttpStatus, SpanKind } from './tracing/spans.js'

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30]

/** One registry per process; labels are bounded (route, stage, outcome, topic), never an id. */
export function createMetrics() {
  const registry = new Registry()
  // Caches count their own lookups; the counter reads those totals at each scrape.
  const cacheSources = new Map<string, () => { hits: number; misses: number }>()
  collectDefaultMetrics({ register: registry, prefix: 'gwb_' })
  const m = {
    registry,
    httpRequests: new Counter({
      name: 'gwb_http_requests_total',
      help: 'Webhook requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    ingestRefusals: new Counter({
      name: 'gwb_ingest_refusals_total',
      help: 'Webhooks refused by route and reason (unknown_id, bad_signature, invalid_id, bytes_in_flight, ...)',
      labelNames: ['route', 'reason'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'gwb_http_request_duration_seconds',
      help: 'Time from request to response, per route',
      labelNames: ['route'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    produceDuration: new Histogram({
      name: 'gwb_kafka_produce_duration_seconds',
      help: 'Time for a produce batch to be acknowledged (acks=all)',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    produceResent: new Counter({
      name: 'gwb_kafka_produce_resent_total',
      help: 'Records a produce request was answered without writing (kafkajs, on a leader move) and that were sent again',
      registers: [registry],
    }),
    produceBatchSize: new Histogram({
      name: 'gwb_kafka_produce_batch_records',
      help: 'Records per produce request',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    stageDuration: new Histogram({
      name: 'gwb_stage_duration_seconds',
      help: 'Time per processing stage',
      labelNames: ['flow', 'stage'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'gwb_records_total',
      help: 'Records processed by flow and outcome',
      labelNames: ['flow', 'outcome'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'gwb_retries_total',
      help: 'Retries by flow and error code',
      labelNames: ['flow', 'code'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'gwb_dead_letters_total',
      help: 'Records sent to a dead-letter topic',
      labelNames: ['topic', 'code'],
      registers: [registry],
    }),
    endToEnd: new Histogram({
      name: 'gwb_end_to_end_seconds',
      help: 'From webhook receipt at ingest to the platform answering the send',
      labelNames: ['flow'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    externalDuration: new Histogram({
      name: 'gwb_external_request_duration_seconds',
      help: 'Calls to Meta and Genesys by target, operation and status',
      labelNames: ['target', 'operation', 'status'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'gwb_consumer_lag_records',
      help: 'High watermark minus committed offset, per partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'gwb_records_in_flight',
      help: 'Records fetched and not yet finished',
      labelNames: ['flow'],
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'gwb_cache_lookups_total',
      help: 'Cache lookups by cache and result (hit, miss)',
      labelNames: ['cache', 'result'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [cache, stats] of cacheSources) {
          const s = stats()
          this.inc({ cache, result: 'hit' }, s.hits)
          this.inc({ cache, result: 'miss' }, s.misses)
        }
      },
    }),
    // Its own counter: gwb_cache_lookups_total is rebuilt from the caches' totals at every scrape.
    sendRateFallbacks: new Counter({
      name: 'gwb_send_rate_fallbacks_total',
      help: 'Sends paced by the process-local limit because the shared budget in Redis was unreachable',
      registers: [registry],
    }),
    // A URL from a webhook the fetch policy refused: an attack, or a host the operator must list.
    fetchRefusals: new Counter({
      name: 'gwb_fetch_refusals_total',
      help: 'Downloads refused by the outbound fetch policy, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    /** Feeds gwb_cache_lookups_total{cache=name} from a cache's own running totals. */
    watchCache(name: string, stats: () => { hits: number; misses: number }): void {
      cacheSources.set(name, stats)
    },
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

type Outcome = { ok: true; status?: number } | { ok: false; status: number; network?: true }

/** The HTTP status; "2xx" for a success that does not carry one, "network" when no answer came. */
const statusLabel = (res: Outcome): string => {
  if (res.ok) return res.status === undefined ? '2xx' : String(res.status)
  return res.network === true || res.status === 0 ? 'network' : String(res.status)
}

/** Times a call into gwb_external_request_duration_seconds; a throw is labelled status="error". */
async function timed<R extends Outcome>(
  metrics: Metrics,
  target: string,
  operation: string,
  call: () => Promise<R>,
): Promise<R> {
  const end = metrics.externalDuration.startTimer({ target, operation })
  // The call's span (child of the step calling) is opened here too: every platform call passes.
  return inSpan(
    `${target} ${operation}`,
    { kind: SpanKind.CLIENT, attributes: { 'gwb.target': target, 'gwb.operation': operation } },
    async (span) => {
      try {
        const res = await call()
        end({ status: statusLabel(res) })
        markHttpStatus(span, res.status)
        return res
      } catch (err) {
        end({ status: 'error' })
        throw err
      }
    },
  )
}

/** The same client, each call timed per operation and answer status (target="meta"). */
export function instrumentMetaClient(meta: MetaClient, metrics: Metrics): MetaClient {
  return {
    sendMessage: (req) => timed<MetaSendResult>(metrics, 'meta', 'send', () => meta.sendMessage(req)),
    getMediaUrl: (req) => timed<MetaMediaInfoResult>(metrics, 'meta', 'media_info', () => meta.getMediaUrl(req)),
    downloadMedia: (req) => timed<MetaDownloadResult>(metrics, 'meta', 'media_download', () => meta.downloadMedia(req)),
    close: () => meta.close(),
  }
}

/** The same API, each post timed per kind (message, receipt, event) and answer status (target="genesys"). */
export function instrumentGenesysApi(genesys: GenesysApi, metrics: Metrics): GenesysApi {
  return {
    ...genesys,
    post: (tenantId, kind, body) => timed(metrics, 'genesys', kind, () => genesys.post(tenantId, kind, body)),
  }
}
