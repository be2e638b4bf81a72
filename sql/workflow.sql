--
-- workflow: the status workflow of the contract -- every transition for
-- admin and owning practitioner through set_task_status() and plain UPDATE,
-- reasons, creatable and terminal states, immutable elements, if_match, a
-- custom workflow, malformed workflow documents, and status_changes.
--
SET client_min_messages = warning;
SET timezone = 'UTC';

-- pg_temp.try(stmt) and pg_temp.try_as(who, stmt): 'ok' or its SQLSTATE,
-- message, detail and hint instead of failing the script
\i test/fixtures/try.sql
SET regress.try_report = 'detail, hint';

-- the roles of this test (roles are cluster-wide: leftovers of an aborted
-- run are dropped first)
DROP ROLE IF EXISTS wf_adm, wf_pr1, wf_pr2;
CREATE ROLE wf_adm LOGIN IN ROLE omnitask_admin;
CREATE ROLE wf_pr1 LOGIN IN ROLE omnitask_practitioner;
CREATE ROLE wf_pr2 LOGIN IN ROLE omnitask_practitioner;
INSERT INTO omnitask.practitioner (id, role_name, display) VALUES
	('wf-pr1', 'wf_pr1', 'Dr. Workflow One'),
	('wf-pr2', 'wf_pr2', 'Dr. Workflow Two');

-- a task owned by wf-pr1; every status accepts a statusReason
CREATE TEMP TABLE wf_base AS SELECT
	'{"resourceType": "Task", "intent": "order",
	  "description": "Workflow test task",
	  "for": {"reference": "Patient/wf-pat-1"},
	  "requester": {"reference": "Practitioner/wf-pr2"},
	  "owner": {"reference": "Practitioner/wf-pr1"},
	  "authoredOn": "2026-03-01T09:00:00Z"}'::jsonb AS t;
GRANT SELECT ON wf_base TO PUBLIC;

-- the workflow in force is the default one
SELECT omnitask.workflow()::jsonb = omnitask.default_workflow()::jsonb AS default_in_force;
SELECT from_status, to_status, roles, reason_required FROM omnitask.workflow_transitions;

--
-- The full 12 x 12 matrix, for an admin (wf_adm, a member of omnitask_admin)
-- and for the owning practitioner (wf_pr1), through set_task_status() and
-- through a plain UPDATE of the resource.  Each attempt gets a fresh task
-- imported in status "from" with statusReason "matrix", and moves it to
-- "to" with that same reason, so that moving to the same status changes
-- nothing (allowed even on a terminal task: it is an update, not a
-- transition).
--
CREATE TEMP TABLE wf_status AS
	SELECT s::text AS code, n::int AS ord
	FROM unnest(enum_range(NULL::omnitask.task_status)) WITH ORDINALITY AS e(s, n);

CREATE TEMP TABLE wf_matrix AS
	SELECT f.code AS from_status, d.code AS to_status, p.path, r.who, r.role,
		   format('wf-m-%s-%s-%s-%s', f.code, d.code, p.path, r.role) AS id,
		   NULL::text AS outcome, NULL::text AS status_after
	FROM wf_status f, wf_status d,
		 (VALUES ('status'), ('update')) AS p(path),
		 (VALUES ('wf_adm'::name, 'admin'), ('wf_pr1'::name, 'practitioner')) AS r(who, role);

SELECT count(*) AS imported
FROM wf_matrix m, wf_base b,
	 LATERAL omnitask.import_task(b.t || jsonb_build_object(
		'id', m.id, 'status', m.from_status, 'statusReason', '{"text": "matrix"}'::jsonb)) AS i;

UPDATE wf_matrix m SET outcome = pg_temp.try_as(m.who,
	CASE m.path
	WHEN 'status' THEN format('SELECT omnitask.set_task_status(%L, %L, %L)', m.id, m.to_status, 'matrix')
	ELSE format('UPDATE omnitask.task SET resource = jsonb_set(resource, %L, %L) WHERE id = %L',
				'{status}', to_jsonb(m.to_status), m.id)
	END);
