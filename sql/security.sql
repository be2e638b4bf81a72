--
-- security: who may see and change which task, tried adversarially.
--
-- Roles act through SET SESSION AUTHORIZATION (session_user and
-- current_user become that role, as for a direct login) or SET ROLE.  Every
-- refused attempt shows its SQLSTATE and message, and each block checks
-- afterwards, as superuser, that nothing changed (tasks, versions, history,
-- registry, workflow).  This database is shared with the other tests: only
-- rows of this test (patient sec-pat, ids sec-*, practitioners sec-*) are
-- counted.
--
SET client_min_messages = warning;
SET timezone = 'UTC';

-- pg_temp.try(stmt): 'ok, N row(s)' or its SQLSTATE and message (task ids
-- masked; for 23514 the FHIR paths of the OperationOutcome)
\i test/fixtures/try.sql
SET regress.try_report = 'rows, outcome';

-- a valid task of this test, with extra elements
CREATE FUNCTION pg_temp.t(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"resourceType": "Task", "status": "requested", "intent": "order",
			 "description": "sec: security test task", "for": {"reference": "Patient/sec-pat"}}'::jsonb || extra
$$;

-- what this test owns, seen by the superuser: counts, and a hash of every
-- row of every omnitask table (to show that a refused attempt changed nothing)
CREATE FUNCTION pg_temp.sec_state() RETURNS text LANGUAGE sql AS $$
	SELECT format('tasks=%s versions=%s history=%s registry=%s',
		(SELECT count(*) FROM omnitask.task WHERE patient_id = 'sec-pat'),
		(SELECT coalesce(sum(version_id), 0) FROM omnitask.task WHERE patient_id = 'sec-pat'),
		(SELECT count(*) FROM omnitask.task_history WHERE resource -> 'for' ->> 'reference' = 'Patient/sec-pat'),
		(SELECT string_agg(id || CASE WHEN active THEN '' ELSE '(inactive)' END, ',' ORDER BY id)
		 FROM omnitask.practitioner WHERE id LIKE 'sec-%'))
$$;
CREATE FUNCTION pg_temp.sec_hash() RETURNS text LANGUAGE sql AS $$
	SELECT md5(coalesce((SELECT string_agg(t::text, '|' ORDER BY t.id) FROM omnitask.task t), '')
			|| coalesce((SELECT string_agg(h::text, '|' ORDER BY h.id, h.version_id) FROM omnitask.task_history h), '')
			|| coalesce((SELECT string_agg(p::text, '|' ORDER BY p.id) FROM omnitask.practitioner p), '')
			|| coalesce((SELECT string_agg(w::text, '|') FROM omnitask.workflow_definition w), ''))
$$;

-- the default workflow (the transitions below assume it)
DO $$ BEGIN
	IF EXISTS (SELECT FROM omnitask.workflow_definition) THEN
		PERFORM omnitask.set_workflow(omnitask.default_workflow());
	END IF;
END $$;

-- the roles of this test (cluster-wide: leftovers of an aborted run go first)
DROP ROLE IF EXISTS sec_admin, sec_pr1, sec_pr2, sec_pr3, sec_unreg, sec_aud, sec_nobody, sec_authn, sec_team;
CREATE ROLE sec_admin NOLOGIN IN ROLE omnitask_admin;
CREATE ROLE sec_pr1 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_pr2 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_pr3 NOLOGIN IN ROLE omnitask_practitioner;
CREATE ROLE sec_unreg NOLOGIN IN ROLE omnitask_practitioner;	-- never registered
CREATE ROLE sec_aud NOLOGIN IN ROLE omnitask_auditor;
CREATE ROLE sec_nobody NOLOGIN;									-- no omnitask role
CREATE ROLE sec_authn NOLOGIN NOINHERIT IN ROLE omnitask_admin, omnitask_practitioner, omnitask_auditor;
CREATE ROLE sec_team NOLOGIN ROLE sec_unreg;						-- a group role with a member

--
-- Privileges as the catalogs record them.  Nothing in the schema is granted
-- to PUBLIC and no function is SECURITY DEFINER (every call runs with the
-- caller's rights, so row security applies); who may execute which function
-- of the contract; and what each group role may do to each table and view
-- (writes to task: the resource column only).
--
SELECT p.oid::regprocedure::text AS granted_to_public_or_definer, p.prosecdef AS security_definer
FROM pg_proc p
WHERE p.pronamespace = 'omnitask'::regnamespace
  AND (p.prosecdef OR EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a WHERE a.grantee = 0))
UNION ALL
SELECT c.oid::regclass::text, NULL
FROM pg_class c
WHERE c.relnamespace = 'omnitask'::regnamespace
  AND EXISTS (SELECT FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE a.grantee = 0)
UNION ALL
SELECT 'schema omnitask', NULL
FROM pg_namespace n
WHERE n.nspname = 'omnitask'
  AND EXISTS (SELECT FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE a.grantee = 0)
ORDER BY 1;
SELECT f AS function,
	   has_function_privilege('omnitask_admin', f, 'EXECUTE') AS admin,
	   has_function_privilege('omnitask_practitioner', f, 'EXECUTE') AS practitioner,
	   has_function_privilege('omnitask_auditor', f, 'EXECUTE') AS auditor
FROM unnest(ARRAY['omnitask.validate_task(jsonb)', 'omnitask.create_task(jsonb)', 'omnitask.read_task(text)',
				  'omnitask.update_task(text,jsonb,integer)', 'omnitask.set_task_status(text,text,text,integer)',
				  'omnitask.search_tasks(text,text,text,text,integer,integer,text)', 'omnitask.task_history(text)',
				  'omnitask.import_task(jsonb)', 'omnitask.import_batch(jsonb[])', 'omnitask.import_lines(text,integer)',
				  'omnitask.register_practitioner(name,text,text)',
				  'omnitask.current_practitioner_id()', 'omnitask.set_workflow(json)', 'omnitask.workflow()',
				  'omnitask.verify()', 'omnitask.task_row_problem(omnitask.task)',
				  'omnitask.task_before_trigger()', 'omnitask.task_after_trigger()',
				  'omnitask.require_version(text,integer,integer,text)',
				  'omnitask.distribute(integer)', 'omnitask.task_id_default()']::regprocedure[]) f
