-- the practitioner's worklist, as the practitioner's login role: row-level security picks their tasks
SELECT id, status, priority, due_at, description FROM omnitask.task
WHERE status NOT IN ('completed', 'failed', 'cancelled', 'rejected', 'entered-in-error')
ORDER BY priority DESC, due_at NULLS LAST LIMIT 50;