UPDATE wf_matrix m SET status_after = t.status::text FROM omnitask.task t WHERE t.id = m.id;

-- what the workflow says: a change of status needs a transition open to the
-- role; staying in the same status is always allowed (nothing else changes)
CREATE TEMP TABLE wf_expected AS
	SELECT m.*,
		   CASE WHEN m.from_status = m.to_status
				  OR EXISTS (SELECT FROM omnitask.workflow_transitions w
							 WHERE w.from_status::text = m.from_status
							   AND w.to_status::text = m.to_status
							   AND m.role = ANY (w.roles))
				THEN 'ok' ELSE '409' END AS expected
	FROM wf_matrix m;

-- the outcomes, one cell per attempt: ok, or the SQLSTATE (PT409 shown as 409)
CREATE FUNCTION pg_temp.cell(outcome text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN outcome = 'ok' THEN 'ok'
				WHEN outcome LIKE 'PT409:%' THEN '409'
				ELSE left(outcome, 5) END $$;

-- columns: dra(ft) req(uested) rec(eived) acc(epted) rej(ected) rdy (ready)
-- can(celled) inp (in-progress) hld (on-hold) fai(led) com(pleted) eie
-- (entered-in-error)
CREATE FUNCTION pg_temp.show_matrix(p_path text, p_role text)
RETURNS TABLE (from_status text, dra text, req text, rec text, acc text, rej text, rdy text,
			   can text, inp text, hld text, fai text, com text, eie text)
LANGUAGE sql AS $$
	SELECT m.from_status,
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'draft'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'requested'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'received'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'accepted'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'rejected'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'ready'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'cancelled'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'in-progress'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'on-hold'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'failed'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'completed'),
		   max(pg_temp.cell(m.outcome)) FILTER (WHERE m.to_status = 'entered-in-error')
	FROM wf_matrix m JOIN wf_status s ON s.code = m.from_status
	WHERE m.path = p_path AND m.role = p_role
	GROUP BY m.from_status, s.ord
	ORDER BY s.ord $$;

SELECT * FROM pg_temp.show_matrix('status', 'admin');
SELECT * FROM pg_temp.show_matrix('update', 'admin');
SELECT * FROM pg_temp.show_matrix('status', 'practitioner');
SELECT * FROM pg_temp.show_matrix('update', 'practitioner');

-- every outcome is what workflow_transitions says, and the stored status
-- agrees with it (moved on success, unchanged on refusal)
SELECT count(*) AS attempts,
	   count(*) FILTER (WHERE pg_temp.cell(outcome) <> expected) AS mismatches,
	   count(*) FILTER (WHERE status_after IS DISTINCT FROM
						CASE WHEN outcome = 'ok' THEN to_status ELSE from_status END) AS wrong_status
FROM wf_expected;
SELECT from_status, to_status, path, role, outcome, expected
FROM wf_expected WHERE pg_temp.cell(outcome) <> expected
ORDER BY 1, 2, 3, 4;

-- the refusals name the transition and the role, and hint at what is open
SELECT from_status, to_status, path, role, outcome FROM wf_matrix
WHERE (from_status, to_status) IN (('requested', 'completed'), ('completed', 'entered-in-error'),
								   ('entered-in-error', 'draft'))
ORDER BY from_status, to_status, path, role;

--
-- Reasons: entering rejected, cancelled, failed or entered-in-error needs
-- Task.statusReason; set_task_status() writes its reason there.
--
CREATE TEMP TABLE wf_reason AS
	SELECT * FROM (VALUES
		('wf-r-rejected', 'requested', 'rejected', 'wf_pr1'::name),
		('wf-r-cancelled', 'requested', 'cancelled', 'wf_pr1'),
		('wf-r-failed', 'in-progress', 'failed', 'wf_pr1'),
		('wf-r-eie', 'ready', 'entered-in-error', 'wf_adm'),
		('wf-r-onhold', 'in-progress', 'on-hold', 'wf_pr1')) AS v(id, from_status, to_status, who);
