-- floor for omnitask.task_counts: the same query on the plain copy
SELECT t.status, t.priority, count(*) AS n FROM bench.task_plain t GROUP BY t.status, t.priority;
