/* omnitask 0.1: FHIR R4 Task as a system of record in PostgreSQL. */

\echo Use "CREATE EXTENSION omnitask" to load this file. \quit

/*
 * Roles.  Group roles, created if missing (roles are cluster-wide, so they
 * outlive the extension and are shared by every database that has it).
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

COMMENT ON SCHEMA omnitask IS 'omnitask: FHIR R4 Task resources for care coordination, validated, versioned and access-controlled by the database.';
GRANT USAGE ON SCHEMA omnitask TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

/*
 * Enum types.  Their labels are the codes of the R4 required value sets;
 * the C code checks at first use that they agree with the tables generated
 * from the spec.
 */
CREATE TYPE omnitask.task_status AS ENUM (
	'draft', 'requested', 'received', 'accepted', 'rejected', 'ready',
	'cancelled', 'in-progress', 'on-hold', 'failed', 'completed',
	'entered-in-error');
COMMENT ON TYPE omnitask.task_status IS 'FHIR R4 Task.status (http://hl7.org/fhir/ValueSet/task-status).';

CREATE TYPE omnitask.task_intent AS ENUM (
	'unknown', 'proposal', 'plan', 'order', 'original-order', 'reflex-order',
	'filler-order', 'instance-order', 'option');
COMMENT ON TYPE omnitask.task_intent IS 'FHIR R4 Task.intent (http://hl7.org/fhir/ValueSet/task-intent).';

CREATE TYPE omnitask.task_priority AS ENUM ('routine', 'urgent', 'asap', 'stat');
COMMENT ON TYPE omnitask.task_priority IS 'FHIR R4 Task.priority (http://hl7.org/fhir/ValueSet/request-priority), ordered routine < urgent < asap < stat.';

/*
 * Storage.
 */
CREATE TABLE omnitask.task (
	id				text PRIMARY KEY,
	version_id		integer NOT NULL,
	last_updated	timestamptz NOT NULL,
	status			omnitask.task_status NOT NULL,
	intent			omnitask.task_intent NOT NULL,
	priority		omnitask.task_priority NOT NULL,
	owner_id		text,
	patient_id		text NOT NULL,
	requester		text,
	code			text,
	description		text NOT NULL,
	authored_on		timestamptz NOT NULL,
	last_modified	timestamptz NOT NULL,
	due_at			timestamptz,
	resource		jsonb NOT NULL
);
COMMENT ON TABLE omnitask.task IS 'The current version of every task. resource is the FHIR Task and the source of truth; every other column is derived from it by the trigger on each write.';
COMMENT ON COLUMN omnitask.task.id IS 'Task.id (server-assigned UUID, or kept by import_task).';
COMMENT ON COLUMN omnitask.task.version_id IS 'Task.meta.versionId: 1, 2, ... one per stored version.';
COMMENT ON COLUMN omnitask.task.last_updated IS 'Task.meta.lastUpdated: when this version was stored.';
COMMENT ON COLUMN omnitask.task.status IS 'Task.status.';
COMMENT ON COLUMN omnitask.task.intent IS 'Task.intent.';
COMMENT ON COLUMN omnitask.task.priority IS 'Task.priority (routine when the Task has none).';
COMMENT ON COLUMN omnitask.task.owner_id IS 'The Practitioner id of Task.owner ("Practitioner/{id}"), NULL when unassigned.';
COMMENT ON COLUMN omnitask.task.patient_id IS 'The Patient id of Task.for ("Patient/{id}").';
COMMENT ON COLUMN omnitask.task.requester IS 'Task.requester.reference as written, e.g. Practitioner/{id}.';
COMMENT ON COLUMN omnitask.task.code IS 'Task.code.coding[0].code: the kind of work (care-coordination, lab-follow-up, ...).';
COMMENT ON COLUMN omnitask.task.description IS 'Task.description.';
COMMENT ON COLUMN omnitask.task.authored_on IS 'Task.authoredOn (a date without time is read as its start in UTC).';
COMMENT ON COLUMN omnitask.task.last_modified IS 'Task.lastModified: set on every write.';
COMMENT ON COLUMN omnitask.task.due_at IS 'When the task is due: Task.restriction.period.end, else Task.executionPeriod.end (a date without time means the end of that day, UTC).';
COMMENT ON COLUMN omnitask.task.resource IS 'The FHIR R4 Task as stored (server-owned elements id, meta.versionId, meta.lastUpdated, lastModified written by omnitask).';