SELECT count(*) AS imported
FROM wf_reason r, wf_base b, LATERAL omnitask.import_task(b.t || jsonb_build_object('id', r.id, 'status', r.from_status)) i;
-- without a reason: 23514 naming Task.statusReason (on-hold needs none)
SELECT id, pg_temp.try_as(who, format('SELECT omnitask.set_task_status(%L, %L)', id, to_status)) AS without_reason
FROM wf_reason ORDER BY id;
-- the same through a plain UPDATE
SELECT id, pg_temp.try_as(who, format('UPDATE omnitask.task SET resource = jsonb_set(resource, %L, %L) WHERE id = %L',
									  '{status}', to_jsonb(to_status), id)) AS without_reason
FROM wf_reason WHERE to_status <> 'on-hold' ORDER BY id;
-- an empty reason is no reason (FHIR strings are never empty)
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-r-rejected', 'rejected', '')$$) AS empty_reason;
SELECT id, status FROM omnitask.task WHERE id LIKE 'wf-r-%' ORDER BY id;
-- with a reason: stored as Task.statusReason.text
SELECT id, pg_temp.try_as(who, format('SELECT omnitask.set_task_status(%L, %L, %L)', id, to_status,
									  'reason for ' || to_status)) AS with_reason
FROM wf_reason WHERE id <> 'wf-r-onhold' ORDER BY id;
SELECT id, status, version_id, resource -> 'statusReason' AS status_reason
FROM omnitask.task WHERE id LIKE 'wf-r-%' ORDER BY id;
-- a plain UPDATE may give the reason itself
SELECT omnitask.import_task(t || '{"id": "wf-r-update", "status": "received"}') IS NOT NULL AS imported FROM wf_base;
SELECT pg_temp.try_as('wf_pr1', $$UPDATE omnitask.task SET resource = resource || '{"status": "rejected", "statusReason": {"text": "out of scope"}}' WHERE id = 'wf-r-update'$$);
SELECT status, resource -> 'statusReason' AS status_reason FROM omnitask.task WHERE id = 'wf-r-update';
-- a reason that is no longer wanted goes away with the next change of status
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-r-onhold', 'on-hold', 'waiting for the lab')$$);
SELECT resource -> 'statusReason' AS status_reason FROM omnitask.task WHERE id = 'wf-r-onhold';
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-r-onhold', 'in-progress')$$);
SELECT status, resource ? 'statusReason' AS has_status_reason FROM omnitask.task WHERE id = 'wf-r-onhold';

--
-- Creatable states: draft, requested and ready; every other status is
-- refused with PT409, for create_task() and for a plain INSERT alike.
--
SELECT s.code AS status,
	   pg_temp.try_as('wf_adm', format('SELECT omnitask.create_task(%L)',
			b.t || jsonb_build_object('status', s.code, 'statusReason', '{"text": "at creation"}'::jsonb,
									  'for', '{"reference": "Patient/wf-pat-create"}'::jsonb))) AS admin_create
FROM wf_status s, wf_base b ORDER BY s.ord;
SELECT pg_temp.try_as('wf_pr1', format('SELECT omnitask.create_task(%L)',
		t || '{"status": "accepted", "for": {"reference": "Patient/wf-pat-create"}}')) AS practitioner_create
FROM wf_base;
SELECT pg_temp.try_as('wf_pr1', format('INSERT INTO omnitask.task (resource) VALUES (%L)',
		t || '{"status": "in-progress", "for": {"reference": "Patient/wf-pat-create"}}')) AS practitioner_insert
FROM wf_base;
SELECT pg_temp.try_as('wf_pr1', format('INSERT INTO omnitask.task (resource) VALUES (%L)',
		t || '{"status": "ready", "for": {"reference": "Patient/wf-pat-create"}}')) AS practitioner_insert
FROM wf_base;
SELECT status, count(*) FROM omnitask.task WHERE patient_id = 'wf-pat-create' GROUP BY status ORDER BY status;

