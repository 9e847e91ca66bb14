-- Initial schema. See DESIGN.md "State". Migrations only ever add: nothing here drops a table.

create table tenants (
  id text primary key check (id ~ '^[a-z0-9-]{1,63}$'),
  name text not null,
  -- Plain (non-secret) lookup ids so ingest can find the tenant of a webhook without decrypting anything.
  genesys_integration_id text not null unique,
  genesys_region text not null,
  whatsapp_phone_number_id text not null unique,
  status text not null default 'active' check (status in ('active', 'inactive')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One row per tenant and credential type; the whole credential JSON is one AES-256-GCM blob
-- (version byte | 12-byte IV | 16-byte tag | ciphertext) with "tenantId:type" as AAD.
create table tenant_credentials (
  tenant_id text not null references tenants (id),
  type text not null check (type in ('whatsapp', 'genesys')),
  ciphertext bytea not null,
  -- Fingerprint of the key that encrypted the row, so a wrong CREDENTIALS_KEY is named as such.
  key_id text not null,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, type)
);

create table conversation_mappings (
  conversation_id text primary key,
  tenant_id text not null references tenants (id),
  wa_id text not null,
  phone_number_id text not null,
  created_at timestamptz not null default now(),
  last_activity_at timestamptz not null default now()
);
-- "Latest conversation of this customer in this tenant" for inbound messages.
create index conversation_mappings_tenant_wa on conversation_mappings (tenant_id, wa_id, last_activity_at desc);

create table message_tracking (
  id bigserial primary key,
  tenant_id text not null references tenants (id),
  direction text not null check (direction in ('outbound', 'inbound')),
  genesys_message_id text,
  wamid text,
  conversation_id text,
  wa_id text,
  -- claimed: a worker holds it and the send outcome is in doubt; retrying: known NOT sent, claimable;
  -- dead_lettered: claimable again by an explicit re-drive.
  status text not null check (
    status in ('claimed', 'retrying', 'sent', 'delivered', 'read', 'failed', 'dead_lettered')
  ),
  attempts int not null default 0,
  error_code text,
  error_text text,
  created_at timestamptz not null default now(),
  claimed_at timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  -- The claim arbiters (ON CONFLICT targets). NULLs are distinct, so an outbound row without a wamid yet
  -- and an inbound row without a Genesys id yet never collide.
  constraint message_tracking_direction_genesys_key unique (direction, genesys_message_id),
  -- Also the index for status lookups (direction = 'outbound' and wamid = ...).
  constraint message_tracking_direction_wamid_key unique (direction, wamid)
);
create index message_tracking_tenant_created on message_tracking (tenant_id, created_at);

-- Statuses that arrive before the send is recorded; re-applied when it is, swept after a while.
create table pending_statuses (
  wamid text not null,
  status text not null check (status in ('sent', 'delivered', 'read', 'failed')),
  payload jsonb not null,
  received_at timestamptz not null default now(),
  primary key (wamid, status)
);
create index pending_statuses_received_at on pending_statuses (received_at);

-- Order of delivery statuses; read and failed are both terminal. Used by the monotonic status update
-- so the rule lives in one place. Inlined by the planner (immutable SQL function).
create function gwb_status_rank(s text) returns int
language sql immutable parallel safe
as $$
  select case s
    when 'sent' then 1
    when 'delivered' then 2
    when 'read' then 3
    when 'failed' then 3
    else 0
  end
$$;
