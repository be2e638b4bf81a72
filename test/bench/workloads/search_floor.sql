-- floor for search_tasks(owner => ...): the same rows from the plain copy by a hand-written query, no Bundle, no total
SELECT t.id, t.resource FROM bench.task_plain t
WHERE t.owner_id = :owner AND t.status = ANY ('{requested,accepted,in-progress}') AND t.priority = ANY ('{stat,asap,urgent}')
ORDER BY t.priority DESC NULLS LAST, t.due_at ASC NULLS LAST, t.authored_on ASC NULLS LAST, t.id LIMIT 50;