--
-- Terminal states take no change but appended notes and the admin's
-- entered-in-error.
--
SELECT omnitask.import_task(t || '{"id": "wf-t-done", "status": "completed", "note": [{"text": "Done."}]}') IS NOT NULL AS imported
FROM wf_base;
-- description: refused, for admin and practitioner
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') || '{"description": "Changed"}')$$) AS admin_description;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') || '{"description": "Changed"}')$$) AS practitioner_description;
SELECT pg_temp.try_as('wf_pr1', $$UPDATE omnitask.task SET resource = resource || '{"priority": "stat"}' WHERE id = 'wf-t-done'$$) AS practitioner_priority;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') - 'requester')$$) AS admin_remove_requester;
-- appending a note: allowed, a new version
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.update_task('wf-t-done', jsonb_insert(omnitask.read_task('wf-t-done'), '{note, -1}', '{"text": "Patient called back."}', true))$$) AS practitioner_append_note;
SELECT pg_temp.try_as('wf_adm', $$UPDATE omnitask.task SET resource = jsonb_insert(resource, '{note, -1}', '{"text": "Filed."}', true) WHERE id = 'wf-t-done'$$) AS admin_append_note;
SELECT version_id, status, jsonb_array_length(resource -> 'note') AS notes FROM omnitask.task WHERE id = 'wf-t-done';
-- changing, removing or reordering notes: refused
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', jsonb_set(omnitask.read_task('wf-t-done'), '{note, 0, text}', '"Not done."'))$$) AS change_note;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') #- '{note, 2}')$$) AS remove_last_note;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', jsonb_set(omnitask.read_task('wf-t-done'), '{note}', (SELECT jsonb_agg(n ORDER BY o DESC) FROM jsonb_array_elements(omnitask.read_task('wf-t-done') -> 'note') WITH ORDINALITY AS x(n, o))))$$) AS reorder_notes;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') - 'note')$$) AS remove_notes;
-- a status change with an appended note: still only the admin's entered-in-error
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-t-done', 'entered-in-error', 'wrong patient')$$) AS practitioner_eie;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-t-done', 'in-progress', 'reopen')$$) AS admin_reopen;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-t-done', 'entered-in-error')$$) AS admin_eie_without_reason;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-t-done', 'entered-in-error', 'wrong patient')$$) AS admin_eie;
SELECT version_id, status, resource -> 'statusReason' AS status_reason, jsonb_array_length(resource -> 'note') AS notes
FROM omnitask.task WHERE id = 'wf-t-done';
-- entered-in-error: nothing leaves it, nothing changes but notes
SELECT s.code AS to_status, pg_temp.try_as('wf_adm', format('SELECT omnitask.set_task_status(%L, %L, %L)', 'wf-t-done', s.code, 'wrong patient')) AS admin
FROM wf_status s ORDER BY s.ord;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') || '{"statusReason": {"text": "another reason"}}')$$) AS change_reason;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', jsonb_insert(omnitask.read_task('wf-t-done'), '{note, -1}', '{"text": "Retracted."}', true))$$) AS append_note;
SELECT version_id, status, jsonb_array_length(resource -> 'note') AS notes FROM omnitask.task WHERE id = 'wf-t-done';
-- meta.tag is written by the client, not the server: a terminal task keeps
-- its tags too
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-t-done', omnitask.read_task('wf-t-done') || '{"meta": {"tag": [{"code": "late"}]}}')$$) AS admin_meta_tag;
SELECT version_id, resource -> 'meta' ? 'tag' AS has_tag FROM omnitask.task WHERE id = 'wf-t-done';

