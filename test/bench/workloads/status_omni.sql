-- status change through omnitask.set_task_status(), as the admin: in-progress <-> on-hold on a random task
-- of this client's share of the pool (no two clients touch the same task)
\set p random(0, :perclient - 1)
\set n :p * :nclients + :client_id + 1
SELECT omnitask.set_task_status(t.id, CASE t.status WHEN 'in-progress' THEN 'on-hold' ELSE 'in-progress' END)
FROM bench.status_pool s JOIN omnitask.task t ON t.id = s.id WHERE s.n = :n;
