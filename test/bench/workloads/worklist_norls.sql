-- the same worklist as the superuser (RLS does not apply) with the owner filter written out
SELECT id, status, priority, due_at, description FROM omnitask.task
WHERE owner_id = :owner AND status NOT IN ('completed', 'failed', 'cancelled', 'rejected', 'entered-in-error')
ORDER BY priority DESC, due_at NULLS LAST LIMIT 50;