CREATE INDEX task_owner_status_idx ON omnitask.task (owner_id, status) INCLUDE (priority, due_at);
CREATE INDEX task_patient_idx ON omnitask.task (patient_id);
CREATE INDEX task_due_idx ON omnitask.task (due_at);

CREATE TABLE omnitask.task_history (
	id				text NOT NULL,
	version_id		integer NOT NULL,
	operation		text NOT NULL CHECK (operation IN ('create', 'update', 'import')),
	status			omnitask.task_status NOT NULL,
	owner_id		text,
	resource		jsonb NOT NULL,
	recorded_at		timestamptz NOT NULL,
	recorded_by		name NOT NULL,
	practitioner_id	text,
	PRIMARY KEY (id, version_id)
);
COMMENT ON TABLE omnitask.task_history IS 'Every version of every task ever stored, appended by the trigger with the owner''s rights. Append-only for everyone.';
COMMENT ON COLUMN omnitask.task_history.operation IS 'create, update or import.';
COMMENT ON COLUMN omnitask.task_history.status IS 'Task.status of this version (for status_changes).';
COMMENT ON COLUMN omnitask.task_history.owner_id IS 'The owner of the task in this version: a practitioner sees the versions written while the task was theirs.';
CREATE INDEX task_history_owner_idx ON omnitask.task_history (owner_id);
COMMENT ON COLUMN omnitask.task_history.recorded_at IS 'meta.lastUpdated of this version.';
COMMENT ON COLUMN omnitask.task_history.recorded_by IS 'The database role that wrote this version (current_user).';
COMMENT ON COLUMN omnitask.task_history.practitioner_id IS 'The practitioner id of the writer, when known.';

CREATE TABLE omnitask.practitioner (
	id				text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9.-]{1,64}$'),
	role_name		name NOT NULL UNIQUE,
	display			text,
	active			boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE omnitask.practitioner IS 'Registry of practitioners: the FHIR Practitioner id of each login role that acts as a practitioner.';
COMMENT ON COLUMN omnitask.practitioner.id IS 'The FHIR Practitioner id (Task.owner is Practitioner/{id}).';
COMMENT ON COLUMN omnitask.practitioner.role_name IS 'The login role of this practitioner.';
COMMENT ON COLUMN omnitask.practitioner.active IS 'false: no new tasks may be assigned to them; their tasks stay readable.';