--
-- Immutable elements: id, intent, authoredOn, for and requester never change
-- on an update (23514 naming the element); other elements do.
--
SELECT omnitask.import_task(t || '{"id": "wf-i-1", "status": "requested"}') IS NOT NULL AS imported FROM wf_base;
SELECT e.what, pg_temp.try_as('wf_adm', format('SELECT omnitask.update_task(%L, %s)', 'wf-i-1', e.expr)) AS update_task
FROM (VALUES
	(1, 'intent', $$omnitask.read_task('wf-i-1') || '{"intent": "plan"}'$$),
	(2, 'authoredOn', $$omnitask.read_task('wf-i-1') || '{"authoredOn": "2026-03-02T09:00:00Z"}'$$),
	(3, 'authoredOn removed', $$omnitask.read_task('wf-i-1') - 'authoredOn'$$),
	(4, 'for', $$omnitask.read_task('wf-i-1') || '{"for": {"reference": "Patient/wf-pat-2"}}'$$),
	(5, 'requester', $$omnitask.read_task('wf-i-1') || '{"requester": {"reference": "Practitioner/wf-pr1"}}'$$),
	(6, 'requester removed', $$omnitask.read_task('wf-i-1') - 'requester'$$),
	(7, 'id', $$omnitask.read_task('wf-i-1') || '{"id": "wf-i-2"}'$$),
	(8, 'authoredOn, same instant', $$omnitask.read_task('wf-i-1') || '{"authoredOn": "2026-03-01T10:00:00+01:00"}'$$),
	(9, 'description', $$omnitask.read_task('wf-i-1') || '{"description": "Changed"}'$$)) AS e(n, what, expr)
ORDER BY e.n;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.update_task('wf-i-1', omnitask.read_task('wf-i-1') || '{"intent": "plan"}')$$) AS practitioner_intent;
SELECT pg_temp.try_as('wf_pr1', $$UPDATE omnitask.task SET resource = resource || '{"for": {"reference": "Patient/wf-pat-2"}}' WHERE id = 'wf-i-1'$$) AS practitioner_for;
SELECT pg_temp.try($$UPDATE omnitask.task SET id = 'wf-i-2' WHERE id = 'wf-i-1'$$) AS column_id;
SELECT version_id, intent, patient_id, requester, authored_on, description FROM omnitask.task WHERE id = 'wf-i-1';

--
-- if_match: the expected meta.versionId; PT412 when stale.
--
SELECT omnitask.import_task(t || '{"id": "wf-v-1", "status": "requested"}') -> 'meta' ->> 'versionId' AS version FROM wf_base;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'accepted', NULL, 2)$$) AS stale;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'accepted', NULL, 1)$$) AS current;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'in-progress', NULL, 1)$$) AS stale_again;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.update_task('wf-v-1', omnitask.read_task('wf-v-1') || '{"status": "in-progress"}', 1)$$) AS update_stale;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.update_task('wf-v-1', omnitask.read_task('wf-v-1') || '{"status": "in-progress"}', 2)$$) AS update_current;
-- a stale version is checked before the transition
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'requested', NULL, 1)$$) AS stale_and_refused;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'requested', NULL, 3)$$) AS current_but_refused;
SELECT version_id, status FROM omnitask.task WHERE id = 'wf-v-1';
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-nope', 'accepted', NULL, 1)$$) AS not_found;
-- another practitioner's task is not found; a status that does not exist is invalid
SELECT pg_temp.try_as('wf_pr2', $$SELECT omnitask.set_task_status('wf-v-1', 'completed', NULL, 3)$$) AS other_practitioner;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', 'finished')$$) AS unknown_status;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-v-1', NULL)$$) AS null_status;
SELECT version_id, status FROM omnitask.task WHERE id = 'wf-v-1';

--
-- A custom workflow: the default one plus completed -> in-progress for
-- admins only (reopening a completed task) and on-hold -> completed for
-- practitioners only.
--
CREATE TEMP TABLE wf_custom AS
	SELECT jsonb_set(d, '{transitions}', (d -> 'transitions') ||
					 '[{"from": "completed", "to": "in-progress", "roles": ["admin"]},
					   {"from": "on-hold", "to": "completed", "roles": ["practitioner"]}]') AS doc
	FROM (SELECT omnitask.default_workflow()::jsonb AS d) s;
