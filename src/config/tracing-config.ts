import type { EnvReader } from './parse-env.js'

/** The standard OTEL_* variables the bridge honours (docs/operations.md, Tracing). */
export interface TracingConfig {
  /** OTLP/HTTP base URL (spans go to `<endpoint>/v1/traces`); undefined: no exporter, no-op tracer. */
  readonly endpoint: string | undefined
  /** Sent with every export, e.g. an API key: never logged. */
  readonly headers: Readonly<Record<string, string>>
  readonly serviceName: string
  /** Share of new traces recorded (0..1); a consumed record follows its producer's decision. */
  readonly sampleRatio: number
}

export function tracingConfig(r: EnvReader): TracingConfig {
  const endpoint = r.optionalString('OTEL_EXPORTER_OTLP_ENDPOINT')
  const ratio = r.optionalString('OTEL_TRACES_SAMPLER_ARG')
  const sampleRatio = ratio === undefined ? 1 : Number(ratio)
  if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
    r.problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${ratio}"`)
  }
  return {
    endpoint: endpoint === undefined ? undefined : r.url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']),
    headers: otlpHeaders(r, r.optionalString('OTEL_EXPORTER_OTLP_HEADERS') ?? ''),
    serviceName: r.string('OTEL_SERVICE_NAME', 'genesys-whatsapp-bridge'),
    sampleRatio: Number.isFinite(sampleRatio) ? Math.min(1, Math.max(0, sampleRatio)) : 1,
  }
}

/** `key1=value1,key2=value2` with URL-encoded values (the OTLP exporter's format). */
function otlpHeaders(r: EnvReader, text: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [i, pair] of text.split(',').entries()) {
    if (pair.trim() === '') continue
    const eq = pair.indexOf('=')
    const key = eq > 0 ? pair.slice(0, eq).trim() : ''
    let value: string | undefined
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      value = undefined
    }
    // The values are credentials: a problem names the pair's position, never its text.
    if (key === '' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(key) || value === undefined) {
      r.problems.push(`OTEL_EXPORTER_OTLP_HEADERS pair ${i + 1} is not key=url-encoded-value`)
      continue
    }
    headers[key.toLowerCase()] = value
  }
  return headers
}