CREATE TABLE omnitask.workflow_definition (
	singleton		boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	definition		json NOT NULL,
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_by		name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE omnitask.workflow_definition IS 'The workflow document set by omnitask.set_workflow() (at most one row; none means the default workflow). Kept by pg_dump.';

SELECT pg_catalog.pg_extension_config_dump('omnitask.workflow_definition', '');
SELECT pg_catalog.pg_extension_config_dump('omnitask.task', '');
SELECT pg_catalog.pg_extension_config_dump('omnitask.task_history', '');
SELECT pg_catalog.pg_extension_config_dump('omnitask.practitioner', '');

/*
 * Triggers.
 */
CREATE FUNCTION omnitask.task_before_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'omnitask_task_before';
COMMENT ON FUNCTION omnitask.task_before_trigger() IS 'BEFORE ROW trigger of omnitask.task: validates the Task (R4 and the omnitask profile), writes the server-owned elements, recomputes the derived columns.';

CREATE FUNCTION omnitask.task_after_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'omnitask_task_after';
COMMENT ON FUNCTION omnitask.task_after_trigger() IS 'AFTER ROW trigger of omnitask.task: appends the stored version to omnitask.task_history.';

CREATE FUNCTION omnitask.forbid_delete() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'insufficient_privilege',
		MESSAGE = pg_catalog.format('%s rows cannot be deleted', TG_TABLE_NAME),
		DETAIL = 'omnitask never deletes tasks or their history.',
		HINT = 'Retract a task by setting its status to entered-in-error.';
END
$$;
COMMENT ON FUNCTION omnitask.forbid_delete() IS 'Statement trigger that refuses DELETE and TRUNCATE on omnitask''s tables.';

CREATE TRIGGER task_before BEFORE INSERT OR UPDATE ON omnitask.task
	FOR EACH ROW EXECUTE FUNCTION omnitask.task_before_trigger();
CREATE TRIGGER task_after AFTER INSERT OR UPDATE ON omnitask.task
	FOR EACH ROW EXECUTE FUNCTION omnitask.task_after_trigger();
CREATE TRIGGER task_no_delete BEFORE DELETE OR TRUNCATE ON omnitask.task
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.forbid_delete();
CREATE TRIGGER task_history_no_delete BEFORE DELETE OR TRUNCATE ON omnitask.task_history
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.forbid_delete();

CREATE FUNCTION omnitask.forbid_history_update() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'insufficient_privilege',
		MESSAGE = 'task_history rows cannot be changed',
		DETAIL = 'The history of a task is append-only.';
END
$$;
COMMENT ON FUNCTION omnitask.forbid_history_update() IS 'Statement trigger that keeps omnitask.task_history append-only.';
CREATE TRIGGER task_history_append_only BEFORE UPDATE ON omnitask.task_history
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.forbid_history_update();

CREATE FUNCTION omnitask.invalidate_caches() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'omnitask_invalidate_caches';
COMMENT ON FUNCTION omnitask.invalidate_caches() IS 'Statement trigger: every backend drops its cached registry or workflow when a change to it commits.';
CREATE TRIGGER practitioner_changed AFTER TRUNCATE ON omnitask.practitioner
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.invalidate_caches();
CREATE TRIGGER workflow_changed AFTER TRUNCATE ON omnitask.workflow_definition
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.invalidate_caches();
-- row triggers, fired ALWAYS: a logical-replication subscriber's apply
-- worker fires them too, so its sessions see registry changes at once
CREATE TRIGGER practitioner_row_changed AFTER INSERT OR UPDATE OR DELETE ON omnitask.practitioner
	FOR EACH ROW EXECUTE FUNCTION omnitask.invalidate_caches();
CREATE TRIGGER workflow_row_changed AFTER INSERT OR UPDATE OR DELETE ON omnitask.workflow_definition
	FOR EACH ROW EXECUTE FUNCTION omnitask.invalidate_caches();
ALTER TABLE omnitask.practitioner ENABLE ALWAYS TRIGGER practitioner_row_changed;
ALTER TABLE omnitask.workflow_definition ENABLE ALWAYS TRIGGER workflow_row_changed;

CREATE FUNCTION omnitask.workflow_check() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'omnitask_workflow_check';
COMMENT ON FUNCTION omnitask.workflow_check() IS 'Row trigger: a workflow definition written by plain SQL is checked like one given to set_workflow().';
CREATE TRIGGER workflow_definition_check BEFORE INSERT OR UPDATE ON omnitask.workflow_definition
	FOR EACH ROW EXECUTE FUNCTION omnitask.workflow_check();

/*
 * Functions.
 */
CREATE FUNCTION omnitask.validate_task(resource jsonb) RETURNS jsonb
	LANGUAGE c STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_validate_task';
COMMENT ON FUNCTION omnitask.validate_task(jsonb) IS 'FHIR $validate against base R4 Task: returns an OperationOutcome listing every problem (capped at 100); never raises for bad content. No issue of severity error means valid.';

CREATE FUNCTION omnitask.create_task(resource jsonb) RETURNS jsonb
	LANGUAGE plpgsql STRICT AS
$$
DECLARE
	stored jsonb;
BEGIN
	-- PL/pgSQL keeps the INSERT's plan from call to call (an SQL function is planned each time)
	INSERT INTO omnitask.task AS t (resource) VALUES (create_task.resource) RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;
COMMENT ON FUNCTION omnitask.create_task(jsonb) IS 'Stores a new Task (FHIR create): the server assigns id, meta.versionId 1, meta.lastUpdated and lastModified; returns the Task as stored. Raises 23514 with an OperationOutcome when it is invalid.';

CREATE FUNCTION omnitask.not_found(task_id text) RETURNS void
	LANGUAGE plpgsql AS
$$
BEGIN
	RAISE EXCEPTION USING
		ERRCODE = 'PT404',
		MESSAGE = pg_catalog.format('Task/%s not found', pg_catalog.left(task_id, 64)),
		HINT = 'No task has this id, or it is not visible to you.';
END
$$;
COMMENT ON FUNCTION omnitask.not_found(text) IS 'Raises PT404 for a task that does not exist or is not visible: both are reported the same way.';

CREATE FUNCTION omnitask.read_task(id text) RETURNS jsonb
	LANGUAGE plpgsql STABLE STRICT AS
$$
DECLARE
	found_resource jsonb;
BEGIN
	SELECT t.resource INTO found_resource FROM omnitask.task t WHERE t.id = read_task.id;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(read_task.id);
	END IF;
	RETURN found_resource;
END
$$;
COMMENT ON FUNCTION omnitask.read_task(text) IS 'The current version of a task (FHIR read); PT404 when it does not exist or is not visible to the caller.';

CREATE FUNCTION omnitask.update_task(id text, resource jsonb, if_match integer DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql AS
$$
DECLARE
	current_version integer;
	stored jsonb;
BEGIN
	IF update_task.id IS NULL OR update_task.resource IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'update_task needs an id and a resource';
	END IF;
	SELECT t.version_id INTO current_version FROM omnitask.task t
		WHERE t.id = update_task.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(update_task.id);
	END IF;
	IF if_match IS NOT NULL AND if_match <> current_version THEN
		RAISE EXCEPTION USING
			ERRCODE = 'PT412',
			MESSAGE = pg_catalog.format('Task/%s is at version %s, not %s', update_task.id, current_version, if_match),
			HINT = 'Read the task again and reapply your change.';
	END IF;
	UPDATE omnitask.task t SET resource = update_task.resource
		WHERE t.id = update_task.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;
COMMENT ON FUNCTION omnitask.update_task(text, jsonb, integer) IS 'Replaces a task (FHIR update: elements left out are removed). if_match is the expected meta.versionId (PT412 when it differs). Returns the Task as stored.';

CREATE FUNCTION omnitask.task_history(id text) RETURNS jsonb
	LANGUAGE plpgsql STABLE STRICT AS
$$
DECLARE
	bundle jsonb;
BEGIN
	PERFORM FROM omnitask.task t WHERE t.id = task_history.id;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(task_history.id);
	END IF;
	SELECT pg_catalog.jsonb_build_object(
			'resourceType', 'Bundle',
			'type', 'history',
			'total', pg_catalog.count(*),
			'entry', pg_catalog.jsonb_agg(
				pg_catalog.jsonb_build_object(
					'fullUrl', 'Task/' || h.id,
					'resource', h.resource,
					'request', pg_catalog.jsonb_build_object(
						'method', CASE WHEN h.operation = 'update' THEN 'PUT' ELSE 'POST' END,
						'url', CASE WHEN h.operation = 'update' THEN 'Task/' || h.id ELSE 'Task' END),
					'response', pg_catalog.jsonb_build_object(
						'status', CASE WHEN h.operation = 'update' THEN '200' ELSE '201' END,
						'etag', 'W/"' || h.version_id || '"',
						'lastModified', h.resource -> 'meta' ->> 'lastUpdated'))
				ORDER BY h.version_id DESC))
		INTO bundle
		FROM omnitask.task_history h
		WHERE h.id = task_history.id;
	IF bundle ->> 'total' = '0' THEN
		PERFORM omnitask.not_found(task_history.id);
	END IF;
	RETURN bundle;
END
$$;
COMMENT ON FUNCTION omnitask.task_history(text) IS 'Every stored version of a task as a FHIR history Bundle, newest first; PT404 when the task does not exist or is not visible.';

CREATE FUNCTION omnitask.import_task(resource jsonb) RETURNS jsonb
	LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'omnitask_import_task';
COMMENT ON FUNCTION omnitask.import_task(jsonb) IS 'Admin only: stores an existing valid Task in any status, keeping its id (migration); recorded in the history as an import.';

CREATE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
	stored jsonb;
BEGIN
	IF set_task_status.id IS NULL OR set_task_status.status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'set_task_status needs a task id and a status';
	END IF;
	SELECT t.resource, t.version_id INTO current_resource, current_version
		FROM omnitask.task t WHERE t.id = set_task_status.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(set_task_status.id);
	END IF;
	IF if_match IS NOT NULL AND if_match <> current_version THEN
		RAISE EXCEPTION USING
			ERRCODE = 'PT412',
			MESSAGE = pg_catalog.format('Task/%s is at version %s, not %s', set_task_status.id, current_version, if_match),
			HINT = 'Read the task again and decide on its current status.';
	END IF;
	UPDATE omnitask.task t
		SET resource = (current_resource - 'statusReason')
			|| pg_catalog.jsonb_build_object('status', set_task_status.status)
			|| CASE WHEN reason IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('statusReason', pg_catalog.jsonb_build_object('text', reason)) END
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;
COMMENT ON FUNCTION omnitask.set_task_status(text, text, text, integer) IS 'Moves a task to a new status along the workflow (PT409 when the transition is not open to the caller); reason becomes Task.statusReason.text (required for rejected, cancelled, failed, entered-in-error); if_match is the expected meta.versionId (PT412). Returns the Task as stored.';

/*
 * Identity and the practitioner registry.
 */
CREATE FUNCTION omnitask.current_practitioner_id() RETURNS text
	LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_current_practitioner_id';
COMMENT ON FUNCTION omnitask.current_practitioner_id() IS 'The caller''s practitioner id: the registry row of current_user, else of session_user, or (for sessions of omnitask.jwt_authenticator only) the omnitask.jwt_practitioner_claim of request.jwt.claims; NULL when none or inactive. Cached per transaction.';

CREATE FUNCTION omnitask.register_practitioner(role_name name, id text, display text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql AS
$$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('role %I does not exist', register_practitioner.role_name),
			HINT = 'Create the login role first, then register it.';
	END IF;
	IF register_practitioner.role_name = pg_catalog.current_setting('omnitask.jwt_authenticator', true) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role %I is the JWT authenticator', register_practitioner.role_name),
			DETAIL = 'Every PostgREST request logs in as the authenticator; its practitioner comes from the token.';
	END IF;
	IF register_practitioner.role_name IN ('omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor')
	   OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
				  WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role %I is a group role', register_practitioner.role_name),
			DETAIL = 'A practitioner is registered by their own role; a role with members is shared by many users.',
			HINT = 'Practitioners reaching omnitask through PostgREST need no role of their own: their token names their id.';
	END IF;
	INSERT INTO omnitask.practitioner AS p (id, role_name, display, active)
		VALUES (register_practitioner.id, register_practitioner.role_name, register_practitioner.display, true)
		ON CONFLICT ON CONSTRAINT practitioner_pkey DO UPDATE
			SET display = EXCLUDED.display, active = true
			WHERE p.role_name = EXCLUDED.role_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'unique_violation',
			MESSAGE = pg_catalog.format('practitioner %s is already registered for another role', register_practitioner.id);
	END IF;
END
$$;
COMMENT ON FUNCTION omnitask.register_practitioner(name, text, text) IS 'Admin only: registers (or re-activates) the login role of a practitioner under its FHIR Practitioner id. Deactivate with UPDATE omnitask.practitioner SET active = false.';

/*
 * The workflow.
 */
CREATE FUNCTION omnitask.set_workflow(definition json) RETURNS void
	LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'omnitask_set_workflow';
COMMENT ON FUNCTION omnitask.set_workflow(json) IS 'Admin only: replaces the workflow (creatable, terminal, reason_required, transitions with roles). Checked first: a bad document changes nothing. Applies in every session from its next statement once committed.';

CREATE FUNCTION omnitask.workflow() RETURNS json
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'omnitask_workflow';
COMMENT ON FUNCTION omnitask.workflow() IS 'The workflow document in force (the default workflow when none was set).';

CREATE FUNCTION omnitask.default_workflow() RETURNS json
	LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'omnitask_default_workflow';
COMMENT ON FUNCTION omnitask.default_workflow() IS 'The default workflow of FHIR R4 (section 12.1.6) as a workflow document; set_workflow(default_workflow()) restores it.';

CREATE VIEW omnitask.workflow_transitions WITH (security_invoker = true) AS
	WITH doc AS (SELECT omnitask.workflow()::jsonb AS w),
	edges AS (
		SELECT f.value AS from_status, d.value AS to_status,
			   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(t -> 'roles')) AS roles
		FROM doc, pg_catalog.jsonb_array_elements(doc.w -> 'transitions') AS t,
			 LATERAL pg_catalog.jsonb_array_elements_text(
				CASE pg_catalog.jsonb_typeof(t -> 'from') WHEN 'array' THEN t -> 'from'
					 ELSE pg_catalog.jsonb_build_array(t -> 'from') END) AS f,
			 LATERAL pg_catalog.jsonb_array_elements_text(
				CASE pg_catalog.jsonb_typeof(t -> 'to') WHEN 'array' THEN t -> 'to'
					 ELSE pg_catalog.jsonb_build_array(t -> 'to') END) AS d)
	SELECT e.from_status::omnitask.task_status AS from_status,
		   e.to_status::omnitask.task_status AS to_status,
		   e.roles,
		   COALESCE((doc.w -> 'reason_required') ? e.to_status, false) AS reason_required
	FROM edges e, doc
	ORDER BY 1, 2;
COMMENT ON VIEW omnitask.workflow_transitions IS 'The transitions of the workflow in force: from_status, to_status, the roles allowed, and whether a reason is required.';

CREATE FUNCTION omnitask.terminal_statuses() RETURNS omnitask.task_status[]
	LANGUAGE sql STABLE AS
$$
	SELECT pg_catalog.array_agg(s::omnitask.task_status)
	FROM pg_catalog.json_array_elements_text(omnitask.workflow() -> 'terminal') AS s
$$;
COMMENT ON FUNCTION omnitask.terminal_statuses() IS 'The terminal statuses of the workflow in force; a task in any other status is open.';

/*
 * Row-level security: practitioners see and write their own tasks only,
 * admins everything, auditors read everything.  Plain comparisons on
 * indexed columns, no subqueries (so the policies also work on Citus).
 */
ALTER TABLE omnitask.task ENABLE ROW LEVEL SECURITY;
ALTER TABLE omnitask.task FORCE ROW LEVEL SECURITY;
CREATE POLICY task_admin_select ON omnitask.task FOR SELECT TO omnitask_admin USING (true);
CREATE POLICY task_admin_insert ON omnitask.task FOR INSERT TO omnitask_admin WITH CHECK (true);
CREATE POLICY task_admin_update ON omnitask.task FOR UPDATE TO omnitask_admin USING (true) WITH CHECK (true);
CREATE POLICY task_auditor_select ON omnitask.task FOR SELECT TO omnitask_auditor USING (true);
CREATE POLICY task_practitioner_select ON omnitask.task FOR SELECT TO omnitask_practitioner
	USING (owner_id = omnitask.current_practitioner_id());
CREATE POLICY task_practitioner_insert ON omnitask.task FOR INSERT TO omnitask_practitioner
	WITH CHECK (owner_id = omnitask.current_practitioner_id());
CREATE POLICY task_practitioner_update ON omnitask.task FOR UPDATE TO omnitask_practitioner
	USING (owner_id = omnitask.current_practitioner_id())
	WITH CHECK (owner_id = omnitask.current_practitioner_id());

ALTER TABLE omnitask.task_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE omnitask.task_history FORCE ROW LEVEL SECURITY;
CREATE POLICY history_admin_select ON omnitask.task_history FOR SELECT TO omnitask_admin USING (true);
CREATE POLICY history_auditor_select ON omnitask.task_history FOR SELECT TO omnitask_auditor USING (true);
CREATE POLICY history_practitioner_select ON omnitask.task_history FOR SELECT TO omnitask_practitioner
	USING (owner_id = omnitask.current_practitioner_id());

/*
 * Reporting views.  All security_invoker: a practitioner's report covers
 * their own tasks only.
 */
CREATE VIEW omnitask.tasks WITH (security_invoker = true) AS
	SELECT t.id, t.version_id, t.last_updated, t.status, t.intent, t.priority, t.owner_id,
		   t.patient_id, t.requester, t.code, t.description, t.authored_on, t.last_modified,
		   t.due_at,
		   t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses()))) AS is_open,
		   t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses())))
			   AND t.due_at IS NOT NULL AND t.due_at < pg_catalog.now() AS is_overdue
	FROM omnitask.task t;
