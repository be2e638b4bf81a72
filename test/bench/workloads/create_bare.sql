-- the bare floor for create: one INSERT of the document and its derived columns, no history row
\set k random(1, :ndocs)
INSERT INTO bench.task_plain (id, version_id, last_updated, status, intent, priority, owner_id, patient_id,
	requester, code, description, authored_on, last_modified, due_at, resource, search_tokens, business_status)
SELECT gen_random_uuid()::text, 1, now(), (d.doc->>'status')::omnitask.task_status, (d.doc->>'intent')::omnitask.task_intent,
	   coalesce(d.doc->>'priority', 'routine')::omnitask.task_priority,
	   substring(d.doc #>> '{owner,reference}' FROM '^Practitioner/(.*)$'),
	   substring(d.doc #>> '{for,reference}' FROM '^Patient/(.*)$'),
	   d.doc #>> '{requester,reference}', d.doc #>> '{code,coding,0,code}', d.doc->>'description',
	   (d.doc->>'authoredOn')::timestamptz, now(),
	   coalesce((d.doc #>> '{restriction,period,end}')::timestamptz, (d.doc #>> '{executionPeriod,end}')::timestamptz),
	   d.doc, c.search_tokens, c.business_status
FROM bench.docs d, omnitask.task_search_columns(d.doc) c WHERE d.k = :k
RETURNING resource;
