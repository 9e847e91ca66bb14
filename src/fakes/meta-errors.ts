import { randomBytes } from 'node:crypto'

/**
 * Meta Graph error envelopes. HTTP statuses follow Meta's error-code table (throttling codes come
 * back as 400 there, auth as 401, "something went wrong" as 500); a fault can override the status.
 */

interface CodeInfo {
  status: number
  title: string
  details: string
  type?: string
}

const codes: Record<number, CodeInfo> = {
  0: { status: 401, title: 'AuthException', details: 'We were unable to authenticate the app user.' },
  1: { status: 400, title: 'API Unknown', details: 'Invalid request or possible server error.' },
  2: { status: 503, title: 'API Service', details: 'Temporary due to downtime or due to being overloaded.' },
  4: { status: 400, title: 'API Too Many Calls', details: 'The app has reached its API call rate limit.' },
  10: { status: 403, title: 'API Permission Denied', details: 'Permission is either not granted or has been removed.' },
  100: { status: 400, title: 'Invalid parameter', details: 'Invalid parameter.' },
  190: {
    status: 401,
    title: 'Error validating access token: Session has expired.',
    details: 'The access token has expired.',
  },
  368: { status: 403, title: 'Temporarily blocked for policies violations', details: 'The account is blocked.' },
  80007: {
    status: 400,
    title: 'Rate limit issues',
    details: 'The WhatsApp Business Account has reached its rate limit.',
  },
  130429: {
    status: 400,
    title: 'Rate limit hit',
    details: 'Cloud API message throughput has been reached.',
  },
  131000: { status: 500, title: 'Something went wrong', details: 'Message failed to send due to an unknown error.' },
  131008: {
    status: 400,
    title: 'Required parameter is missing',
    details: 'The request is missing a required parameter.',
  },
  131009: { status: 400, title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.' },
  131016: { status: 500, title: 'Service unavailable', details: 'A service is temporarily unavailable.' },
  131021: {
    status: 400,
    title: 'Recipient cannot be sender',
    details: 'Sender and recipient phone number is the same.',
  },
  131026: {
    status: 400,
    title: 'Message Undeliverable',
    details: 'Unable to deliver message. The recipient may not be a WhatsApp user or has not accepted the terms.',
  },
  131031: { status: 400, title: 'Account has been locked', details: 'The WhatsApp Business Account is locked.' },
  131047: {
    status: 400,
    title: 'Re-engagement message',
    details:
      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131048: {
    status: 400,
    title: 'Spam rate limit hit',
    details: 'Message failed to send because of quality restrictions.',
  },
  131049: {
    status: 400,
    title: 'Meta chose not to deliver.',
    details: 'This message was not delivered to maintain healthy ecosystem engagement.',
  },
  131051: { status: 400, title: 'Unsupported message type', details: 'Unsupported message type.' },
  131052: { status: 400, title: 'Media download error', details: 'Unable to download the media sent by the user.' },
  131053: { status: 400, title: 'Media upload error', details: 'Unable to upload the media used in the message.' },
  131056: {
    status: 400,
    title: '(Business Account, Consumer Account) pair rate limit hit',
    details:
      'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
  },
  131057: { status: 500, title: 'Account in maintenance mode', details: 'Business Account is in maintenance mode.' },
  132000: { status: 400, title: 'Template Param Count Mismatch', details: 'The number of parameters does not match.' },
  132001: {
    status: 404,
    title: 'Template does not exist',
    details: 'The template does not exist in the specified language.',
  },
}

export interface MetaErrorEnvelope {
  error: {
    message: string
    type: string
    code: number
    error_data?: { messaging_product: 'whatsapp'; details: string }
    error_subcode?: number
    fbtrace_id: string
  }
}

export const fbtraceId = (): string => randomBytes(9).toString('base64url')

export function metaStatusFor(code: number): number {
  return codes[code]?.status ?? 400
}

export function metaTitleFor(code: number): string {
  return codes[code]?.title ?? 'Unknown error'
}

/** Envelope for a WhatsApp error code: `(#131047) Re-engagement message` plus error_data.details. */
export function metaError(code: number, opts: { details?: string; message?: string } = {}): MetaErrorEnvelope {
  const info = codes[code]
  const title = info?.title ?? 'Unknown error'
  // Token errors carry no error_data and no "(#190)" prefix, as the real ones.
  if (code === 190) {
    return { error: { message: opts.message ?? title, type: 'OAuthException', code, fbtrace_id: fbtraceId() } }
  }
  return {
    error: {
      message: opts.message ?? `(#${code}) ${title}`,
      type: 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details: opts.details ?? info?.details ?? title },
      fbtrace_id: fbtraceId(),
    },
  }
}

export function invalidTokenError(): MetaErrorEnvelope {
  return metaError(190, { message: 'Invalid OAuth access token - Cannot parse access token' })
}

export function unknownObjectError(method: 'get' | 'post', id: string): MetaErrorEnvelope {
  return {
    error: {
      message:
        `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing ` +
        'permissions, or does not support this operation.',
      type: 'GraphMethodException',
      code: 100,
      error_subcode: 33,
      fbtrace_id: fbtraceId(),
    },
  }
}