COMMENT ON VIEW omnitask.tasks IS 'One row per task the caller may see: the derived columns, is_open (not in a terminal status) and is_overdue (open and past due_at).';

CREATE VIEW omnitask.task_counts WITH (security_invoker = true) AS
	SELECT t.status, t.priority, pg_catalog.count(*) AS n
	FROM omnitask.task t
	GROUP BY t.status, t.priority;
COMMENT ON VIEW omnitask.task_counts IS 'Number of visible tasks per status and priority.';

CREATE VIEW omnitask.workload WITH (security_invoker = true) AS
	SELECT w.owner_id, p.display, w.open, w.overdue, w.stat, w.asap, w.urgent, w.routine
	FROM (SELECT t.owner_id,
				 pg_catalog.count(*) AS open,
				 pg_catalog.count(*) FILTER (WHERE t.due_at < pg_catalog.now()) AS overdue,
				 pg_catalog.count(*) FILTER (WHERE t.priority = 'stat') AS stat,
				 pg_catalog.count(*) FILTER (WHERE t.priority = 'asap') AS asap,
				 pg_catalog.count(*) FILTER (WHERE t.priority = 'urgent') AS urgent,
				 pg_catalog.count(*) FILTER (WHERE t.priority = 'routine') AS routine
		  FROM omnitask.task t
		  WHERE t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses())))
		  GROUP BY t.owner_id) w
	LEFT JOIN omnitask.practitioner p ON p.id = w.owner_id;
