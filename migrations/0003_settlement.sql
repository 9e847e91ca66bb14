-- Settlement of outbound sends whose outcome is unknown (issue 12). Only adds.

-- When the bridge resent a message automatically because no status named it within the
-- reconciliation window; set at most once per message (the resend is the one allowed).
alter table message_tracking add column resent_at timestamptz;
-- When a status webhook named the message (callback data) and so recorded its wamid: the send's
-- outcome was settled by Meta's own record rather than by its answer.
alter table message_tracking add column settled_at timestamptz;
-- When a status of the first copy arrived after the message was resent: the customer got it twice
-- (the residual risk of settlement); set once, so it is counted once.
alter table message_tracking add column late_copy_at timestamptz;

-- Tokens of explicit resends (replay --resend, dead-letters redrive): the first copy of a resend
-- record uses its token and releases the message; a redelivered copy finds the token used.
create table resend_tokens (
  tenant_id text not null,
  token text not null,
  genesys_message_id text not null,
  used_at timestamptz not null default now(),
  primary key (tenant_id, token)
);
create index resend_tokens_used_at on resend_tokens (used_at);
