-- A Failed receipt owed to the agent (issue 12): set in the same statement that moves an outbound
-- row to failed (or dead-lettered with a receipt), cleared once the receipt was produced. A process
-- that dies in between leaves the debt on the row, and whoever handles the message next (the
-- redelivered record) pays it. Holds the receipt's Genesys reason code; null: nothing owed. Only adds
-- a nullable column (no table rewrite); existing rows owe nothing.
alter table message_tracking add column if not exists receipt_owed text;
