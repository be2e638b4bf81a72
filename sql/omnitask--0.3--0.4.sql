/*
 * omnitask 0.3 -> 0.4: FHIR over HTTP (the change feed), read audit, search
 * (derived columns and indexes, _elements, the stage view), Citus, and the
 * write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3, then this
 * script; ALTER EXTENSION omnitask UPDATE runs the same steps.  One section
 * per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.4'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed
 * ====================================================================== */


/* ======================================================================
 * Read audit
 * ====================================================================== */


/* ======================================================================
 * Search: derived columns and indexes
 * ====================================================================== */


/* ======================================================================
 * Search: _elements, _summary, period and the stage view
 * ====================================================================== */


/* ======================================================================
 * Citus: distributed tables
 * ====================================================================== */


/* ======================================================================
 * Write path and migration
 * ====================================================================== */

/*
 * set_task_status builds the new version of the Task before its UPDATE and
 * passes it as a parameter: the UPDATE holds no non-immutable function
 * inside a CASE (Citus refuses one in a distributed UPDATE).  The BEFORE
 * trigger then validates only what the change touched (src/task_trigger.c,
 * omnitask.revalidate_unchanged).
 */
CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
	new_resource jsonb;
	stored jsonb;
BEGIN
	IF set_task_status.id IS NULL OR set_task_status.status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'task id and status must not be null';
	END IF;
	SELECT t.resource, t.version_id INTO current_resource, current_version
		FROM omnitask.task t WHERE t.id = set_task_status.id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM omnitask.not_found(set_task_status.id);
	END IF;
	PERFORM omnitask.require_version(set_task_status.id, current_version, set_task_status.if_match,
		'Read the task again and decide on its current status.');
	new_resource := (current_resource - 'statusReason')
		|| pg_catalog.jsonb_build_object('status', set_task_status.status);
	IF reason IS NOT NULL THEN
		new_resource := new_resource
			|| pg_catalog.jsonb_build_object('statusReason', pg_catalog.jsonb_build_object('text', reason));
	END IF;
	UPDATE omnitask.task t SET resource = new_resource
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;

-- (end of write path and migration)
