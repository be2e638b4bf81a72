-- floor for omnitask.workload: the same query on the plain copy, terminal states written out
SELECT t.owner_id, p.display,
	   count(*) AS open,
	   count(*) FILTER (WHERE t.due_at < now()) AS overdue,
	   count(*) FILTER (WHERE t.priority = 'stat') AS stat,
	   count(*) FILTER (WHERE t.priority = 'asap') AS asap,
	   count(*) FILTER (WHERE t.priority = 'urgent') AS urgent,
	   count(*) FILTER (WHERE t.priority = 'routine') AS routine
FROM bench.task_plain t
LEFT JOIN omnitask.practitioner p ON p.id = t.owner_id
WHERE t.status NOT IN ('completed', 'failed', 'cancelled', 'rejected', 'entered-in-error')
GROUP BY t.owner_id, p.display;
