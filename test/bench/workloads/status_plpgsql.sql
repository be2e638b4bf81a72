-- the same status change under the PL/pgSQL trigger
\set p random(0, :perclient - 1)
\set n :p * :nclients + :client_id + 1
SELECT bench_plpgsql.set_task_status(t.id, CASE t.status WHEN 'in-progress' THEN 'on-hold' ELSE 'in-progress' END)
FROM bench.status_pool s JOIN bench_plpgsql.task t ON t.id = s.id WHERE s.n = :n;