GRANT SELECT ON wf_custom TO PUBLIC;
SELECT omnitask.import_task(t || jsonb_build_object('id', 'wf-c-' || n, 'status', 'completed')) IS NOT NULL AS imported
FROM wf_base, generate_series(1, 3) n;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_workflow(doc::json) FROM wf_custom$$) AS practitioner_sets;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow(doc::json) FROM wf_custom$$) AS admin_sets;
SELECT omnitask.workflow()::jsonb = doc AS round_trips, omnitask.workflow()::jsonb = omnitask.default_workflow()::jsonb AS is_default
FROM wf_custom;
SELECT updated_by FROM omnitask.workflow_definition;
SELECT * FROM omnitask.workflow_transitions WHERE from_status IN ('completed', 'on-hold');
SELECT count(*) AS transitions FROM omnitask.workflow_transitions;
-- a transition for practitioners only is not the admin's
SELECT omnitask.import_task(t || jsonb_build_object('id', 'wf-c-hold-' || n, 'status', 'on-hold')) IS NOT NULL AS imported
FROM wf_base, generate_series(1, 2) n;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-hold-1', 'completed')$$) AS admin_completes_on_hold;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-c-hold-2', 'completed')$$) AS practitioner_completes_on_hold;
-- the admin reopens a completed task; the practitioner may not
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-1', 'in-progress')$$) AS admin_reopens;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-c-2', 'in-progress')$$) AS practitioner_reopens;
SELECT pg_temp.try_as('wf_pr1', $$UPDATE omnitask.task SET resource = jsonb_set(resource, '{status}', '"in-progress"') WHERE id = 'wf-c-2'$$) AS practitioner_reopens_by_update;
-- reopening changes the status only: the rest of a terminal task stays
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.update_task('wf-c-2', omnitask.read_task('wf-c-2') || '{"status": "in-progress", "description": "Reopened"}')$$) AS admin_reopens_and_edits;
SELECT pg_temp.try_as('wf_adm', $$UPDATE omnitask.task SET resource = jsonb_set(resource, '{status}', '"in-progress"') WHERE id = 'wf-c-2'$$) AS admin_reopens_by_update;
SELECT id, status, version_id FROM omnitask.task WHERE id LIKE 'wf-c-%' ORDER BY id;
-- a workflow set in a transaction that rolls back never applied
BEGIN;
SELECT omnitask.set_workflow(omnitask.default_workflow());
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-3', 'in-progress')$$) AS admin_reopens_in_transaction;
ROLLBACK;
SELECT omnitask.workflow()::jsonb = doc AS custom_in_force FROM wf_custom;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-3', 'in-progress', NULL, 1)$$) AS admin_reopens;
SELECT pg_temp.try_as('wf_adm', $$UPDATE omnitask.task SET resource = jsonb_set(resource, '{status}', '"completed"') WHERE id = 'wf-c-3'$$) AS admin_completes;
-- back to the default: reopening is refused again
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow(omnitask.default_workflow())$$) AS restore;
SELECT omnitask.workflow()::jsonb = omnitask.default_workflow()::jsonb AS default_in_force;
SELECT count(*) AS transitions, count(*) FILTER (WHERE from_status = 'completed' AND to_status = 'in-progress') AS reopen
FROM omnitask.workflow_transitions;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-3', 'in-progress')$$) AS admin_reopens;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_task_status('wf-c-hold-1', 'completed')$$) AS practitioner_completes_on_hold;
-- a document without reason_required: no state needs a reason
-- (workflow_transitions says false, not NULL)
BEGIN;
SELECT omnitask.set_workflow('{"creatable": ["draft"], "transitions": [{"from": "draft", "to": ["ready", "cancelled"], "roles": ["admin"]}]}');
SELECT * FROM omnitask.workflow_transitions;
ROLLBACK;

