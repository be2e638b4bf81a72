-- floor for create: the same document with the server-owned elements and derived columns computed by the
-- client SQL, into the plain copy, plus its history row; no validation, no rules, no RLS
\set k random(1, :ndocs)
WITH d AS MATERIALIZED (
	SELECT gen_random_uuid()::text AS id, now() AS ts,
		   (to_json(now() AT TIME ZONE 'UTC') #>> '{}') || 'Z' AS ts_text, d.doc
	FROM bench.docs d WHERE d.k = :k),
r AS MATERIALIZED (
	SELECT d.id, d.ts, d.doc || jsonb_build_object('id', d.id,
		'meta', jsonb_build_object('versionId', '1', 'lastUpdated', d.ts_text), 'lastModified', d.ts_text) AS res
	FROM d),
t AS (
	INSERT INTO bench.task_plain (id, version_id, last_updated, status, intent, priority, owner_id, patient_id,
		requester, code, description, authored_on, last_modified, due_at, resource, search_tokens, business_status)
	SELECT r.id, 1, r.ts, (r.res->>'status')::omnitask.task_status, (r.res->>'intent')::omnitask.task_intent,
		   coalesce(r.res->>'priority', 'routine')::omnitask.task_priority,
		   substring(r.res #>> '{owner,reference}' FROM '^Practitioner/(.*)$'),
		   substring(r.res #>> '{for,reference}' FROM '^Patient/(.*)$'),
		   r.res #>> '{requester,reference}', r.res #>> '{code,coding,0,code}', r.res->>'description',
		   (r.res->>'authoredOn')::timestamptz, r.ts,
		   coalesce((r.res #>> '{restriction,period,end}')::timestamptz, (r.res #>> '{executionPeriod,end}')::timestamptz),
		   r.res, c.search_tokens, c.business_status
	FROM r, omnitask.task_search_columns(r.res) c
	RETURNING *)
INSERT INTO bench.task_history_plain (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id)
SELECT t.id, t.version_id, 'create', t.status, t.owner_id, t.resource, t.last_updated, current_user, NULL FROM t
RETURNING resource;
