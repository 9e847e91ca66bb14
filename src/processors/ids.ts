/**
 * The shapes of the ids a webhook names, checked before any lookup: an id no tenant could hold (a
 * NUL, a control character, a thousand bytes) is a malformed request (400), not a question for
 * Redis or PostgreSQL, whose refusal of such a value would otherwise look like an outage (503) and
 * make the platform retry it for days. The tenant spec uses the same rules, so every id a tenant
 * can be configured with passes here.
 */

/** Genesys integration ids are UUIDs; anything printable without spaces, up to 128, is let through. */
const INTEGRATION_ID = /^[\x21-\x7e]{1,128}$/
/** Meta's phone number ids are decimal strings. */
const PHONE_NUMBER_ID = /^[0-9]{1,32}$/

export const integrationIdProblem = (v: string): string | undefined =>
  INTEGRATION_ID.test(v) ? undefined : 'must be 1 to 128 printable ASCII characters without spaces'

export const phoneNumberIdProblem = (v: string): string | undefined =>
  PHONE_NUMBER_ID.test(v) ? undefined : 'must be the numeric phone number id'

/** Tenant ids are chosen by the operator: lower-case letters, digits and dashes. */
const TENANT_ID = /^[a-z0-9-]{1,63}$/

export const tenantIdProblem = (v: string): string | undefined =>
  TENANT_ID.test(v) ? undefined : 'must be 1 to 63 lower-case letters, digits or dashes'