COMMENT ON VIEW omnitask.workload IS 'Open tasks per owner (owner_id NULL: unassigned): how many, how many overdue, and how many of each priority.';

CREATE VIEW omnitask.overdue_tasks WITH (security_invoker = true) AS
	SELECT t.id, t.status, t.priority, t.owner_id, t.patient_id, t.code, t.description, t.due_at,
		   pg_catalog.now() - t.due_at AS overdue_by
	FROM omnitask.task t
	WHERE t.status <> ALL (ARRAY(SELECT pg_catalog.unnest(omnitask.terminal_statuses())))
	  AND t.due_at < pg_catalog.now()
	ORDER BY t.priority DESC, t.due_at, t.id;
COMMENT ON VIEW omnitask.overdue_tasks IS 'Open tasks past their due time, most urgent first, then longest overdue.';

CREATE VIEW omnitask.status_changes WITH (security_invoker = true) AS
	SELECT h.id, h.version_id, h.from_status, h.to_status, h.changed_at, h.changed_by, h.practitioner_id
	FROM (SELECT h.id, h.version_id,
				 pg_catalog.lag(h.status) OVER w AS from_status,
				 h.status AS to_status,
				 h.recorded_at AS changed_at,
				 h.recorded_by AS changed_by,
				 h.practitioner_id
		  FROM omnitask.task_history h
		  WINDOW w AS (PARTITION BY h.id ORDER BY h.version_id)) h
	WHERE h.from_status IS DISTINCT FROM h.to_status;
