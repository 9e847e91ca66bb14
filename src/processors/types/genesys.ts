/**
 * Genesys Cloud Open Messaging payloads: only the parts the bridge reads or writes
 * (facts §1.2 outbound webhook, §2.3 inbound message, §2.5 receipt).
 */

export type GenesysMessageType = 'Text' | 'Structured' | 'Receipt' | 'Event'
export type GenesysMediaType = 'Image' | 'Video' | 'Audio' | 'File' | 'Link'
export type GenesysIdType = 'Email' | 'Phone' | 'Opaque'

export interface GenesysParty {
  id: string
  idType?: string
  nickname?: string
  firstName?: string
  lastName?: string
}

export interface GenesysAttachment {
  id?: string
  mediaType: GenesysMediaType
  url?: string
  mime?: string
  filename?: string
  /** Caption. */
  text?: string
  sha256?: string
  contentSizeBytes?: number
}

export interface GenesysTemplateParameter {
  name?: string
  text: string
}

export interface GenesysTemplateHeader {
  type: 'Text' | 'Media'
  text?: string
  /** Header media: the SDK model reuses the attachment shape. */
  media?: { url: string; mime?: string; mediaType?: GenesysMediaType; filename?: string }
  parameters?: GenesysTemplateParameter[]
}

export interface GenesysTemplate {
  /** "namespace@name" for WhatsApp, or a bare name. */
  id: string
  language?: string
  header?: GenesysTemplateHeader
  body?: { text?: string; parameters?: GenesysTemplateParameter[] }
  footer?: { text?: string }
}

export interface GenesysQuickReply {
  text: string
  payload?: string
  action?: string
}

export type GenesysContent =
  | { contentType: 'Attachment'; attachment: GenesysAttachment }
  | { contentType: 'Notification'; template: GenesysTemplate }
  | { contentType: 'QuickReply'; quickReply: GenesysQuickReply }
  /** Any other content type Genesys may send (Card, Carousel, ...): kept so the transform can fail it visibly. */
  | { contentType: 'Unsupported'; originalType: string }

export interface GenesysEvent {
  eventType: string
  typing?: { type: string; duration?: number }
}

export type GenesysReceiptStatus = 'Delivered' | 'Failed'

/** Closed list from facts §2.5: anything else is rejected by Genesys. */
export const genesysReasonCodes = [
  'MessageExpired',
  'RateLimited',
  'MessageNotAllowed',
  'GeneralError',
  'UnsupportedMessage',
  'UnknownMessage',
  'InvalidMessageStructure',
  'InvalidDestination',
  'ServerError',
  'MediaTypeNotAllowed',
  'InvalidMediaContentLength',
  'RecipientOptedOut',
] as const
export type GenesysReasonCode = (typeof genesysReasonCodes)[number]

export interface GenesysReason {
  code: GenesysReasonCode
  /** Required by Genesys, must be non-empty. */
  message: string
}

/** The outbound webhook body Genesys POSTs to us (agent or bot → customer). */
export interface GenesysOutbound {
  id: string
  channel: {
    /** The integration id; there is no separate integrationId field. */
    id: string
    platform?: string
    type?: string
    messageId?: string
    to: GenesysParty
    from?: GenesysParty
    time?: string
  }
  /** UNCONFIRMED that Genesys always sends it. */
  conversationId?: string
  direction?: string
  originatingEntity?: string
  type: GenesysMessageType
  text?: string
  content?: GenesysContent[]
  events?: GenesysEvent[]
  status?: string
  reasons?: { code?: string; message?: string }[]
  isFinalReceipt?: boolean
  metadata?: Record<string, string>
}

export interface GenesysInboundAttachment {
  mediaType: Exclude<GenesysMediaType, 'Link'>
  url: string
  mime: string
  filename?: string
  text?: string
  sha256?: string
}

/** Body of POST /api/v2/conversations/messages/{integrationId}/inbound/open/message. */
export interface GenesysInboundMessage {
  channel: {
    platform: 'Open'
    type: 'Private'
    messageId: string
    to: { id: string }
    from: { id: string; idType: GenesysIdType; nickname?: string }
    time: string
  }
  type: 'Text'
  direction: 'Inbound'
  text?: string
  content?: { contentType: 'Attachment'; attachment: GenesysInboundAttachment }[]
}

/** Body of POST .../inbound/open/receipt. */
export interface GenesysReceipt {
  /** The Genesys webhook id of the message, never the wamid. */
  id: string
  channel: { to: { id: string; idType: GenesysIdType }; time: string }
  status: GenesysReceiptStatus
  direction: 'Outbound'
  isFinalReceipt: boolean
  reasons?: GenesysReason[]
}