ORDER BY f::text;
SELECT c.relname, substr(r.rolname, 10) AS role,
	   concat_ws(',',
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'SELECT') THEN 'SELECT' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'INSERT') THEN 'INSERT' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'UPDATE') THEN 'UPDATE' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'DELETE') THEN 'DELETE' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'REFERENCES') THEN 'REFERENCES' END,
		   CASE WHEN has_table_privilege(r.oid, c.oid, 'TRIGGER') THEN 'TRIGGER' END) AS table_privileges,
	   (SELECT string_agg(a.attname || ':' || concat_ws('/',
				CASE WHEN has_column_privilege(r.oid, c.oid, a.attnum, 'INSERT') THEN 'INSERT' END,
				CASE WHEN has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE') THEN 'UPDATE' END), ', ' ORDER BY a.attnum)
		FROM pg_attribute a
		WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		  AND (has_column_privilege(r.oid, c.oid, a.attnum, 'INSERT') AND NOT has_table_privilege(r.oid, c.oid, 'INSERT')
			   OR has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE') AND NOT has_table_privilege(r.oid, c.oid, 'UPDATE'))) AS column_privileges
FROM pg_class c, pg_roles r
WHERE c.relnamespace = 'omnitask'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND r.rolname IN ('omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor')
ORDER BY 1, 2;
-- row security is enabled and forced on the tables that hold tasks
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
WHERE relnamespace = 'omnitask'::regnamespace AND relname IN ('task', 'task_history') ORDER BY 1;
-- every view is security_invoker
SELECT c.relname AS view_without_security_invoker FROM pg_class c
WHERE c.relnamespace = 'omnitask'::regnamespace AND c.relkind = 'v'
  AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
ORDER BY 1;

--
-- The admin's legitimate path: register practitioners, import tasks with
-- known ids, create tasks for sec-p1 and sec-p2.
--
SET SESSION AUTHORIZATION sec_admin;
SELECT session_user, current_user, omnitask.current_practitioner_id();
SELECT omnitask.register_practitioner('sec_pr1', 'sec-p1', 'Dr. Sec One');
SELECT omnitask.register_practitioner('sec_pr2', 'sec-p2', 'Dr. Sec Two');
SELECT omnitask.register_practitioner('sec_pr3', 'sec-p3', 'Dr. Sec Three');
-- sec-a1, sec-a5 (overdue) for sec-p1; sec-a2 (stat, overdue, secret category)
-- for sec-p2; sec-a3, sec-a4 for sec-p3; sec-a0 unassigned
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a1", "owner": {"reference": "Practitioner/sec-p1"}}')) ->> 'id' AS imported;
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a5", "owner": {"reference": "Practitioner/sec-p1"},
	"authoredOn": "2019-12-01", "restriction": {"period": {"end": "2020-01-01T00:00:00Z"}}}')) ->> 'id' AS imported;
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a2", "owner": {"reference": "Practitioner/sec-p2"}, "priority": "stat",
	"description": "sec: SECRET of sec-p2", "authoredOn": "2019-12-01",
	"code": {"coding": [{"system": "https://omnitask.dev/fhir/CodeSystem/care-task-category", "code": "sec-secret"}]},
	"restriction": {"period": {"end": "2020-01-01T00:00:00Z"}}}')) ->> 'id' AS imported;
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a3", "owner": {"reference": "Practitioner/sec-p3"}}')) ->> 'id' AS imported;
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a4", "owner": {"reference": "Practitioner/sec-p3"}}')) ->> 'id' AS imported;
SELECT omnitask.import_task(pg_temp.t('{"id": "sec-a0"}')) ->> 'id' AS imported;
SELECT omnitask.set_task_status('sec-a2', 'accepted') ->> 'status' AS a2_status;
SELECT r -> 'owner' ->> 'reference' AS owner, r -> 'meta' ->> 'versionId' AS version
FROM (SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p1"}}')) AS r) s;
SELECT r -> 'owner' ->> 'reference' AS owner, r -> 'meta' ->> 'versionId' AS version
FROM (SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p2"}}')) AS r) s;
-- the random id of the admin's task for sec-p2, attacked below like sec-a2
SELECT id AS p2_task FROM omnitask.task WHERE patient_id = 'sec-pat' AND owner_id = 'sec-p2' AND id NOT LIKE 'sec-%' \gset
SELECT id, owner_id, status, priority FROM omnitask.tasks WHERE patient_id = 'sec-pat' AND id LIKE 'sec-%' ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state();

--
-- sec_pr1, a practitioner: the legitimate path.  Owner and requester
-- default to self; only their own tasks are listed; they update theirs and
-- move its status.
--
SET SESSION AUTHORIZATION sec_pr1;
SELECT session_user, current_user, omnitask.current_practitioner_id();
CREATE TEMP TABLE p1_created AS SELECT omnitask.create_task(pg_temp.t()) AS r;
SELECT r -> 'owner' ->> 'reference' AS owner, r -> 'requester' ->> 'reference' AS requester,
	   r ->> 'status' AS status, r -> 'meta' ->> 'versionId' AS version
FROM p1_created;
SELECT r ->> 'id' AS p1_task FROM p1_created \gset
SELECT count(*) AS visible, count(*) FILTER (WHERE owner_id = 'sec-p1') AS own,
	   count(*) FILTER (WHERE patient_id = 'sec-pat') AS of_this_test
FROM omnitask.tasks;
SELECT id, owner_id, status, is_overdue FROM omnitask.tasks WHERE id LIKE 'sec-%' ORDER BY id;
SELECT omnitask.update_task(:'p1_task', r || '{"description": "sec: updated by sec-p1"}', 1) -> 'meta' ->> 'versionId' AS version FROM p1_created;
SELECT omnitask.set_task_status(:'p1_task', 'accepted', NULL, 2) ->> 'status' AS status;
SELECT omnitask.set_task_status(:'p1_task', 'in-progress') ->> 'status' AS status;
SELECT (omnitask.task_history(:'p1_task') ->> 'total') AS history_total;
SELECT omnitask.read_task('sec-a1') ->> 'id' AS read_own;
SELECT omnitask.search_tasks(patient => 'sec-pat') ->> 'total' AS search_total;
-- update through plain SQL works too (the trigger does the rest)
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"note": [{"text": "sec: plain update"}]}' WHERE id = 'sec-a1'$$);
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state();

--
-- sec_pr1 against sec-p2's tasks (sec-a2 and the admin-created one):
-- every function says "not found", exactly as for a task that does not
-- exist; the tables and every view show nothing of them; plain SQL touches
-- no row.  Nothing changes.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_pr1;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a2')$$) AS read_other;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-does-not-exist')$$) AS read_missing;
SELECT pg_temp.try(format('SELECT omnitask.read_task(%L)', :'p2_task')) AS read_other_created;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a2', pg_temp.t('{"id": "sec-a2", "owner": {"reference": "Practitioner/sec-p2"}}'))$$) AS update_other;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a2', pg_temp.t('{"owner": {"reference": "Practitioner/sec-p1"}}'), 99)$$) AS update_other_if_match;
SELECT pg_temp.try(format('SELECT omnitask.update_task(%L, pg_temp.t())', :'p2_task')) AS update_other_created;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a2', 'in-progress')$$) AS status_other;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a2', 'cancelled', 'sec: mine now', 99)$$) AS status_other_if_match;
SELECT pg_temp.try(format('SELECT omnitask.set_task_status(%L, %L, %L)', :'p2_task', 'cancelled', 'x')) AS status_other_created;
SELECT pg_temp.try($$SELECT omnitask.task_history('sec-a2')$$) AS history_other;
SELECT pg_temp.try(format('SELECT omnitask.task_history(%L)', :'p2_task')) AS history_other_created;
SELECT omnitask.search_tasks(owner => 'sec-p2') -> 'total' AS search_owner_p2,
	   omnitask.search_tasks(owner => 'Practitioner/sec-p2', status => 'accepted', priority => 'stat') -> 'total' AS search_p2_filtered,
	   omnitask.search_tasks() -> 'entry' @> '[{"fullUrl": "Task/sec-a2"}]' AS search_all_has_a2;
