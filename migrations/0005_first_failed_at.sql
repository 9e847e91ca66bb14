-- When a message first failed transiently (issue 12): the retry time ceiling (RETRY_MAX_DURATION_MS)
-- counts from it, so a restart or a rebalance does not give a failing message a fresh clock. Only
-- adds a nullable column (no table rewrite). Rows retrying during the upgrade have none: their clock
-- starts at their next failure, as it did before.
alter table message_tracking add column if not exists first_failed_at timestamptz;
