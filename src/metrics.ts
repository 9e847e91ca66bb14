import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30]

/** One registry per process; labels are bounded (route, stage, outcome, topic), never an id. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'gwb_process_' })
  const m = {
    registry,
    httpRequests: new Counter({
      name: 'gwb_http_requests_total',
      help: 'Webhook requests by route and status',
      labelNames: ['route', 'status'],
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
    }),
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>
