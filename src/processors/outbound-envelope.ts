import { randomUUID } from 'node:crypto'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import type { GenesysOutbound } from './types/genesys.js'

/**
 * The genesys-outbound record of an accepted webhook, and its key: the conversation (so a
 * conversation's messages share a partition and keep their order), else the customer. Ingest and
 * the archive replay build it here, so a replayed webhook is the record ingest would have produced.
 */
export function outboundEnvelope(
  msg: GenesysOutbound,
  r: { tenantId: string; receivedAtMs: number; payload: Buffer; resend: boolean },
): { key: string; env: GenesysOutboundEnvelope } {
  return {
    key: msg.conversationId ?? msg.channel.to.id,
    env: {
      tenantId: r.tenantId,
      integrationId: msg.channel.id,
      messageId: msg.id,
      conversationId: msg.conversationId ?? null,
      toId: msg.channel.to.id,
      receivedAtMs: Math.round(r.receivedAtMs),
      payload: r.payload,
      attempt: 0,
      resend: r.resend,
      resendToken: r.resend ? randomUUID() : null,
    },
  }
}
