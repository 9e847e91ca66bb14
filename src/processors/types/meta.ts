/**
 * Meta WhatsApp Cloud API payloads: only the parts the bridge reads or writes
 * (facts §3.1 send bodies, §3.2 errors, §4.2 webhooks).
 */

// ---- Send (POST /<phone-number-id>/messages) ----

export interface MetaMediaObject {
  link: string
  caption?: string
}

export interface MetaDocumentObject extends MetaMediaObject {
  filename?: string
}

export type MetaTemplateParameter =
  | { type: 'text'; text: string }
  | { type: 'image'; image: { link: string } }
  | { type: 'video'; video: { link: string } }
  | { type: 'document'; document: { link: string; filename?: string } }

export interface MetaTemplateComponent {
  type: 'header' | 'body'
  parameters: MetaTemplateParameter[]
}

export interface MetaTemplateObject {
  name: string
  language: { code: string }
  components?: MetaTemplateComponent[]
}

export interface MetaInteractiveButtons {
  type: 'button'
  body: { text: string }
  action: { buttons: { type: 'reply'; reply: { id: string; title: string } }[] }
}

interface MetaSendBase {
  messaging_product: 'whatsapp'
  recipient_type: 'individual'
  to: string
  /** Echoed in this message's status webhooks (≤ 512 characters): names the bridge's message. */
  biz_opaque_callback_data?: string
}

export type MetaSendBody = MetaSendBase &
  (
    | { type: 'text'; text: { preview_url: boolean; body: string } }
    | { type: 'image'; image: MetaMediaObject }
    | { type: 'video'; video: MetaMediaObject }
    | { type: 'audio'; audio: { link: string } }
    | { type: 'document'; document: MetaDocumentObject }
    | { type: 'template'; template: MetaTemplateObject }
    | { type: 'interactive'; interactive: MetaInteractiveButtons }
  )

/** `error` of a failed Graph API call, and items of `errors[]` in webhooks. */
export interface MetaError {
  code: number
  title?: string
  message?: string
  error_data?: { details?: string }
}

// ---- Webhooks ----

export interface MetaMediaRef {
  id: string
  mime_type?: string
  sha256?: string
  caption?: string
  filename?: string
  /** Since Nov 2025, gradual rollout; still needs the Bearer token. */
  url?: string
}

export type MetaInboundMessage = {
  from: string
  id: string
  timestamp: string
  type: string
  context?: { from?: string; id?: string }
  text?: { body: string }
  image?: MetaMediaRef
  video?: MetaMediaRef
  audio?: MetaMediaRef & { voice?: boolean }
  document?: MetaMediaRef
  sticker?: MetaMediaRef & { animated?: boolean }
  location?: { latitude: number; longitude: number; name?: string; address?: string; url?: string }
  contacts?: MetaSharedContact[]
  reaction?: { message_id: string; emoji?: string }
  interactive?: {
    type: string
    button_reply?: { id: string; title: string }
    list_reply?: { id: string; title: string; description?: string }
  }
  button?: { payload?: string; text: string }
  errors?: MetaError[]
  unsupported?: { type?: string }
}

export interface MetaSharedContact {
  name?: { formatted_name?: string; first_name?: string; last_name?: string }
  phones?: { phone?: string; wa_id?: string; type?: string }[]
  emails?: { email?: string; type?: string }[]
  org?: { company?: string }
}

export type MetaStatusValue = 'sent' | 'delivered' | 'read' | 'failed'

export interface MetaStatus {
  id: string
  status: MetaStatusValue
  timestamp: string
  recipient_id: string
  errors?: MetaError[]
  conversation?: unknown
  pricing?: unknown
  /** The send's callback data, echoed (facts §3.1): names the bridge's message. */
  biz_opaque_callback_data?: string
}

export interface MetaChangeValue {
  messaging_product?: string
  metadata: { display_phone_number: string; phone_number_id: string }
  contacts?: { profile?: { name?: string }; wa_id: string }[]
  messages?: MetaInboundMessage[]
  statuses?: MetaStatus[]
  errors?: MetaError[]
}

export interface MetaChange {
  field: string
  /** Validated and kept only for field "messages"; other fields (template updates, ...) are not ours. */
  value?: MetaChangeValue
}

export interface MetaWebhook {
  object: string
  entry: { id: string; changes: MetaChange[] }[]
}
