/*
 * omnitask 0.9 -> 0.10: the write path (issue 19).  CREATE EXTENSION runs
 * 0.1, 0.1--0.2, ..., 0.8--0.9, then this script; ALTER EXTENSION omnitask
 * UPDATE runs the same steps.  One section per piece of work.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.10'" to load this file. \quit


/* ======================================================================
 * Write path: a status change that reads the stored version once (issue 19)
 * ====================================================================== */

/*
 * The new version of a status change, built by copying the root elements it
 * keeps as stored bytes (src/task_edit.c).  (resource - 'statusReason') ||
 * change unpacked and encoded every element twice: about 140k of the 1.39M
 * instructions a status change cost.  The stored version it reads is kept
 * expanded for the rest of the write (src/task_old_version.c): the BEFORE
 * trigger and the identifier claims read it without a second pglz
 * expansion.  IMMUTABLE, so Citus evaluates it on the shard, where the row
 * is.
 */
CREATE FUNCTION omnitask.task_with_status(resource jsonb, status text, reason text DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_task_with_status';
COMMENT ON FUNCTION omnitask.task_with_status(jsonb, text, text) IS 'resource without statusReason, with status set and, when reason is not NULL, statusReason {"text": reason}: the same document as (resource - ''statusReason'') || jsonb_build_object(''status'', status, ...), built by copying the elements kept. NULL when resource or status is NULL; 22023 when resource is not a JSON object. What set_task_status() writes; it validates nothing (the table''s trigger does).';
REVOKE ALL ON FUNCTION omnitask.task_with_status(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_with_status(jsonb, text, text) TO omnitask_admin, omnitask_practitioner;

CREATE OR REPLACE FUNCTION omnitask.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	current_version integer;
	stored jsonb;
BEGIN
	IF set_task_status.id IS NULL OR set_task_status.status IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'task id and status must not be null';
	END IF;
	UPDATE omnitask.task t
		SET resource = omnitask.task_with_status(t.resource, set_task_status.status, set_task_status.reason)
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

/*
 * The identifier claims of an update: the trigger function tests whether
 * Task.identifier changed (src/task_identifier.c), with the same jsonb
 * equality the WHEN clause had, through the version already expanded.  The
 * WHEN clause expanded the stored old version on every update (about 26k
 * instructions for a 1.3 kB Task, and 7k more to read the clause back from
 * its catalog text at each statement).
 */
DROP TRIGGER task_identifier_update ON omnitask.task;
CREATE TRIGGER task_identifier_update AFTER UPDATE ON omnitask.task
	FOR EACH ROW EXECUTE FUNCTION omnitask.task_identifier_claim();
