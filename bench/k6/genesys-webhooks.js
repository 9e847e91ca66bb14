/* global __ENV */
// k6 load for POST /webhook/genesys, signed like Genesys (X-Hub-Signature-256: sha256=<Base64 HMAC>),
// the same load the autocannon bench offers: each request a new message id and its own signature,
// the body text "bench <conversation> <seq> <epoch ms>" so the fake Meta side can check order.
//
//   k6 run -e URL=http://127.0.0.1:3000 -e INTEGRATION_ID=<tenant integration id> \
//          -e SECRET=<tenant webhook secret> -e RATE=500 -e DURATION=60s -e CONVERSATIONS=2000 \
//          bench/k6/genesys-webhooks.js
//
// Conversations must be mapped (or learnable: channel.to.id is a digits-only wa_id) for the tenant.
import crypto from 'k6/crypto'
import exec from 'k6/execution'
import http from 'k6/http'
import { check } from 'k6'

const URL = __ENV.URL || 'http://127.0.0.1:3000'
const INTEGRATION_ID = __ENV.INTEGRATION_ID
const SECRET = __ENV.SECRET
const RATE = Number(__ENV.RATE || 500)
const CONVERSATIONS = Number(__ENV.CONVERSATIONS || 2000)
const VUS = Math.max(32, Math.ceil(RATE / 10))

export const options = {
  scenarios: {
    webhooks: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '60s',
      preAllocatedVUs: VUS,
      maxVUs: VUS * 4,
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    http_req_duration: ['p(99)<100'],
  },
}

// Each VU owns the conversations i ≡ vu (mod VUS), so one conversation is never in flight twice.
const seqs = {}
let turn = 0

function hex(n) {
  return crypto.hexEncode(crypto.randomBytes(n))
}

function conversationId(i) {
  const h = (i + 1).toString(16).padStart(12, '0')
  return `00000000-0000-4000-8000-${h}`
}

export default function () {
  const vu = exec.vu.idInTest - 1
  const mine = Math.floor(CONVERSATIONS / VUS) || 1
  const i = (vu % VUS) + VUS * (turn++ % mine)
  const conv = conversationId(i % CONVERSATIONS)
  const seq = (seqs[conv] = (seqs[conv] || 0) + 1)
  const id = hex(16)
  const body = JSON.stringify({
    id,
    channel: {
      id: INTEGRATION_ID,
      platform: 'Open',
      type: 'Private',
      messageId: id,
      to: { id: `44${7000000000 + (i % CONVERSATIONS)}`, idType: 'Phone' },
      from: { id: INTEGRATION_ID, idType: 'Opaque', nickname: 'WhatsApp Bridge' },
      time: new Date().toISOString(),
    },
    type: 'Text',
    direction: 'Outbound',
    originatingEntity: 'Human',
    conversationId: conv,
    text: `bench ${conv} ${seq} ${Date.now()}`,
  })
  const sig = crypto.hmac('sha256', SECRET, body, 'base64')
  const res = http.post(`${URL}/webhook/genesys`, body, {
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${sig}` },
  })
  check(res, { 'status 200': (r) => r.status === 200 })
}
