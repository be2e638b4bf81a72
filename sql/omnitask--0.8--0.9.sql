/*
 * omnitask 0.8 -> 0.9: the write path (issue 19).  CREATE EXTENSION runs
 * 0.1, 0.1--0.2, ..., 0.7--0.8, then this script; ALTER EXTENSION omnitask
 * UPDATE runs the same steps.  One section per piece of work.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.9'" to load this file. \quit


/* ======================================================================
 * Write path: a status change in one statement (issue 19)
 * ====================================================================== */

/*
 * set_task_status writes the new version with one UPDATE that builds it
 * from the stored one, instead of reading and locking the row first
 * (SELECT ... FOR UPDATE: a second index probe, a row lock and its WAL
 * record, an executor and a copy of the document per call; 61k of the
 * 214k instructions a status change cost over its floor).  The UPDATE's
 * WHERE carries if_match, so a concurrent writer is waited for and the
 * version compared on the row that is current then (READ COMMITTED
 * rechecks it), as the lock did.  When no row was updated, a plain read
 * tells why: PT412 if the task is there at another version, PT404
 * otherwise.  No CASE in the UPDATE (Citus refuses a non-immutable
 * function inside one); the workflow and every rule stay in the BEFORE
 * trigger.
 */
CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	change jsonb;
	current_version integer;
	stored jsonb;
BEGIN
	IF set_task_status.id IS NULL OR set_task_status.status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'task id and status must not be null';
	END IF;
	change := pg_catalog.jsonb_build_object('status', set_task_status.status);
	IF set_task_status.reason IS NOT NULL THEN
		change := change || pg_catalog.jsonb_build_object('statusReason',
			pg_catalog.jsonb_build_object('text', set_task_status.reason));
	END IF;
	UPDATE omnitask.task t SET resource = (t.resource - 'statusReason') || change
		WHERE t.id = set_task_status.id
		  AND (set_task_status.if_match IS NULL OR t.version_id = set_task_status.if_match)
		RETURNING t.resource INTO stored;
	IF stored IS NULL THEN
		SELECT t.version_id INTO current_version FROM omnitask.task t WHERE t.id = set_task_status.id;
		IF FOUND THEN
			PERFORM omnitask.require_version(set_task_status.id, current_version, set_task_status.if_match,
				'Read the task again and decide on its current status.');
		END IF;
		PERFORM omnitask.not_found(set_task_status.id);
	END IF;
	RETURN stored;
END
$$;