SELECT count(*) AS task_rows FROM omnitask.task WHERE id IN ('sec-a2', 'sec-a0', 'sec-a3', :'p2_task') OR owner_id IS DISTINCT FROM 'sec-p1';
SELECT count(*) AS history_rows FROM omnitask.task_history WHERE id IN ('sec-a2', 'sec-a0', 'sec-a3', :'p2_task') OR owner_id IS DISTINCT FROM 'sec-p1';
SELECT count(*) AS tasks_view FROM omnitask.tasks WHERE owner_id IS DISTINCT FROM 'sec-p1';
SELECT status, priority, n FROM omnitask.task_counts ORDER BY status, priority;
SELECT owner_id, display, open, overdue, stat, asap, urgent, routine FROM omnitask.workload;
SELECT id, owner_id, priority FROM omnitask.overdue_tasks;
SELECT count(*) AS other_status_changes FROM omnitask.status_changes WHERE id IN ('sec-a2', :'p2_task') OR to_status = 'accepted' AND id NOT IN (:'p1_task');
SELECT priority, category, accepted, completed FROM omnitask.turnaround ORDER BY priority, category;
SELECT count(*) AS secret_anywhere FROM omnitask.tasks WHERE description LIKE '%SECRET%' OR code = 'sec-secret';
-- plain SQL on sec-p2's task: no row is visible, none is touched
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource || '{"description": "sec: pwned"}' WHERE id = 'sec-a2'$$) AS plain_update_other;
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource WHERE owner_id = 'sec-p2'$$) AS plain_update_all_p2;
SELECT pg_temp.try($$SELECT 1 FROM omnitask.task WHERE id = 'sec-a2' FOR UPDATE$$) AS lock_other;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource) SELECT resource FROM omnitask.task WHERE id = 'sec-a2'$$) AS copy_other;
-- a leaky function of the caller's own sees only rows that passed the policy
CREATE TEMP TABLE p1_peeked (v text);
CREATE FUNCTION pg_temp.peek(v text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
	$$ BEGIN INSERT INTO p1_peeked VALUES (v); RETURN true; END $$;
SELECT count(*) > 0 AS some_rows FROM omnitask.task WHERE pg_temp.peek(id || ' ' || coalesce(owner_id, '-') || ' ' || description);
SELECT count(*) > 0 AS some_rows FROM omnitask.task_history WHERE pg_temp.peek(id || ' ' || coalesce(owner_id, '-'));
SELECT count(*) > 0 AS some_rows FROM omnitask.tasks WHERE pg_temp.peek(id || ' ' || coalesce(owner_id, '-'));
SELECT count(*) AS peeked_rows_not_own FROM p1_peeked WHERE v NOT LIKE '% sec-p1%' OR v LIKE '%SECRET%' OR v LIKE 'sec-a2 %';
-- parallel workers apply the policies too (the leader takes no part, so
-- the workers evaluate current_practitioner_id() themselves)
SET parallel_leader_participation = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
DO $$ BEGIN PERFORM set_config('force_parallel_mode', 'on', false);	-- debug_parallel_query from PostgreSQL 16
EXCEPTION WHEN undefined_object THEN PERFORM set_config('debug_parallel_query', 'on', false); END $$;
SELECT count(*) AS parallel_visible, count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') AS parallel_others FROM omnitask.task;
SELECT count(*) AS parallel_history, count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') AS parallel_others FROM omnitask.task_history;
RESET parallel_leader_participation;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DO $$ BEGIN PERFORM set_config('force_parallel_mode', 'off', false);
EXCEPTION WHEN undefined_object THEN PERFORM set_config('debug_parallel_query', 'off', false); END $$;
-- planner statistics of the tables are hidden from a role under row security
RESET SESSION AUTHORIZATION;
ANALYZE omnitask.task, omnitask.task_history;
SET SESSION AUTHORIZATION sec_pr1;
SELECT count(*) AS stats_rows FROM pg_stats WHERE schemaname = 'omnitask' AND tablename IN ('task', 'task_history');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- sec_pr1 tries to create for someone else, to reassign its own task, and
-- to write columns, history, registry and workflow directly.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_pr1;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p2"}}'))$$) AS create_for_p2;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-ghost"}}'))$$) AS create_for_unknown;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource) VALUES (pg_temp.t('{"owner": {"reference": "Practitioner/sec-p2"}}'))$$) AS insert_for_p2;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"owner": {"reference": "Practitioner/sec-p2"}}')$$) AS reassign_to_p2;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') - 'owner')$$) AS unassign_own;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"owner": {"reference": "Practitioner/sec-p3"}}')$$) AS reassign_to_inactive;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"owner": {"reference": "Practitioner/sec-ghost"}}')$$) AS reassign_to_unknown;
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = jsonb_set(resource, '{owner,reference}', '"Practitioner/sec-p2"') WHERE id = 'sec-a1'$$) AS plain_reassign;
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource - 'owner' WHERE id = 'sec-a1'$$) AS plain_unassign;
-- derived columns and server-owned elements
SELECT pg_temp.try($$UPDATE omnitask.task SET owner_id = 'sec-p2' WHERE id = 'sec-a1'$$) AS set_owner_id;
SELECT pg_temp.try($$UPDATE omnitask.task SET owner_id = 'sec-p1' WHERE id = 'sec-a2'$$) AS steal_owner_id;
SELECT pg_temp.try($$UPDATE omnitask.task SET id = 'sec-a9' WHERE id = 'sec-a1'$$) AS set_id;
SELECT pg_temp.try($$UPDATE omnitask.task SET status = 'completed', version_id = 1 WHERE id = 'sec-a1'$$) AS set_status_column;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource, owner_id) VALUES (pg_temp.t(), 'sec-p2')$$) AS insert_owner_id;
SELECT pg_temp.try($$INSERT INTO omnitask.task (id, resource) VALUES ('sec-a2', pg_temp.t())$$) AS insert_id;
SELECT pg_temp.try($$UPDATE omnitask.tasks SET owner_id = 'sec-p2' WHERE id = 'sec-a1'$$) AS update_view;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"id": "sec-a2"}')$$) AS update_with_other_id;
-- history
SELECT pg_temp.try($$INSERT INTO omnitask.task_history (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by)
	VALUES ('sec-a1', 99, 'update', 'completed', 'sec-p1', pg_temp.t(), now(), 'sec_pr1')$$) AS insert_history;
