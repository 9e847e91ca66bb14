import type { Sql } from '../../sinks/db/client.js'
import { bool, dateFlag, intFlag, parseFlags, str } from '../args.js'
import { withSql } from '../context.js'
import { UsageError } from '../errors.js'
import { line, table, type Command } from '../io.js'

const CMD = 'in-doubt list'

export const inDoubtHelp = `usage: gwb in-doubt list [--tenant <id>] [--since <date>] [--limit N] [--json]

Outbound messages whose send outcome the bridge does not know, from the tracking table:
  claimed          a process claimed it and stopped before recording Meta's answer (SIGKILL, crash);
                   listed once the claim lease (2 x META_TIMEOUT_MS) has passed
  outcome-unknown  the request went out and no answer came (timeout, connection cut); dead-lettered
Meta has no idempotency key: each may or may not have reached the customer, so the bridge never
resends them by itself. Check with the customer or Meta's delivery statuses, then resend the ones
that did not arrive: "gwb dead-letters redrive" (outcome-unknown) or "gwb replay --resend" with the
conversation and time (claimed). Oldest first.
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
  o: { leaseMs: number; tenantId?: string | undefined; since?: Date | undefined; limit: number },
): Promise<InDoubtRow[]> {
  return sql<InDoubtRow[]>`
    select tenant_id as "tenantId", genesys_message_id as "genesysMessageId",
           conversation_id as "conversationId", wa_id as "waId",
           case when status = 'claimed' then 'claimed' else 'outcome-unknown' end as kind,
           claimed_at as "claimedAt", error_text as "errorText"
    from message_tracking
    where direction = 'outbound'
      and ((status = 'claimed' and claimed_at < now() - make_interval(secs => ${o.leaseMs / 1000}))
        or (status = 'dead_lettered' and error_text like '%outcome unknown%'))
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
      leaseMs: config.meta.timeoutMs * 2,
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
