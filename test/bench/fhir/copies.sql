-- The change-feed benchmark at a million tasks (test/bench/fhir_http.sh
-- --copies N): the tasks the sample generator imported, copied N times in
-- SQL with new ids and without business identifiers, each copy in a
-- transaction of its own (one feed position a copy), the triggers off
-- (session_replication_role = replica: the derived columns are copied as
-- they are, the history rows from the originals' history).  Far faster than
-- importing a million generated tasks; the feed reads the same kind of
-- rows.  psql -v copies=N; \gexec runs each copy as a statement of its own
-- outside a transaction block, so each commits on its own.
\set ON_ERROR_STOP on
SET session_replication_role = replica;
CREATE TEMP TABLE originals AS SELECT id FROM omnitask.task;
SELECT format($q$
	WITH t AS (
		INSERT INTO omnitask.task (id, version_id, last_updated, status, intent, priority, owner_id, patient_id,
								   requester, code, description, authored_on, last_modified, due_at, resource,
								   search_tokens, business_status)
		SELECT t.id || '-c%1$s', t.version_id, t.last_updated, t.status, t.intent, t.priority, t.owner_id, t.patient_id,
			   t.requester, t.code, t.description, t.authored_on, t.last_modified, t.due_at,
			   (t.resource - 'identifier') || jsonb_build_object('id', t.id || '-c%1$s'),
			   t.search_tokens, t.business_status
		FROM omnitask.task t JOIN originals o USING (id)
		RETURNING id)
	INSERT INTO omnitask.task_history (id, version_id, operation, status, owner_id, resource, recorded_at,
									   recorded_by, practitioner_id)
	SELECT h.id || '-c%1$s', h.version_id, h.operation, h.status, h.owner_id,
		   (h.resource - 'identifier') || jsonb_build_object('id', h.id || '-c%1$s'),
		   h.recorded_at, h.recorded_by, h.practitioner_id
	FROM omnitask.task_history h JOIN originals o USING (id)
	$q$, c)
FROM generate_series(1, :copies) c \gexec
RESET session_replication_role;