--
-- Malformed workflow documents: each refused with the place and the
-- problem, and the workflow in force stays as it was.
--
CREATE TEMP TABLE wf_before AS SELECT omnitask.workflow()::jsonb AS w;
SELECT pg_temp.try($$SELECT omnitask.set_workflow('{bad'::text::json)$$) AS not_json;
SELECT pg_temp.try($$SELECT omnitask.set_workflow('{"creatable": ["draft"], "transitions": []} x'::text::json)$$) AS trailing_text;
SELECT w.n, w.what, pg_temp.try_as('wf_adm', format('SELECT omnitask.set_workflow(%L::json)', w.doc)) AS refused
FROM (VALUES
	(1, 'not an object', '[]'),
	(2, 'a string', '"draft"'),
	(3, 'unknown top-level key',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["admin"]}], "states": []}'),
	(4, 'unknown state in creatable', '{"creatable": ["draft", "open"], "transitions": []}'),
	(5, 'unknown state in a transition',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "done", "roles": ["admin"]}]}'),
	(6, 'unknown role',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["admin", "nurse"]}]}'),
	(7, 'auditor role',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["auditor"]}]}'),
	(8, 'out of entered-in-error',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["admin"]}, {"from": ["ready", "entered-in-error"], "to": "draft", "roles": ["admin"]}]}'),
	(9, 'creatable terminal state',
	 '{"creatable": ["draft", "completed"], "terminal": ["completed"], "transitions": [{"from": "draft", "to": "completed", "roles": ["admin"]}]}'),
	(10, 'duplicate pair',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": ["ready", "requested"], "roles": ["admin"]}, {"from": "draft", "to": "ready", "roles": ["practitioner"]}]}'),
	(11, 'duplicate state in creatable', '{"creatable": ["draft", "ready", "draft"], "transitions": []}'),
	(12, 'duplicate state in to',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": ["ready", "ready"], "roles": ["admin"]}]}'),
	(13, 'self transition',
	 '{"creatable": ["draft"], "transitions": [{"from": ["draft", "ready"], "to": "ready", "roles": ["admin"]}]}'),
	(14, 'missing transitions', '{"creatable": ["draft"], "terminal": ["completed"]}'),
	(15, 'missing creatable', '{"transitions": [{"from": "draft", "to": "ready", "roles": ["admin"]}]}'),
	(16, 'roles empty', '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": []}]}'),
	(17, 'roles missing', '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready"}]}'),
	(18, 'unknown key in a transition',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["admin"], "reason": true}]}'),
	(19, 'role listed twice',
	 '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["admin", "admin"]}]}'),
	(20, 'transitions not an array', '{"creatable": ["draft"], "transitions": {"from": "draft"}}'),
	(21, 'creatable empty', '{"creatable": [], "transitions": []}'),
	(22, 'creatable a string', '{"creatable": "draft", "transitions": []}'),
	(23, 'unknown state in reason_required', '{"creatable": ["draft"], "reason_required": ["closed"], "transitions": []}'),
	(24, 'a transition not an object', '{"creatable": ["draft"], "transitions": ["draft -> ready"]}'),
	(25, 'status not a string',
	 '{"creatable": ["draft"], "transitions": [{"from": 1, "to": "ready", "roles": ["admin"]}]}')
	) AS w(n, what, doc)
ORDER BY w.n;
-- documents that json accepts but that are no workflow either: a status code
-- with a NUL in it (json-c reads "draft\u0000junk" as "draft"), and nesting
-- deeper than json-c's default limit (valid JSON: an unknown key, not 22P02).
-- Only the SQLSTATE is shown; in a transaction, in case one is stored.
BEGIN;
SELECT left(pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow('{"creatable": ["draft\u0000junk"], "transitions": []}')$$), 5) AS nul_in_status;
SELECT left(pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow('{"creatable": ["draft", "ready"], "terminal": ["completed\u0000"], "transitions": []}')$$), 5) AS nul_in_terminal;
SELECT left(pg_temp.try_as('wf_adm', format('SELECT omnitask.set_workflow(%L)', '{"creatable": ["draft"], "transitions": [], "x": ' || repeat('[', 40) || repeat(']', 40) || '}')), 5) AS deep_nesting;
SELECT pg_temp.try('SELECT count(*) FROM omnitask.workflow_transitions') AS view_readable,
	   pg_temp.try('SELECT omnitask.terminal_statuses()') AS terminal_readable;
