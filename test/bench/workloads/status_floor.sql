-- floor for the status change: one UPDATE of the same row in the plain copy (status, version, meta,
-- lastModified written by the client's SQL) plus its history row; no rules, no RLS
\set p random(0, :perclient - 1)
\set n :p * :nclients + :client_id + 1
WITH u AS (
	UPDATE bench.task_plain t
	SET status = x.st,
		version_id = t.version_id + 1,
		last_updated = now(),
		last_modified = now(),
		resource = jsonb_set(t.resource, '{status}', to_jsonb(x.st::text))
			|| jsonb_build_object('meta', jsonb_build_object('versionId', (t.version_id + 1)::text, 'lastUpdated', x.ts_text),
								  'lastModified', x.ts_text)
	FROM (SELECT s.id, CASE t0.status WHEN 'in-progress' THEN 'on-hold' ELSE 'in-progress' END::omnitask.task_status AS st,
				 (to_json(now() AT TIME ZONE 'UTC') #>> '{}') || 'Z' AS ts_text
		  FROM bench.status_pool s JOIN bench.task_plain t0 ON t0.id = s.id WHERE s.n = :n) x
	WHERE t.id = x.id
	RETURNING t.*)
INSERT INTO bench.task_history_plain (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id)
SELECT u.id, u.version_id, 'update', u.status, u.owner_id, u.resource, u.last_updated, current_user, NULL FROM u
RETURNING resource;
