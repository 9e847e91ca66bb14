-- The two message keys of message_tracking become partial unique indexes, each over the rows that have
-- the key (issue 15). Unique semantics are unchanged (NULLs never conflicted), but a statement matching
-- on one key can no longer be planned on the other key's index: with full indexes on
-- (tenant_id, direction, genesys_message_id) and (tenant_id, direction, wamid), a table without
-- statistics (never analyzed, autovacuum off, a fresh deployment) made both cost the same, and the
-- planner matched the tracking update by Genesys id on the wamid index's prefix, reading every row of
-- the tenant in that direction per update (BENCHMARKS.md, "Cost per message and per stage"). A partial
-- index is usable only where the query implies its predicate; `key = value` implies `key is not null`
-- for its own key only.
--
-- The bridge's ON CONFLICT targets name the predicate (claims.ts, inbound-claims.ts); a version
-- older than this one names none and cannot infer a partial index: stop its consumer roles before
-- this runs (docs/operations.md, "Upgrading to partial message keys"). On a large table build the two
-- indexes beforehand with CONCURRENTLY under these names; this migration then only drops the old keys.

-- A concurrent build that failed leaves an invalid index under the name; rebuild it here instead.
do $$
declare
  n text;
begin
  foreach n in array array['message_tracking_genesys_key', 'message_tracking_wamid_key'] loop
    if exists (select 1 from pg_index i join pg_class c on c.oid = i.indexrelid
               where c.relname = n and c.relnamespace = current_schema()::regnamespace and not i.indisvalid) then
      execute format('drop index %I', n);
    end if;
  end loop;
end
$$;

create unique index if not exists message_tracking_genesys_key
  on message_tracking (tenant_id, direction, genesys_message_id) where genesys_message_id is not null;
create unique index if not exists message_tracking_wamid_key
  on message_tracking (tenant_id, direction, wamid) where wamid is not null;
alter table message_tracking
  drop constraint message_tracking_tenant_direction_genesys_key,
  drop constraint message_tracking_tenant_direction_wamid_key;