COMMENT ON VIEW omnitask.status_changes IS 'Every status change from the history: from_status (NULL when the task was created), to_status, when and by which role (and practitioner).';

CREATE VIEW omnitask.turnaround WITH (security_invoker = true) AS
	WITH reached AS (
		SELECT h.id,
			   pg_catalog.min(h.recorded_at) FILTER (WHERE h.status = 'accepted') AS accepted_at,
			   pg_catalog.min(h.recorded_at) FILTER (WHERE h.status = 'completed') AS completed_at
		FROM omnitask.task_history h
		WHERE h.operation <> 'import'
		GROUP BY h.id)
	SELECT t.priority, t.code AS category,
		   pg_catalog.count(r.accepted_at) AS accepted,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY r.accepted_at - t.authored_on) AS accept_median,
		   pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY r.accepted_at - t.authored_on) AS accept_p90,
		   pg_catalog.count(r.completed_at) AS completed,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY r.completed_at - t.authored_on) AS complete_median,
		   pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY r.completed_at - t.authored_on) AS complete_p90
	FROM reached r JOIN omnitask.task t ON t.id = r.id
	GROUP BY t.priority, t.code;
COMMENT ON VIEW omnitask.turnaround IS 'Time from Task.authoredOn to the first version accepted and the first completed (median and 90th percentile) per priority and category, from the history; imported versions do not count (their timing is unknown).';

