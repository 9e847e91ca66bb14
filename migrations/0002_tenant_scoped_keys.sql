-- Tenant-scoped keys (issue 11, item 2): the tenant in every unique key, so one tenant's conversation
-- ids, Genesys message ids and wamids can never claim, find or move another tenant's rows.
--
-- Upgrades a populated database of 0001 without losing a row. Every old key was stricter than its
-- replacement (unique on (x) implies unique on (tenant_id, x)), so no existing row can violate a new
-- constraint; pending_statuses gains its tenant from the payload it already holds.
--
-- Locks: attaching a constraint to an index takes a short ACCESS EXCLUSIVE lock, but building the index
-- inside this transaction holds that lock for the whole build. On a large message_tracking, build the
-- three indexes first while the bridge runs (CREATE INDEX CONCURRENTLY cannot run in a transaction):
--   create unique index concurrently if not exists conversation_mappings_tenant_conv_key
--     on conversation_mappings (tenant_id, conversation_id);
--   create unique index concurrently if not exists message_tracking_tenant_genesys_key
--     on message_tracking (tenant_id, direction, genesys_message_id);
--   create unique index concurrently if not exists message_tracking_tenant_wamid_key
--     on message_tracking (tenant_id, direction, wamid);
-- then this migration only attaches them (a build that failed leaves an invalid index: it is dropped and
-- rebuilt here). Stop the consumer roles of the old version first: their ON CONFLICT targets name the old
-- keys, which are gone after this (docs/operations.md, "Upgrading to tenant-scoped keys").

-- A concurrent build that failed leaves an invalid index under the name; rebuild it here instead.
do $$
declare
  n text;
begin
  foreach n in array array['conversation_mappings_tenant_conv_key', 'message_tracking_tenant_genesys_key',
                           'message_tracking_tenant_wamid_key'] loop
    if exists (select 1 from pg_index i join pg_class c on c.oid = i.indexrelid
               where c.relname = n and c.relnamespace = current_schema()::regnamespace and not i.indisvalid) then
      execute format('drop index %I', n);
    end if;
  end loop;
end
$$;

-- conversation_mappings: (tenant_id, conversation_id) is the primary key.
create unique index if not exists conversation_mappings_tenant_conv_key
  on conversation_mappings (tenant_id, conversation_id);
alter table conversation_mappings drop constraint conversation_mappings_pkey;
alter table conversation_mappings
  add constraint conversation_mappings_pkey primary key using index conversation_mappings_tenant_conv_key;

-- message_tracking: the claim arbiters and the status lookup carry the tenant.
create unique index if not exists message_tracking_tenant_genesys_key
  on message_tracking (tenant_id, direction, genesys_message_id);
create unique index if not exists message_tracking_tenant_wamid_key
  on message_tracking (tenant_id, direction, wamid);
alter table message_tracking
  drop constraint message_tracking_direction_genesys_key,
  drop constraint message_tracking_direction_wamid_key,
  add constraint message_tracking_tenant_direction_genesys_key
    unique using index message_tracking_tenant_genesys_key,
  add constraint message_tracking_tenant_direction_wamid_key
    unique using index message_tracking_tenant_wamid_key;

-- pending_statuses: parked per tenant. The tenant ingest resolved is in every payload the bridge wrote;
-- a row without one (never written by the bridge) falls back to its tracked send's tenant, else ''
-- (kept, never re-driven: no tenant has it, and the sweep expires it).
alter table pending_statuses add column tenant_id text;
update pending_statuses p set tenant_id = coalesce(
  nullif(p.payload->>'tenantId', ''),
  (select m.tenant_id from message_tracking m where m.direction = 'outbound' and m.wamid = p.wamid limit 1),
  '');
alter table pending_statuses alter column tenant_id set not null;
alter table pending_statuses drop constraint pending_statuses_pkey;
alter table pending_statuses add constraint pending_statuses_pkey primary key (tenant_id, wamid, status);