SELECT pg_temp.try($$UPDATE omnitask.task_history SET status = 'completed' WHERE id = 'sec-a1'$$) AS update_history;
SELECT pg_temp.try($$DELETE FROM omnitask.task_history WHERE id = 'sec-a1'$$) AS delete_history;
SELECT pg_temp.try($$SELECT 1 FROM omnitask.task_history WHERE id = 'sec-a1' FOR UPDATE$$) AS lock_history;
-- deleting
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE id = 'sec-a1'$$) AS delete_own;
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE id = 'sec-a2'$$) AS delete_other;
SELECT pg_temp.try($$TRUNCATE omnitask.task$$) AS truncate_task;
SELECT pg_temp.try($$TRUNCATE omnitask.task_history$$) AS truncate_history;
-- entered-in-error is the admin's
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a1', 'entered-in-error', 'sec: retract')$$) AS retract_own;
-- admin-only functions and tables
SELECT pg_temp.try($$SELECT omnitask.import_task(pg_temp.t('{"id": "sec-x1", "owner": {"reference": "Practitioner/sec-p2"}}'))$$) AS import;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_pr1', 'sec-p1-bis')$$) AS register_self;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_pr2', 'sec-p1')$$) AS register_other;
SELECT pg_temp.try($$SELECT omnitask.set_workflow(omnitask.default_workflow())$$) AS set_workflow;
SELECT pg_temp.try($$INSERT INTO omnitask.practitioner (id, role_name) VALUES ('sec-p9', 'sec_unreg')$$) AS insert_registry;
SELECT pg_temp.try($$UPDATE omnitask.practitioner SET role_name = 'sec_pr1' WHERE id = 'sec-p2'$$) AS update_registry;
SELECT pg_temp.try($$UPDATE omnitask.practitioner SET active = true WHERE id = 'sec-p3'$$) AS reactivate;
SELECT pg_temp.try($$DELETE FROM omnitask.practitioner WHERE id = 'sec-p2'$$) AS delete_registry;
SELECT pg_temp.try($$INSERT INTO omnitask.workflow_definition (definition) VALUES (omnitask.default_workflow())$$) AS insert_workflow;
SELECT pg_temp.try($$UPDATE omnitask.workflow_definition SET definition = definition$$) AS update_workflow;
SELECT pg_temp.try($$DELETE FROM omnitask.workflow_definition$$) AS delete_workflow;
-- the table owner's powers
SELECT pg_temp.try($$ALTER TABLE omnitask.task DISABLE ROW LEVEL SECURITY$$) AS disable_rls;
SELECT pg_temp.try($$ALTER TABLE omnitask.task NO FORCE ROW LEVEL SECURITY$$) AS no_force_rls;
SELECT pg_temp.try($$CREATE POLICY sec_all ON omnitask.task FOR SELECT USING (true)$$) AS create_policy;
SELECT pg_temp.try($$DROP POLICY task_practitioner_select ON omnitask.task$$) AS drop_policy;
SELECT pg_temp.try($$ALTER TABLE omnitask.task_history DISABLE TRIGGER task_history_append_only$$) AS disable_trigger;
SELECT pg_temp.try($$CREATE TABLE omnitask.sec_evil (x int)$$) AS create_in_schema;
-- (the message is PostgreSQL's own and its wording changed in 16)
SELECT pg_temp.try($$COPY omnitask.task (resource) FROM PROGRAM 'true'$$) ~ '^42501: .*COPY to or from an external program' AS copy_from_refused;
SELECT pg_temp.try($$LOCK TABLE omnitask.task IN ACCESS EXCLUSIVE MODE$$) AS lock_table;
SELECT pg_temp.try($$LOCK TABLE omnitask.task_history IN EXCLUSIVE MODE$$) AS lock_history_table;
-- the consistency check reads every row: admins' and auditors' only
SELECT pg_temp.try($$SELECT * FROM omnitask.verify()$$) AS verify;
SET row_security = off;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.task$$) AS row_security_off;
RESET row_security;
-- COPY out goes through row security too
COPY omnitask.task (owner_id) TO STDOUT;
COPY (SELECT owner_id FROM omnitask.task_history WHERE owner_id IS DISTINCT FROM 'sec-p1') TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- sec_pr1 tries to become someone else: JWT claims (not the authenticator),
-- SET ROLE to another practitioner or to a group role, the settings that
-- decide who may assert an identity.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_pr1;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p2", "role": "omnitask_practitioner"}', false) IS NOT NULL AS claims_set;
SELECT omnitask.current_practitioner_id() AS with_claims,
	   (SELECT count(*) FROM omnitask.task WHERE owner_id = 'sec-p2') AS p2_rows;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a2')$$) AS read_other_with_claims;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a2', 'in-progress')$$) AS status_other_with_claims;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p2"}}'))$$) AS create_for_p2_with_claims;
SELECT set_config('request.jwt.claims', '', false) = '' AS claims_cleared;
SELECT pg_temp.try('SET ROLE sec_pr2') AS set_role_p2;
SELECT pg_temp.try('SET ROLE omnitask_admin') AS set_role_admin;
SELECT pg_temp.try('SET ROLE omnitask_auditor') AS set_role_auditor;
SET ROLE omnitask_practitioner;
SELECT session_user, current_user, omnitask.current_practitioner_id(),
	   (SELECT count(*) FROM omnitask.task WHERE owner_id IS DISTINCT FROM 'sec-p1') AS others_rows;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a2')$$) AS read_other_as_group;
