import type { Sql } from '../../sinks/db/client.js'
import { bool, dateFlag, intFlag, parseFlags, str } from '../args.js'
import { withSql } from '../context.js'
import { UsageError } from '../errors.js'
import { line, table, type Command } from '../io.js'

const CMD = 'in-doubt list'

export const inDoubtHelp = `usage: gwb in-doubt list [--tenant <id>] [--since <date>] [--limit N] [--json]

Outbound messages whose send outcome the bridge could not settle, from the tracking table. The bridge
settles an unknown outcome by itself: a status webhook naming the message (biz_opaque_callback_data)
records its wamid, and with none within RECONCILE_WINDOW_MS it is resent once. What is left here:
  outcome-unknown  resent once and still no status named it (Meta's webhooks away for longer than the
                   window), or dead-lettered as outcome unknown by an older version; may have arrived
  claimed          a claim nobody settled for twice the window (no outbound process running)
A status that names one later still settles it (it leaves this list). Check with the customer or
Meta, then resend what did not arrive: "gwb dead-letters redrive" or "gwb replay --resend" with the
conversation and time. Oldest first.
`

export interface InDoubtRow {
  tenantId: string
  genesysMessageId: string
  conversationId: string | null
  waId: string | null
  kind: 'claimed' | 'outcome-unknown'
  claimedAt: Date | null
  errorText: string | null
}

export async function listInDoubt(
  sql: Sql,
  o: { windowMs: number; tenantId?: string | undefined; since?: Date | undefined; limit: number },
): Promise<InDoubtRow[]> {
  return sql<InDoubtRow[]>`
    select tenant_id as "tenantId", genesys_message_id as "genesysMessageId",
           conversation_id as "conversationId", wa_id as "waId",
           case when status = 'claimed' then 'claimed' else 'outcome-unknown' end as kind,
           claimed_at as "claimedAt", error_text as "errorText"
    from message_tracking
    where direction = 'outbound' and wamid is null
      and ((status = 'claimed' and claimed_at < now() - make_interval(secs => ${(2 * o.windowMs) / 1000}))
        or (status = 'dead_lettered' and (error_code = 'GWB_SEND_UNSETTLED' or error_text like '%outcome unknown%')))
      ${o.tenantId === undefined ? sql`` : sql`and tenant_id = ${o.tenantId}`}
      ${o.since === undefined ? sql`` : sql`and claimed_at >= ${o.since}`}
    order by claimed_at nulls first
    limit ${o.limit}`
}

export const inDoubt: Command = async (config, args, out) => {
  const [sub, ...rest] = args
  if (sub !== 'list') {
    throw new UsageError(
      sub === undefined ? 'in-doubt: missing subcommand (list)' : `in-doubt: unknown subcommand "${sub}"; use list`,
    )
  }
  const p = parseFlags(CMD, rest, {
    tenant: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  })
  const rows = await withSql(config, (sql) =>
    listInDoubt(sql, {
      windowMs: config.meta.reconcileWindowMs,
      tenantId: str(p, 'tenant'),
      since: dateFlag(CMD, p, 'since', 'start'),
      limit: intFlag(CMD, p, 'limit', 1) ?? 1000,
    }),
  )
  if (bool(p, 'json')) {
    line(out, JSON.stringify(rows))
    return
  }
  table(
    out,
    ['claimed at', 'tenant', 'message id', 'conversation', 'wa_id', 'kind'],
    rows.map((r) => [
      r.claimedAt?.toISOString() ?? '-',
      r.tenantId,
      r.genesysMessageId,
      r.conversationId ?? '-',
      r.waId ?? '-',
      r.kind,
    ]),
  )
  line(out, `${rows.length} message(s) in doubt`)
}
