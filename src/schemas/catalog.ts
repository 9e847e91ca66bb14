import { deadLetterTopic, type TopicNames } from '../config/config.js'
import type {
  BridgeErrorEvent,
  DeadLetter,
  GenesysOutboundEnvelope,
  MetaWebhookRaw,
  WhatsAppInboundEnvelope,
  WhatsAppStatusEnvelope,
} from './records.generated.js'

/** Which record type each topic carries. The schema registry subject is `<topic>-value`. */
export interface RecordTypes {
  GenesysOutboundEnvelope: GenesysOutboundEnvelope
  WhatsAppInboundEnvelope: WhatsAppInboundEnvelope
  WhatsAppStatusEnvelope: WhatsAppStatusEnvelope
  MetaWebhookRaw: MetaWebhookRaw
  BridgeErrorEvent: BridgeErrorEvent
  DeadLetter: DeadLetter
}
export type RecordName = keyof RecordTypes

export interface TopicSpec {
  readonly topic: string
  readonly record: RecordName
  /** Topics whose records can dead-letter get a `.dlq` twin. */
  readonly deadLetter: boolean
}

export function topicCatalog(t: TopicNames): TopicSpec[] {
  const main: TopicSpec[] = [
    { topic: t.genesysOutbound, record: 'GenesysOutboundEnvelope', deadLetter: true },
    { topic: t.whatsappInbound, record: 'WhatsAppInboundEnvelope', deadLetter: true },
    { topic: t.whatsappStatus, record: 'WhatsAppStatusEnvelope', deadLetter: true },
    { topic: t.whatsappRaw, record: 'MetaWebhookRaw', deadLetter: true },
    { topic: t.errors, record: 'BridgeErrorEvent', deadLetter: false },
  ]
  const dlq = main
    .filter((s) => s.deadLetter)
    .map((s): TopicSpec => ({ topic: deadLetterTopic(s.topic), record: 'DeadLetter', deadLetter: false }))
  return [...main, ...dlq]
}