RESET ROLE;
SELECT pg_temp.try($$SET omnitask.jwt_authenticator = 'sec_pr1'$$) AS set_authenticator;
SELECT pg_temp.try($$SELECT set_config('omnitask.jwt_authenticator', 'sec_pr1', false)$$) AS set_config_authenticator;
SELECT pg_temp.try($$SET omnitask.jwt_practitioner_claim = 'role'$$) AS set_claim_name;
SELECT pg_temp.try($$SET omnitask.notify = off$$) AS set_notify;
SELECT pg_temp.try($$ALTER ROLE sec_pr1 SET omnitask.jwt_authenticator = 'sec_pr1'$$) AS alter_role_set;
SELECT split_part(pg_temp.try(format('ALTER DATABASE %I SET omnitask.jwt_authenticator = %L', current_database(), 'sec_pr1')), ':', 1) AS alter_database_set;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- The auditor reads everything and writes nothing.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_aud;
SELECT omnitask.current_practitioner_id() AS auditor_id,
	   count(*) AS sec_tasks, count(DISTINCT owner_id) AS owners
FROM omnitask.task WHERE patient_id = 'sec-pat';
SELECT omnitask.read_task('sec-a2') ->> 'description' AS read_other,
	   omnitask.task_history('sec-a2') ->> 'total' AS history_total,
	   omnitask.search_tasks(owner => 'sec-p2', patient => 'sec-pat') ->> 'total' AS search_p2;
SELECT (SELECT count(*) FROM omnitask.tasks WHERE patient_id = 'sec-pat') AS tasks_view,
	   (SELECT count(*) FROM omnitask.overdue_tasks WHERE id IN ('sec-a2', 'sec-a5')) AS overdue_view,
	   (SELECT count(*) FROM omnitask.status_changes WHERE id = 'sec-a2') AS status_changes_a2,
	   (SELECT count(*) FROM omnitask.workload WHERE owner_id LIKE 'sec-%') AS workload_owners,
	   (SELECT sum(n) FROM omnitask.task_counts) = (SELECT count(*) FROM omnitask.task) AS counts_cover_all,
	   (SELECT count(*) FROM omnitask.turnaround WHERE category = 'sec-secret') AS turnaround_secret;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t())$$) AS create;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p1"}}'))$$) AS create_for_p1;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a2', pg_temp.t())$$) AS update;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a2', 'in-progress')$$) AS set_status;
SELECT pg_temp.try($$SELECT omnitask.import_task(pg_temp.t('{"id": "sec-x2"}'))$$) AS import;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_aud', 'sec-aud')$$) AS register;
SELECT pg_temp.try($$SELECT omnitask.set_workflow(omnitask.default_workflow())$$) AS set_workflow;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource) VALUES (pg_temp.t())$$) AS insert;
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource WHERE id = 'sec-a2'$$) AS plain_update;
SELECT pg_temp.try($$SELECT 1 FROM omnitask.task WHERE id = 'sec-a2' FOR UPDATE$$) AS lock;
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE id = 'sec-a2'$$) AS delete;
SELECT pg_temp.try($$INSERT INTO omnitask.task_history SELECT * FROM omnitask.task_history WHERE id = 'sec-a2' LIMIT 1$$) AS insert_history;
SELECT pg_temp.try($$UPDATE omnitask.task_history SET status = 'completed' WHERE id = 'sec-a2'$$) AS update_history;
SELECT pg_temp.try($$UPDATE omnitask.practitioner SET active = true WHERE id = 'sec-p3'$$) AS update_registry;
SELECT pg_temp.try($$INSERT INTO omnitask.workflow_definition (definition) VALUES (omnitask.default_workflow())$$) AS insert_workflow;
SELECT pg_temp.try('SET ROLE omnitask_practitioner') AS set_role_practitioner;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- sec_nobody (no omnitask role) can do nothing at all.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_nobody;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a2')$$) AS read_task;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t())$$) AS create_task;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a2', pg_temp.t())$$) AS update_task;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a2', 'in-progress')$$) AS set_task_status;
SELECT pg_temp.try($$SELECT omnitask.task_history('sec-a2')$$) AS task_history;
SELECT pg_temp.try($$SELECT omnitask.search_tasks()$$) AS search_tasks;
SELECT pg_temp.try($$SELECT omnitask.import_task(pg_temp.t('{"id": "sec-x3"}'))$$) AS import_task;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_nobody', 'sec-nobody')$$) AS register;
SELECT pg_temp.try($$SELECT omnitask.current_practitioner_id()$$) AS current_practitioner_id;
SELECT pg_temp.try($$SELECT omnitask.validate_task(pg_temp.t())$$) AS validate_task;
SELECT pg_temp.try($$SELECT omnitask.workflow()$$) AS workflow;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.task$$) AS select_task;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.task_history$$) AS select_history;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.tasks$$) AS select_tasks_view;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.practitioner$$) AS select_registry;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource) VALUES (pg_temp.t())$$) AS insert;
SELECT pg_temp.try($$SET ROLE omnitask_practitioner$$) AS set_role;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- An inactive practitioner (sec-p3, deactivated by the admin) and a
-- practitioner role that was never registered have no identity: they see
-- nothing, not even the tasks once theirs, and cannot write.
--
SET SESSION AUTHORIZATION sec_pr3;
SELECT omnitask.current_practitioner_id() AS active_p3, count(*) AS visible FROM omnitask.task WHERE patient_id = 'sec-pat';
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$UPDATE omnitask.practitioner SET active = false WHERE id = 'sec-p3'$$) AS deactivate_p3;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_pr3;
SELECT omnitask.current_practitioner_id() AS inactive_p3, count(*) AS visible FROM omnitask.task WHERE patient_id = 'sec-pat';
SELECT count(*) AS history_visible FROM omnitask.task_history WHERE id IN ('sec-a3', 'sec-a4');
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a3')$$) AS read_once_own;
SELECT pg_temp.try($$SELECT omnitask.task_history('sec-a3')$$) AS history_once_own;
SELECT pg_temp.try($$SELECT omnitask.set_task_status('sec-a3', 'accepted')$$) AS status_once_own;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t())$$) AS create;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p3"}}'))$$) AS create_for_self;
SELECT pg_temp.try($$INSERT INTO omnitask.task (resource) VALUES (pg_temp.t())$$) AS insert;
SET SESSION AUTHORIZATION sec_unreg;
SELECT omnitask.current_practitioner_id() AS unregistered, count(*) AS visible FROM omnitask.task;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t())$$) AS create;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a1')$$) AS read;
-- not even with claims, nor as the practitioner group role
SELECT set_config('request.jwt.claims', '{"sub": "sec-p1"}', false) IS NOT NULL AS claims_set;
SELECT omnitask.current_practitioner_id() AS with_claims, count(*) AS visible FROM omnitask.task;
SET ROLE omnitask_practitioner;
SELECT omnitask.current_practitioner_id() AS as_group, count(*) AS visible FROM omnitask.task;
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false) = '' AS claims_cleared;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;

