import { readArchive, type ArchivedWebhook } from '../../src/sinks/archive-reader.js'
import type { ObjectStore } from '../../src/sinks/object-store.js'

/** Waits until the tenant's archive (yesterday to tomorrow, UTC) holds webhooks that match. */
export async function waitArchived(
  store: ObjectStore,
  bucket: string,
  tenantId: string,
  match: (w: ArchivedWebhook) => boolean,
  opts: { atLeast?: number; timeoutMs?: number } = {},
): Promise<ArchivedWebhook[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  const day = 86_400_000
  for (;;) {
    const read = await readArchive(store, bucket, tenantId, new Date(Date.now() - day), new Date(Date.now() + day))
    const found = read.webhooks.filter(match)
    if (found.length >= (opts.atLeast ?? 1) || Date.now() > deadline) return found
    await new Promise((r) => setTimeout(r, 200))
  }
}
