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

CREATE INDEX task_owner_status_idx ON omnitask.task (owner_id, status);
CREATE INDEX task_patient_idx ON omnitask.task (patient_id);
CREATE INDEX task_due_idx ON omnitask.task (due_at);

CREATE TABLE omnitask.task_history (
	id				text NOT NULL,
	version_id		integer NOT NULL,
	operation		text NOT NULL CHECK (operation IN ('create', 'update', 'import')),
	status			omnitask.task_status NOT NULL,
	resource		jsonb NOT NULL,
	recorded_at		timestamptz NOT NULL,
	recorded_by		name NOT NULL,
	practitioner_id	text,
	PRIMARY KEY (id, version_id)
);
COMMENT ON TABLE omnitask.task_history IS 'Every version of every task ever stored, appended by the trigger with the owner''s rights. Append-only for everyone.';
COMMENT ON COLUMN omnitask.task_history.operation IS 'create, update or import.';
COMMENT ON COLUMN omnitask.task_history.status IS 'Task.status of this version (for status_changes).';
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

/*
 * Functions.
 */
CREATE FUNCTION omnitask.validate_task(resource jsonb) RETURNS jsonb
	LANGUAGE c STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_validate_task';
COMMENT ON FUNCTION omnitask.validate_task(jsonb) IS 'FHIR $validate against base R4 Task: returns an OperationOutcome listing every problem (capped at 100); never raises for bad content. No issue of severity error means valid.';

CREATE FUNCTION omnitask.create_task(resource jsonb) RETURNS jsonb
	LANGUAGE sql STRICT AS
$$
	INSERT INTO omnitask.task (resource) VALUES (resource) RETURNING task.resource;
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

/*
 * Privileges.  Nobody deletes; history and derived columns are written by
 * the triggers only.
 */
REVOKE ALL ON ALL TABLES IN SCHEMA omnitask FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA omnitask FROM PUBLIC;
GRANT SELECT ON omnitask.task, omnitask.task_history, omnitask.practitioner
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT INSERT (resource), UPDATE (resource) ON omnitask.task TO omnitask_admin, omnitask_practitioner;
GRANT EXECUTE ON FUNCTION omnitask.validate_task(jsonb), omnitask.read_task(text),
	omnitask.task_history(text), omnitask.not_found(text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.create_task(jsonb), omnitask.update_task(text, jsonb, integer)
	TO omnitask_admin, omnitask_practitioner;
GRANT EXECUTE ON FUNCTION omnitask.import_task(jsonb) TO omnitask_admin;
