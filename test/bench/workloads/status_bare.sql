-- the bare floor for the status change: UPDATE ... SET resource = jsonb_set(...), status = ... of the same row
\set p random(0, :perclient - 1)
\set n :p * :nclients + :client_id + 1
UPDATE bench.task_plain t
SET resource = jsonb_set(t.resource, '{status}', to_jsonb(x.st::text)), status = x.st
FROM (SELECT s.id, CASE t0.status WHEN 'in-progress' THEN 'on-hold' ELSE 'in-progress' END::omnitask.task_status AS st
	  FROM bench.status_pool s JOIN bench.task_plain t0 ON t0.id = s.id WHERE s.n = :n) x
WHERE t.id = x.id
RETURNING t.resource;
