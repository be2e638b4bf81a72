/*
 * omnitask 0.2 -> 0.3: hardening, validation conformance, PostgreSQL 15-18,
 * FHIR over HTTP and read audit.  CREATE EXTENSION runs 0.1, then 0.1--0.2,
 * then this script; ALTER EXTENSION omnitask UPDATE runs the same steps.
 * One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.3'" to load this file. \quit


/* ======================================================================
 * Hardening: side channels around row-level security, parallel labels
 * ====================================================================== */

/*
 * 1. Planner statistics.  EXPLAIN's row estimates come from table-wide
 * statistics, hidden rows included: with them a practitioner could read
 * common values of other practitioners' PHI back through EXPLAIN (or
 * PostgREST's Prefer: count=planned).  The PHI-bearing columns therefore
 * keep no statistics: the planner uses its defaults for them (equality
 * 0.5%, ranges 1/3), the same for every value, present or not.  The
 * worklist and search plans do not depend on them (they are driven by
 * owner_id, status, priority and due_at, which keep theirs); the benchmark
 * shows it (README, Performance).  ANALYZE skips a column with statistics
 * target 0 but keeps what it stored before, so those rows are deleted too.
 * A future text column of task or task_history must get the same setting.
 */
ALTER TABLE omnitask.task ALTER COLUMN description SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN patient_id SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN requester SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN code SET STATISTICS 0;
ALTER TABLE omnitask.task ALTER COLUMN resource SET STATISTICS 0;
ALTER TABLE omnitask.task_history ALTER COLUMN resource SET STATISTICS 0;
DELETE FROM pg_catalog.pg_statistic s
 USING pg_catalog.pg_attribute a
 WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum
   AND ((a.attrelid = 'omnitask.task'::pg_catalog.regclass
		 AND a.attname IN ('description', 'patient_id', 'requester', 'code', 'resource'))
	 OR (a.attrelid = 'omnitask.task_history'::pg_catalog.regclass AND a.attname = 'resource'));

/*
 * 2. Parallel labels: every function states what it is, with the reason.
 *
 * SAFE: pure computation, or reads with the query's snapshot only.
 *   validate_task, task_row_problem: compute on their argument.
 *   default_workflow: a constant.
 *   workflow, terminal_statuses: read omnitask.workflow_definition; in
 *     parallel mode with the query's snapshot (src/workflow.c), so they
 *     may run in workers -- which lets the reporting views (tasks,
 *     workload, overdue_tasks) use parallel plans.
 *   not_found: only raises PT404.
 * RESTRICTED: must run in the leader.
 *   current_practitioner_id: the caller's identity is one answer for the
 *     whole query, worked out once in the leader (in parallel mode from the
 *     query's snapshot, src/identity.c: it never takes a new snapshot there).
 *   read_task, task_history, search_tasks, verify: read the row-secured
 *     tables, whose practitioner policies call current_practitioner_id;
 *     search_tasks also keeps per-backend plans.
 * UNSAFE: write, or change per-backend state.
 *   create_task, update_task, set_task_status, import_task,
 *   register_practitioner, set_workflow, and the trigger functions.
 */
ALTER FUNCTION omnitask.validate_task(jsonb) PARALLEL SAFE;
ALTER FUNCTION omnitask.task_row_problem(omnitask.task) PARALLEL SAFE;
ALTER FUNCTION omnitask.default_workflow() PARALLEL SAFE;
ALTER FUNCTION omnitask.workflow() PARALLEL SAFE;
ALTER FUNCTION omnitask.terminal_statuses() PARALLEL SAFE;
ALTER FUNCTION omnitask.not_found(text) PARALLEL SAFE;
ALTER FUNCTION omnitask.current_practitioner_id() PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.read_task(text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.task_history(text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.verify() PARALLEL RESTRICTED;
ALTER FUNCTION omnitask.create_task(jsonb) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.update_task(text, jsonb, integer) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.set_task_status(text, text, text, integer) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.import_task(jsonb) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.register_practitioner(name, text, text) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.set_workflow(json) PARALLEL UNSAFE;
ALTER FUNCTION omnitask.task_before_trigger() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.task_after_trigger() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.forbid_delete() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.forbid_history_update() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.invalidate_caches() PARALLEL UNSAFE;
ALTER FUNCTION omnitask.workflow_check() PARALLEL UNSAFE;

COMMENT ON FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) IS 'FHIR search on Task: a searchset Bundle of the tasks the caller may see, with exact total and self/next links. owner Practitioner/{id} or {id}; patient Patient/{id} or {id}; status and priority comma lists (OR; a code listed twice counts once; at most 1024 bytes); _count 1-1000; _offset >= 0; _sort a comma list of priority, due, authored-on, modified, status (- for descending; each key at most once), default -priority,due,authored-on. A bad parameter raises 22023 naming it.';

-- (end of hardening)


/* ======================================================================
 * Validation conformance
 * ====================================================================== */

-- (end of validation conformance)


/* ======================================================================
 * PostgreSQL 15-18
 * ====================================================================== */

-- (end of PostgreSQL 15-18)


/* ======================================================================
 * FHIR over HTTP
 * ====================================================================== */

-- (end of FHIR over HTTP)


/* ======================================================================
 * Read audit
 * ====================================================================== */

-- (end of read audit)