ROLLBACK;
-- json-c reads the json value again: a top-level scalar or null is no
-- object (not a parse error: the terminating NUL ends a number), and nesting
-- deeper than json-c's limit of 1000 (PostgreSQL's json takes it) is 22P02
-- at the character where json-c stopped.
BEGIN;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow('null')$$) AS json_null;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_workflow('123')$$) AS json_number;
SELECT pg_temp.try_as('wf_adm', format('SELECT omnitask.set_workflow(%L)', '{"creatable": ["draft"], "transitions": [], "x": ' || repeat('[', 999) || repeat(']', 999) || '}')) AS nesting_1000;
SELECT pg_temp.try_as('wf_adm', format('SELECT omnitask.set_workflow(%L)', '{"creatable": ["draft"], "transitions": [], "x": ' || repeat('[', 1000) || repeat(']', 1000) || '}')) AS nesting_1001;
ROLLBACK;
-- a document written straight into the table is checked by its trigger
SELECT count(*) AS stored_rows FROM omnitask.workflow_definition;
SELECT pg_temp.try($$INSERT INTO omnitask.workflow_definition (definition) VALUES ('{"creatable": ["draft"], "transitions": [{"from": "entered-in-error", "to": "draft", "roles": ["admin"]}]}')$$) AS direct_insert;
SELECT pg_temp.try($$UPDATE omnitask.workflow_definition SET definition = '{"creatable": ["draft"], "transitions": [{"from": "draft", "to": "ready", "roles": ["auditor"]}]}'$$) AS direct_update;
SELECT pg_temp.try_as('wf_pr1', $$UPDATE omnitask.workflow_definition SET definition = omnitask.default_workflow()$$) AS practitioner_update;
SELECT pg_temp.try_as('wf_pr1', $$SELECT omnitask.set_workflow(omnitask.default_workflow())$$) AS practitioner_sets;
-- nothing changed
SELECT omnitask.workflow()::jsonb = w AS unchanged, w = omnitask.default_workflow()::jsonb AS is_default FROM wf_before;
SELECT count(*) AS transitions FROM omnitask.workflow_transitions;
SELECT pg_temp.try_as('wf_adm', $$SELECT omnitask.set_task_status('wf-c-3', 'in-progress')$$) AS admin_reopens;

--
-- status_changes: the status changes of a task from its history, in order
-- (updates that keep the status are not changes).
--
SELECT pg_temp.try_as('wf_pr1', $$CREATE TEMP TABLE wf_sc AS SELECT omnitask.create_task(t || '{"status": "draft", "for": {"reference": "Patient/wf-pat-sc"}}') ->> 'id' AS id FROM wf_base$$) AS created;
SELECT pg_temp.try_as(s.who, format('SELECT omnitask.set_task_status(%L, %L, %L)', wf_sc.id, s.status, s.reason)) AS step
FROM wf_sc, (VALUES
	(1, 'wf_pr1'::name, 'requested', NULL),
	(2, 'wf_pr1', 'accepted', NULL),
	(3, 'wf_pr1', 'in-progress', NULL),
	(4, 'wf_pr1', 'on-hold', 'waiting for the lab'),
	(5, 'wf_pr1', 'on-hold', 'still waiting for the lab'),
	(6, 'wf_pr1', 'in-progress', NULL),
	(7, 'wf_pr1', 'completed', NULL),
	(8, 'wf_adm', 'entered-in-error', 'wrong patient')) AS s(n, who, status, reason)
ORDER BY s.n;
SELECT c.version_id, c.from_status, c.to_status, c.changed_by, c.practitioner_id
FROM omnitask.status_changes c JOIN wf_sc USING (id) ORDER BY c.version_id;
-- the practitioner sees the changes made while the task was theirs
SELECT pg_temp.try_as('wf_pr1', $$CREATE TEMP TABLE wf_sc_seen AS SELECT c.version_id, c.from_status, c.to_status FROM omnitask.status_changes c JOIN wf_sc USING (id)$$) AS practitioner_reads;
SELECT * FROM wf_sc_seen ORDER BY version_id;

--
-- clean up the roles (the tasks refer to practitioner ids, not roles)
--
RESET ROLE;
DROP TABLE wf_sc, wf_sc_seen;
UPDATE omnitask.practitioner SET active = false WHERE id IN ('wf-pr1', 'wf-pr2');
DROP ROLE wf_adm, wf_pr1, wf_pr2;