--
-- The admin and owners: inactive or unknown practitioners take no new
-- task; unassigned is fine; an inactive practitioner's task can be
-- reassigned to an active one, or cancelled while still theirs.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-p3"}}'))$$) AS create_for_inactive;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec-ghost"}}'))$$) AS create_for_unknown;
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t('{"owner": {"reference": "Practitioner/sec_pr1"}}'))$$) AS create_for_role_name;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"owner": {"reference": "Practitioner/sec-p3"}}')$$) AS reassign_to_inactive;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || '{"owner": {"reference": "Practitioner/sec-ghost"}}')$$) AS reassign_to_unknown;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a0', omnitask.read_task('sec-a0') || '{"owner": {"reference": "Practitioner/sec-ghost"}}')$$) AS assign_to_unknown;
SELECT pg_temp.try($$SELECT omnitask.update_task('sec-a0', omnitask.read_task('sec-a0') || '{"owner": {"reference": "Practitioner/sec-p3"}}')$$) AS assign_to_inactive;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;
SET SESSION AUTHORIZATION sec_admin;
SELECT r ->> 'owner' AS owner, r ->> 'status' AS status
FROM (SELECT omnitask.create_task(pg_temp.t('{"description": "sec: unassigned"}')) AS r) s;
SELECT omnitask.update_task('sec-a3', omnitask.read_task('sec-a3') || '{"owner": {"reference": "Practitioner/sec-p1"}}') -> 'owner' ->> 'reference' AS a3_reassigned;
SELECT r ->> 'status' AS a4_status, r -> 'owner' ->> 'reference' AS a4_owner
FROM (SELECT omnitask.set_task_status('sec-a4', 'cancelled', 'sec: practitioner left') AS r) s;
-- the admin cannot delete nor write history or derived columns either
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE id = 'sec-a4'$$) AS admin_delete;
SELECT pg_temp.try($$UPDATE omnitask.task SET owner_id = 'sec-p2' WHERE id = 'sec-a4'$$) AS admin_set_owner_id;
SELECT pg_temp.try($$INSERT INTO omnitask.task_history SELECT * FROM omnitask.task_history WHERE id = 'sec-a4' LIMIT 1$$) AS admin_insert_history;
SELECT pg_temp.try($$UPDATE omnitask.task_history SET status = 'completed' WHERE id = 'sec-a4'$$) AS admin_update_history;
SELECT pg_temp.try($$DELETE FROM omnitask.practitioner WHERE id = 'sec-p3'$$) AS admin_delete_registry;
-- registering a group role as a practitioner would give its identity to
-- every member that does SET ROLE (and to every PostgREST request): refused
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('omnitask_practitioner', 'sec-group')$$) <> 'ok, 1 row(s)' AS group_role_refused;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_team', 'sec-team')$$) <> 'ok, 1 row(s)' AS role_with_members_refused;
-- and a registry row naming a group role, written around the function,
-- gives no identity to those who SET ROLE to it
SELECT pg_temp.try($$INSERT INTO omnitask.practitioner (id, role_name) VALUES ('sec-group', 'omnitask_practitioner')$$) AS group_row_inserted;
SET SESSION AUTHORIZATION sec_unreg;
SET ROLE omnitask_practitioner;
SELECT current_user, omnitask.current_practitioner_id() IS NULL AS no_identity, count(*) AS visible FROM omnitask.task;
RESET ROLE;
SET SESSION AUTHORIZATION sec_pr1;
SET ROLE omnitask_practitioner;
SELECT current_user, omnitask.current_practitioner_id();
RESET ROLE;
RESET SESSION AUTHORIZATION;
DELETE FROM omnitask.practitioner WHERE id IN ('sec-group', 'sec-team');
SET SESSION AUTHORIZATION sec_pr1;
SELECT count(*) FILTER (WHERE id = 'sec-a3') AS a3_now_visible, count(*) FILTER (WHERE id = 'sec-a4') AS a4_visible
FROM omnitask.task;
-- of sec-a3's history, sec-p1 sees the versions written while it was theirs
SELECT omnitask.task_history('sec-a3') -> 'total' AS a3_history_total,
	   (SELECT array_agg(version_id ORDER BY version_id) FROM omnitask.task_history WHERE id = 'sec-a3') AS a3_versions;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state();
SELECT id, version_id, operation, status, owner_id FROM omnitask.task_history WHERE id IN ('sec-a3', 'sec-a4') ORDER BY id, version_id;

--
-- Even the superuser cannot delete tasks or change history, and a derived
-- column written directly is recomputed from the resource.
--
SELECT pg_temp.sec_hash() AS before_hash \gset
SELECT pg_temp.try($$DELETE FROM omnitask.task WHERE id = 'sec-a4'$$) AS superuser_delete;
SELECT pg_temp.try($$TRUNCATE omnitask.task$$) AS superuser_truncate;
SELECT pg_temp.try($$UPDATE omnitask.task_history SET status = 'completed' WHERE id = 'sec-a4'$$) AS superuser_update_history;
SELECT pg_temp.try($$DELETE FROM omnitask.task_history WHERE id = 'sec-a4'$$) AS superuser_delete_history;
SELECT pg_temp.try($$TRUNCATE omnitask.task_history$$) AS superuser_truncate_history;
SELECT pg_temp.sec_state(), pg_temp.sec_hash() = :'before_hash' AS nothing_changed;
BEGIN;
UPDATE omnitask.task SET owner_id = 'sec-p2', status = 'completed', description = 'forged' WHERE id = 'sec-a1';
SELECT owner_id, status, description FROM omnitask.task WHERE id = 'sec-a1';
ROLLBACK;

