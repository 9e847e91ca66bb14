import type { MediaFetcher } from '../sinks/media-fetch.js'
import type { ObjectStore } from '../sinks/object-store.js'
import { inSpan, markHttpStatus, SpanKind } from './spans.js'

/**
 * Client spans for the external calls that do not pass through the platform clients' timing
 * (metrics.ts): downloads a webhook names, and S3. Attributes name the host or bucket only: a
 * presigned URL's query and an object's bytes are never recorded.
 */

/** Every download under one span: host and outcome (a refusal by the fetch policy included). */
export function traceFetcher(fetcher: MediaFetcher): MediaFetcher {
  return {
    get: (url, req) =>
      inSpan(
        'media download',
        { kind: SpanKind.CLIENT, attributes: { 'server.address': hostOf(url) } },
        async (span) => {
          const out = await fetcher.get(url, req)
          span.setAttribute('gwb.outcome', out.ok ? 'ok' : out.kind)
          if (!out.ok && (out.kind === 'status' || out.kind === 'too-large')) markHttpStatus(span, out.status)
          return out
        },
      ),
    close: () => fetcher.close(),
  }
}

const s3 = <T>(operation: string, bucket: string, fn: () => Promise<T>): Promise<T> =>
  inSpan(`s3 ${operation}`, { kind: SpanKind.CLIENT, attributes: { 'aws.s3.bucket': bucket } }, fn)

/** The store's network calls, one span each (presigning is local and gets none). */
export function traceStore(store: ObjectStore): ObjectStore {
  return {
    ...store,
    putObject: (bucket, ...rest) => s3('put', bucket, () => store.putObject(bucket, ...rest)),
    getObject: (bucket, key) => s3('get', bucket, () => store.getObject(bucket, key)),
    headObject: (bucket, key) => s3('head', bucket, () => store.headObject(bucket, key)),
    listObjects: (bucket, prefix) => s3('list', bucket, () => store.listObjects(bucket, prefix)),
    removeObjects: (bucket, keys) => s3('delete', bucket, () => store.removeObjects(bucket, keys)),
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'invalid'
  }
}
