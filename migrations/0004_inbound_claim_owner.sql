-- Inbound claims name their owner (issue 12): the process and record that claimed a wamid. Its own
-- retry after an exception re-takes the claim at once; any other owner only after the lease, so a
-- claim left by a crash is finished by someone instead of dropping the customer's message.
alter table message_tracking add column if not exists claim_owner text;
