/* global __ENV */
// k6 load for POST /webhook/genesys, signed like Genesys (X-Hub-Signature-256: sha256=<Base64 HMAC>),
// the same load the autocannon bench offers: each request a new message id and its own signature,
// the body text "bench <conversation> <seq> <epoch ms>" so the fake Meta side can check order.
//
//   k6 run -e URL=http://127.0.0.1:3000 -e INTEGRATION_ID=<tenant integration id> \
//          -e SECRET=<tenant webhook secret> -e RATE=500 -e DURATION=60s -e CONVERSATIONS=2000 \
//          bench/k6/genesys-webhooks.js
//
// Needs CONVERSATIONS ≥ 1. Conversations must be mapped (or learnable: channel.to.id is a digits-only wa_id) for the tenant.
import crypto from 'k6/crypto'
import exec from 'k6/execution'
import http from 'k6/http'
import { check } from 'k6'
import { ownedConversation } from './ownership.js'

const URL = __ENV.URL || 'http://127.0.0.1:3000'
const INTEGRATION_ID = __ENV.INTEGRATION_ID
const SECRET = __ENV.SECRET
const RATE = Number(__ENV.RATE || 500)
const CONVERSATIONS = Number(__ENV.CONVERSATIONS || 2000)
const VUS = Math.max(32, Math.ceil(RATE / 10))
// k6 adds VUs up to maxVUs when responses slow down. Conversations are split over every VU k6 may
// ever run (not only the pre-allocated ones), so an extra VU never shares a conversation with
// another one: each VU has its own JS runtime and sequence counters, and two VUs on one
// conversation would send its messages out of order. More VUs than conversations would leave some
// with nothing of their own, so that is the cap.
const MAX_VUS = Math.min(VUS * 4, CONVERSATIONS)
const PRE_VUS = Math.min(VUS, MAX_VUS)

export const options = {
  scenarios: {
    webhooks: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '60s',
      preAllocatedVUs: PRE_VUS,
      maxVUs: MAX_VUS,
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    http_req_duration: ['p(99)<100'],
  },
}

// Per VU (each VU has its own runtime): the next sequence number of each of its conversations.
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
  // idInTest counts from 1 and never exceeds maxVUs, so every VU has at least one conversation.
  const i = ownedConversation(exec.vu.idInTest - 1, turn++, MAX_VUS, CONVERSATIONS)
  const conv = conversationId(i)
  const seq = (seqs[conv] = (seqs[conv] || 0) + 1)
  const id = hex(16)
  const body = JSON.stringify({
    id,
    channel: {
      id: INTEGRATION_ID,
      platform: 'Open',
      type: 'Private',
      messageId: id,
      to: { id: `44${7000000000 + i}`, idType: 'Phone' },
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