/*
 * Privileges: least privilege.  Nobody deletes; history and derived
 * columns are written by the triggers only; the registry and workflow by
 * admins only.
 */
REVOKE ALL ON ALL TABLES IN SCHEMA omnitask FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA omnitask FROM PUBLIC;
GRANT SELECT ON omnitask.task, omnitask.task_history, omnitask.practitioner,
	omnitask.workflow_definition, omnitask.workflow_transitions, omnitask.tasks,
	omnitask.task_counts, omnitask.workload, omnitask.overdue_tasks, omnitask.status_changes,
	omnitask.turnaround
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT INSERT (resource), UPDATE (resource) ON omnitask.task TO omnitask_admin, omnitask_practitioner;
GRANT INSERT, UPDATE ON omnitask.practitioner, omnitask.workflow_definition TO omnitask_admin;
GRANT EXECUTE ON FUNCTION
	omnitask.validate_task(jsonb), omnitask.read_task(text), omnitask.task_history(text),
	omnitask.not_found(text), omnitask.current_practitioner_id(), omnitask.workflow(),
	omnitask.default_workflow(), omnitask.terminal_statuses()
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION
	omnitask.create_task(jsonb), omnitask.update_task(text, jsonb, integer),
	omnitask.set_task_status(text, text, text, integer)
	TO omnitask_admin, omnitask_practitioner;
