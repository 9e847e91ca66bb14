-- A receipt the status flow owes the agent (issue 12): set in the same statement that moves an
-- outbound row forward on a delivery status calling for one (Delivered, or Failed from a Meta
-- `failed`), cleared once Genesys took it. A process that dies in between, or a status record
-- dead-lettered while Genesys refused, leaves the debt on the row; the redelivered status, or any
-- later status of the same message, pays it. Holds {status, time, reason?, message?}; a newer
-- status's receipt replaces an unpaid older one. Separate from receipt_owed (the outbound flow's
-- Failed receipt, paid from the row's error text by the outbound record). Only adds a nullable
-- column (no table rewrite); existing rows owe nothing.
alter table message_tracking add column if not exists status_receipt_owed jsonb;
