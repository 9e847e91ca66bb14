// Generated from schemas/*.avsc by `npm run gen:types`. Do not edit.

/** A permanent failure (no mapping, 131047, bad content ...): the seed's ERROR_EVENTS. Topic bridge-errors. */
export interface BridgeErrorEvent {
  sourceTopic: string
  partition: number
  offset: number
  tenantId: null | string
  messageId: null | string
  conversationId: null | string
  code: string
  message: string
  /** Meta error.code or HTTP status */
  platformCode: null | number
  attempts: number
  occurredAtMs: number
}

/** A record that exhausted its retries or could not be decoded. Topic <source>.dlq; re-drivable. */
export interface DeadLetter {
  sourceTopic: string
  partition: number
  offset: number
  key: null | Buffer
  /** the original record value, untouched */
  value: null | Buffer
  code: string
  message: string
  attempts: number
  tenantId: null | string
  deadLetteredAtMs: number
}

/** One Genesys Open Messaging outbound webhook, as received. Topic genesys-outbound, key conversationId. */
export interface GenesysOutboundEnvelope {
  tenantId: string
  /** channel.id of the webhook */
  integrationId: string
  /** Genesys message id; the dedup claim and the receipt id */
  messageId: string
  conversationId: null | string
  /** channel.to.id, the customer's wa_id */
  toId: null | string
  /** epoch ms when ingest read the request */
  receivedAtMs: number
  /** raw body bytes exactly as received (signature-verified) */
  payload: Buffer
  /** sends already tried; survives re-production */
  attempt: number
  /** an explicit replay that may send again */
  resend: boolean
  /** unique per explicit resend; a redelivered copy finds it used and does not send again */
  resendToken: null | string
}

/** A whole Meta webhook POST as received, for the archive. Topic whatsapp-webhooks-raw, key tenantId. */
export interface MetaWebhookRaw {
  tenantId: string
  receivedAtMs: number
  payload: Buffer
  /** X-Hub-Signature-256, for audit */
  signature: null | string
}

/** One customer message split from a Meta webhook. Topic whatsapp-inbound, key tenantId:waId. */
export interface WhatsAppInboundEnvelope {
  tenantId: string
  phoneNumberId: string
  waId: string
  /** Meta message id; the inbound dedup claim */
  wamid: string
  profileName: null | string
  /** Meta's timestamp (unix seconds) x 1000 */
  timestampMs: number
  receivedAtMs: number
  /** the message object's JSON from the webhook */
  item: Buffer
  attempt: number
  resend: boolean
}

/** One delivery status split from a Meta webhook. Topic whatsapp-status, key tenantId:waId. */
export interface WhatsAppStatusEnvelope {
  tenantId: string
  phoneNumberId: string
  /** recipient_id */
  waId: string
  wamid: string
  /** sent | delivered | read | failed (string so new Meta values decode) */
  status: string
  timestampMs: number
  receivedAtMs: number
  /** the status object's JSON from the webhook */
  item: Buffer
  attempt: number
}