GRANT EXECUTE ON FUNCTION
	omnitask.import_task(jsonb), omnitask.register_practitioner(name, text, text),
	omnitask.set_workflow(json)
	TO omnitask_admin;

/*
 * Search (FHIR search on Task, as SQL).
 */
CREATE FUNCTION omnitask.search_tasks(owner text DEFAULT NULL, status text DEFAULT NULL,
									  priority text DEFAULT NULL, patient text DEFAULT NULL,
									  _count integer DEFAULT 50, _offset integer DEFAULT 0,
									  _sort text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'omnitask_search_tasks';
COMMENT ON FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) IS 'FHIR search on Task: a searchset Bundle of the tasks the caller may see, with exact total and self/next links. owner Practitioner/{id} or {id}; patient Patient/{id} or {id}; status and priority comma lists (OR); _count 1-1000; _offset >= 0; _sort a comma list of priority, due, authored-on, modified, status (- for descending), default -priority,due,authored-on. A bad parameter raises 22023 naming it.';

-- indexes serving the searches and the worklist
CREATE INDEX task_owner_worklist_idx ON omnitask.task (owner_id, priority DESC, due_at ASC NULLS LAST, authored_on, id);
CREATE INDEX task_status_priority_idx ON omnitask.task (status, priority DESC, due_at ASC NULLS LAST, authored_on, id);
CREATE INDEX task_priority_idx ON omnitask.task (priority DESC, due_at ASC NULLS LAST, authored_on, id);
CREATE INDEX task_authored_idx ON omnitask.task (authored_on);
CREATE INDEX task_modified_idx ON omnitask.task (last_modified);

REVOKE ALL ON FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