--
-- Hostile strings through every text parameter are data: not found,
-- invalid, refused -- never executed -- and messages are cut.
--
CREATE TEMP TABLE hostile (label text, s text);
INSERT INTO hostile VALUES
	('quote', $$sec-a1'$$),
	('sql', $$'; DROP TABLE omnitask.task; --$$),
	('sql2', $$sec-a2' OR '1'='1$$),
	('format', '%s%s%n%x %1$s'),
	('backslash', E'C:\\\\temp\\''\\x41'),
	('unicode', E'sec-\u00e9\u4e2d\U0001F600\u202E'),
	('long', repeat('A', 10240));
GRANT SELECT ON hostile TO PUBLIC;
-- registers sec-p2 with display s; whether it reads back verbatim
CREATE FUNCTION pg_temp.display_roundtrip(s text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM omnitask.register_practitioner('sec_pr2', 'sec-p2', s);
	RETURN (SELECT display FROM omnitask.practitioner WHERE id = 'sec-p2') = s;
END $$;
SELECT pg_temp.sec_hash() AS before_hash \gset
SET SESSION AUTHORIZATION sec_pr1;
-- no header: its width depends on psql's width of U+202E, which newer psql counts as 0
\t on
SELECT label, f, length(r) AS len, left(r, 110) AS result
FROM hostile,
	 LATERAL (VALUES
		('read_task', pg_temp.try(format('SELECT omnitask.read_task(%L)', s))),
		('update_task', pg_temp.try(format('SELECT omnitask.update_task(%L, pg_temp.t())', s))),
		('set_task_status', pg_temp.try(format('SELECT omnitask.set_task_status(%L, %L)', s, 'accepted'))),
		('task_history', pg_temp.try(format('SELECT omnitask.task_history(%L)', s))),
		('status', pg_temp.try(format('SELECT omnitask.set_task_status(%L, %L)', 'sec-a1', s))),
		('search owner', pg_temp.try(format('SELECT omnitask.search_tasks(owner => %L)', s))),
		('search status', pg_temp.try(format('SELECT omnitask.search_tasks(status => %L)', s))),
		('search _sort', pg_temp.try(format('SELECT omnitask.search_tasks(_sort => %L)', s)))) v(f, r)
ORDER BY label, f;
\t off
-- as a reason or a description they are stored verbatim
SELECT label, r -> 'statusReason' ->> 'text' = s AS reason_verbatim, r ->> 'status' AS status
FROM hostile, LATERAL (SELECT omnitask.set_task_status('sec-a1', 'requested', s) AS r) x
ORDER BY label;
SELECT label, u -> 'description' = to_jsonb(s) AS description_verbatim,
	   omnitask.search_tasks(patient => 'sec-pat') ->> 'total' AS still_visible
FROM hostile, LATERAL (SELECT omnitask.update_task('sec-a1', omnitask.read_task('sec-a1') || jsonb_build_object('description', s)) AS u) x
ORDER BY label;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state();
SET SESSION AUTHORIZATION sec_admin;
SELECT label, length(r) AS len, left(r, 110) AS role_name
FROM hostile, LATERAL pg_temp.try(format('SELECT omnitask.register_practitioner(%L, %L)', s, 'sec-h1')) r
ORDER BY label;
SELECT label, left(pg_temp.try(format('SELECT omnitask.register_practitioner(%L, %L)', 'sec_pr2', s)), 110) AS id
FROM hostile ORDER BY label;
SELECT label, pg_temp.display_roundtrip(s) AS display_verbatim FROM hostile ORDER BY label;
SELECT omnitask.register_practitioner('sec_pr2', 'sec-p2', 'Dr. Sec Two');
RESET SESSION AUTHORIZATION;
SELECT to_regclass('omnitask.task') IS NOT NULL AS task_table_still_there, pg_temp.sec_state();

--
-- PostgREST's authenticator (sec_authn, NOINHERIT, member of the three
-- group roles, named by omnitask.jwt_authenticator): per request it sets a
-- role and the claims.  Nobody else gains anything from claims.
--
-- a PostgREST request with the given claims, as omnitask_practitioner: the
-- identity, the rows visible, and whether a create would be refused (rolled
-- back either way)
CREATE FUNCTION pg_temp.claims_probe(claims text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE id text; visible bigint; attempt text;
BEGIN
	PERFORM set_config('request.jwt.claims', claims, false);
	SET ROLE omnitask_practitioner;
	id := omnitask.current_practitioner_id();
	SELECT count(*) INTO visible FROM omnitask.task;
	BEGIN
		attempt := pg_temp.try($q$SELECT omnitask.create_task(pg_temp.t())$q$);
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN NULL;
	END;
	RESET ROLE;
	PERFORM set_config('request.jwt.claims', '', false);
	RETURN format('id=%s visible=%s create=%s', coalesce(id, 'none'), visible, left(attempt, 40));
END $$;
SET omnitask.jwt_authenticator = 'sec_authn';
SET SESSION AUTHORIZATION sec_authn;
SELECT pg_temp.try($$SELECT count(*) FROM omnitask.task$$) AS as_itself;
BEGIN;
SET LOCAL ROLE omnitask_practitioner;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p1", "role": "omnitask_practitioner"}', true) IS NOT NULL AS claims_set;
SELECT omnitask.current_practitioner_id(), count(*) FILTER (WHERE owner_id = 'sec-p1') AS own,
	   count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p1') AS others
FROM omnitask.task;
SELECT r -> 'owner' ->> 'reference' AS owner, r -> 'requester' ->> 'reference' AS requester
FROM (SELECT omnitask.create_task(pg_temp.t('{"description": "sec: via PostgREST"}')) AS r) s;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a2')$$) AS read_other;
COMMIT;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p2"}', false) IS NOT NULL AS claims_set;
SET ROLE omnitask_practitioner;
SELECT omnitask.current_practitioner_id() AS next_request, count(*) FILTER (WHERE id = 'sec-a2') AS sees_a2 FROM omnitask.task;
-- and in parallel workers, which get the claims from the leader
BEGIN;
SET LOCAL parallel_leader_participation = off;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
DO $$ BEGIN PERFORM set_config('force_parallel_mode', 'on', true);
EXCEPTION WHEN undefined_object THEN PERFORM set_config('debug_parallel_query', 'on', true); END $$;
SELECT count(*) AS parallel_visible, count(*) FILTER (WHERE owner_id IS DISTINCT FROM 'sec-p2') AS parallel_others FROM omnitask.task;
COMMIT;
RESET ROLE;
-- claims that name no active practitioner give no identity
SELECT claims, pg_temp.claims_probe(claims) AS probe
FROM (VALUES (1, '{"sub": "sec-p3"}'), (2, '{"sub": "sec-ghost"}'), (3, '{"sub": "sec_pr1"}'), (4, '{"sub": 1}'),
			 (5, '{"sub": ["sec-p1"]}'), (6, '{"sub": "sec-p1\u0000x"}'), (7, '{"sub": "sec-p1"} x'), (8, '{"sub": "SEC-P1"}'),
			 (9, '{"role": "omnitask_practitioner"}'), (10, 'not json'), (11, ''), (12, '{"sub": "sec-p1"}')) c(n, claims)
ORDER BY n;
-- the authenticator is shared by every PostgREST user: registering it as a
-- practitioner is refused, and a registry row naming it (written around
-- the function) must not give its identity to every request
RESET SESSION AUTHORIZATION;
DELETE FROM omnitask.practitioner WHERE id = 'sec-authn';
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_authn', 'sec-authn')$$) <> 'ok, 1 row(s)' AS authenticator_refused;
RESET SESSION AUTHORIZATION;
DELETE FROM omnitask.practitioner WHERE id = 'sec-authn';
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$INSERT INTO omnitask.practitioner (id, role_name) VALUES ('sec-authn', 'sec_authn')$$) AS authenticator_row_inserted;
SET SESSION AUTHORIZATION sec_authn;
SELECT claims, pg_temp.claims_probe(claims) AS probe
FROM (VALUES (1, '{"sub": "sec-ghost"}'), (2, ''), (3, '{"sub": "sec-p2"}')) c(n, claims)
ORDER BY n;
RESET SESSION AUTHORIZATION;
DELETE FROM omnitask.practitioner WHERE id = 'sec-authn';
SET SESSION AUTHORIZATION sec_authn;
-- the auditor through the authenticator: reads all, writes nothing
BEGIN;
SET LOCAL ROLE omnitask_auditor;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p1", "role": "omnitask_auditor"}', true) IS NOT NULL AS claims_set;
SELECT count(*) AS sec_tasks FROM omnitask.task WHERE patient_id = 'sec-pat';
SELECT pg_temp.try($$SELECT omnitask.create_task(pg_temp.t())$$) AS create;
SELECT pg_temp.try($$UPDATE omnitask.task SET resource = resource WHERE id = 'sec-a1'$$) AS plain_update;
COMMIT;
-- a direct session that is not the authenticator's gains nothing by claims
SET SESSION AUTHORIZATION sec_pr2;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p1", "role": "omnitask_practitioner"}', false) IS NOT NULL AS claims_set;
SELECT omnitask.current_practitioner_id(), count(*) FILTER (WHERE owner_id = 'sec-p1') AS p1_rows FROM omnitask.task;
SELECT pg_temp.try($$SELECT omnitask.read_task('sec-a1')$$) AS read_p1;
SELECT set_config('request.jwt.claims', '', false) = '' AS claims_cleared;
RESET SESSION AUTHORIZATION;
-- a practitioner's own login role whose only member is the authenticator
-- (PostgREST's per-practitioner roles, which Citus needs): registered, and
-- a request that switches to it acts as that practitioner, whatever its
-- claims say; with any other member it is a shared role: refused
CREATE ROLE sec_pr_rest LOGIN IN ROLE omnitask_practitioner;
GRANT sec_pr_rest TO sec_authn;
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_pr_rest', 'sec-rest')$$) AS only_the_authenticator;
SET SESSION AUTHORIZATION sec_authn;
BEGIN;
SET LOCAL ROLE sec_pr_rest;
SELECT set_config('request.jwt.claims', '{"sub": "sec-p1", "role": "sec_pr_rest"}', true) IS NOT NULL AS claims_set;
SELECT omnitask.current_practitioner_id(), count(*) FILTER (WHERE owner_id = 'sec-p1') AS p1_rows FROM omnitask.task;
COMMIT;
RESET SESSION AUTHORIZATION;
GRANT sec_pr_rest TO sec_unreg;
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_pr_rest', 'sec-rest')$$) AS another_member;
RESET SESSION AUTHORIZATION;
REVOKE sec_pr_rest FROM sec_unreg;
RESET omnitask.jwt_authenticator;
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$SELECT omnitask.register_practitioner('sec_pr_rest', 'sec-rest')$$) AS no_authenticator_set;
RESET SESSION AUTHORIZATION;
DELETE FROM omnitask.practitioner WHERE id = 'sec-rest';
DROP ROLE sec_pr_rest;
-- the Citus notification relay: superusers only, and only on Citus
SET SESSION AUTHORIZATION sec_admin;
SELECT pg_temp.try($$CALL omnitask.citus_notify_relay()$$) AS relay_as_admin;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.try($$CALL omnitask.citus_notify_relay()$$) AS relay_without_citus;

--
-- The identity is cached per transaction: a change of session user within
-- one transaction must not keep the previous one's identity.
--
BEGIN;
SET SESSION AUTHORIZATION sec_pr1;
SET ROLE omnitask_practitioner;
SELECT session_user, omnitask.current_practitioner_id();
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_pr2;
SET ROLE omnitask_practitioner;
SELECT session_user, omnitask.current_practitioner_id(),
	   count(*) FILTER (WHERE owner_id = 'sec-p1') AS p1_rows FROM omnitask.task;
ROLLBACK;

--
-- Parallel labels (issue 11): every function's label as the hardening
-- section of omnitask--0.2--0.3.sql sets it.  workflow() and
-- terminal_statuses() are SAFE, so the reporting views can use parallel
-- plans; whatever reads the row-secured tables is RESTRICTED.
--
SELECT p.oid::regprocedure AS function, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'omnitask'::regnamespace
ORDER BY p.proparallel, p.oid::regprocedure::text;

--
-- Leakproof functions and the operators (issue 17).  A leakproof function
-- may run before a row-security policy's condition (so a condition of it
-- may be an index condition and is estimated from the column's
-- statistics): it must not fail or reveal anything about its arguments.
-- Only task_status_eq and task_day are, with their reasons in their
-- COMMENTs: enum_eq compares two OIDs and returns; task_day divides an
-- integer.  Every operator of the schema, with its function.
--
SELECT p.oid::regprocedure AS leakproof_function, obj_description(p.oid, 'pg_proc') AS why
FROM pg_proc p
WHERE p.pronamespace = 'omnitask'::regnamespace AND p.proleakproof
ORDER BY p.oid::regprocedure::text;
SELECT o.oid::regoperator AS operator, o.oprcode AS function, p.proleakproof AS leakproof
FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
WHERE o.oprnamespace = 'omnitask'::regnamespace
ORDER BY o.oid::regoperator::text COLLATE "C";

--
-- Planner statistics (issue 11): no statistics on the PHI columns, so
-- EXPLAIN estimates a hidden value like an absent one.
--
SELECT c.relname, a.attname, a.attstattarget
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'omnitask'::regnamespace AND c.relname IN ('task', 'task_history')
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget = 0
ORDER BY 1, 2;
ANALYZE omnitask.task;
SELECT count(*) AS phi_statistics
FROM pg_stats
WHERE schemaname = 'omnitask' AND tablename = 'task'
  AND attname IN ('description', 'patient_id', 'requester', 'code', 'resource', 'search_tokens', 'business_status');

--
-- clean up (the tasks and history stay: nobody deletes them)
--
RESET SESSION AUTHORIZATION;
SELECT pg_temp.sec_state();
DROP TABLE hostile, p1_created, p1_peeked;
DROP FUNCTION pg_temp.peek(text);
DELETE FROM omnitask.practitioner WHERE id LIKE 'sec-%';
DROP ROLE sec_admin, sec_pr1, sec_pr2, sec_pr3, sec_unreg, sec_aud, sec_nobody, sec_authn, sec_team;
