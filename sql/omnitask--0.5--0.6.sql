/*
 * omnitask 0.5 -> 0.6: FHIR over HTTP (the change feed's cost: history
 * stored uncompressed, the feed endpoint in C), search (plans and indexes for
 * the column, status and date parameters still slow at a million tasks) and
 * the read audit of the FHIR endpoints.  (The validator's and the history
 * insert's speed-ups of 0.6 are C only.)  CREATE EXTENSION runs 0.1,
 * 0.1--0.2, 0.2--0.3, 0.3--0.4, 0.4--0.5, then this script; ALTER EXTENSION
 * omnitask UPDATE runs the same steps.  One section per piece of work, in
 * this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.6'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed (issue 15)
 * ====================================================================== */

/*
 * Versions are stored uncompressed.  A change-feed page of 100 spent a third
 * of its instructions (2.3 of 7.7 million) decompressing the 100 resources
 * pglz had compressed on the way into the history, which compresses any row
 * over 2 kB (TOAST_TUPLE_THRESHOLD), most versions.  toast_tuple_target is
 * the row length the toaster tries to get under once it runs: at 8160 (a
 * page) a version is compressed, then moved out of line, only when its row
 * does not fit in a page on its own, and is otherwise stored as it is.  lz4
 * would decompress faster, but not every server has it.  No rewrite: rows
 * stored before stay compressed (the feed reads both), every new version
 * is stored plain.  The price is disk: 1.4 times the history on the
 * generated tasks (README, FHIR over HTTP).
 */
ALTER TABLE omnitask.task_history SET (toast_tuple_target = 8160);

/*
 * GET /Task/_history in C: the PL/pgSQL endpoint copied the page (about
 * 200 kB for 100 versions) into its variable and out again as its result,
 * 0.6M instructions a page, more than the 1.1x the endpoint may cost over
 * task_changes_json once the page cost 4.3M.  Same answers: 200 and the
 * page, an error's OperationOutcome with its FHIR status (400 for a bad
 * cursor or _count), errors with no FHIR status raised.
 */
CREATE OR REPLACE FUNCTION fhir.task_changes(_cursor text DEFAULT NULL, _count integer DEFAULT 100)
	RETURNS fhir."application/fhir+json"
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_fhir_task_changes';

/*
 * A practitioner's change feed reads their versions in feed order.  The
 * policy of task_history gives a practitioner the versions with owner_id =
 * current_practitioner_id(); with owner_id alone indexed, a page's plan had
 * to choose between task_history_feed_idx (every version from the cursor
 * on, the others' filtered out) and all of the practitioner's versions
 * through task_history_owner_idx and a sort: the plan 0.5 kept took the
 * latter, 0.5-1 s a page for a practitioner with 18,850 versions at 1M
 * tasks.  With owner_id first and the feed order after it, the policy's
 * condition and the cursor are both index conditions (texteq and the row
 * comparison's operators are leakproof) and a page is an index scan that
 * stops after _count rows, whatever the cursor.  It replaces the index on
 * owner_id alone, whose every use it serves.
 */
DROP INDEX omnitask.task_history_owner_idx;
CREATE INDEX task_history_owner_feed_idx ON omnitask.task_history (owner_id, xid, id, version_id);


/* ======================================================================
 * Search: columns, dates and statuses (issue 17)
 * ====================================================================== */

/*
 * q17: a leakproof equality for task_status, so that a status condition is
 * planned alike with and without row-level security.
 *
 * Under row-level security the planner keeps two things from a condition
 * whose function is not leakproof: it may not become an index condition
 * ahead of a policy's (restriction_is_securely_promotable), and the
 * column's statistics may not be used to estimate it
 * (statistic_proc_security_check): enum_eq, the status column's "=", is
 * not leakproof.  Even for omnitask_admin, whose policy passes every row,
 * a status was estimated at the default 0.5% of the rows: "unassigned
 * ready" walked all 52,000 unassigned tasks in order, none of them ready
 * (34-121 ms at a million tasks, against 0.9 ms without RLS), and a status
 * list's plan was chosen and built differently.
 *
 * The choice.  enum_eq compares two OIDs and returns; it cannot fail or
 * reveal anything, so a function LANGUAGE internal over it may be declared
 * LEAKPROOF (the extension script runs as superuser; ALTER FUNCTION
 * pg_catalog.enum_eq would change every enum of the server, which is not
 * the extension's to change).  An operator of its own (~=~, not "=": an
 * "=" on task_status in schema omnitask would be the exact match for every
 * "status = ..." of a caller with omnitask on its search_path, and such a
 * condition could no longer use an index of the built-in operator class)
 * is what the searches write, and the indexes that read a status in the
 * page's order are built with a btree operator class holding it.  The
 * other ways considered: a leakproof expression (a status's number) with
 * an expression index needs a C function and a second way to write every
 * status; one partial index per status (0.6 before this) served RLS
 * callers through the predicate, but not the estimates, and was twelve
 * indexes for one.  The ordering operators of the class (~<~ ~<=~ ~>=~
 * ~>~, over enum_lt ... and enum_cmp) are not leakproof, as in PostgreSQL:
 * they look up the enum's sort order in the catalogs and can fail on an
 * invalid value; no search writes them.  ~=~ is MERGES (it is the
 * class's equality), so that "status ~=~ 'ready'" puts the status in an
 * equivalence class with the constant and the index's later columns give
 * the page's order.
 */
CREATE FUNCTION omnitask.task_status_eq(omnitask.task_status, omnitask.task_status) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE AS 'enum_eq';
CREATE FUNCTION omnitask.task_status_lt(omnitask.task_status, omnitask.task_status) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'enum_lt';
CREATE FUNCTION omnitask.task_status_le(omnitask.task_status, omnitask.task_status) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'enum_le';
CREATE FUNCTION omnitask.task_status_ge(omnitask.task_status, omnitask.task_status) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'enum_ge';
CREATE FUNCTION omnitask.task_status_gt(omnitask.task_status, omnitask.task_status) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'enum_gt';
CREATE FUNCTION omnitask.task_status_cmp(omnitask.task_status, omnitask.task_status) RETURNS integer
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'enum_cmp';
COMMENT ON FUNCTION omnitask.task_status_eq(omnitask.task_status, omnitask.task_status) IS 'enum_eq for task_status, LEAKPROOF: it compares the two values'' OIDs and returns, it cannot fail and reveals nothing about its arguments, so under row-level security a status condition (operator ~=~) may be an index condition and be estimated from the column''s statistics.';
COMMENT ON FUNCTION omnitask.task_status_lt(omnitask.task_status, omnitask.task_status) IS 'enum_lt for task_status (operator ~<~ of task_status_ops); not leakproof, as enum_lt.';
COMMENT ON FUNCTION omnitask.task_status_le(omnitask.task_status, omnitask.task_status) IS 'enum_le for task_status (operator ~<=~ of task_status_ops); not leakproof, as enum_le.';
COMMENT ON FUNCTION omnitask.task_status_ge(omnitask.task_status, omnitask.task_status) IS 'enum_ge for task_status (operator ~>=~ of task_status_ops); not leakproof, as enum_ge.';
COMMENT ON FUNCTION omnitask.task_status_gt(omnitask.task_status, omnitask.task_status) IS 'enum_gt for task_status (operator ~>~ of task_status_ops); not leakproof, as enum_gt.';
COMMENT ON FUNCTION omnitask.task_status_cmp(omnitask.task_status, omnitask.task_status) IS 'enum_cmp for task_status: the comparison support function of task_status_ops; not leakproof, as enum_cmp.';
-- a search runs as its caller, who executes the operators' functions
REVOKE ALL ON FUNCTION omnitask.task_status_eq(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_lt(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_le(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_ge(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_gt(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_cmp(omnitask.task_status, omnitask.task_status) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.task_status_eq(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_lt(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_le(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_ge(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_gt(omnitask.task_status, omnitask.task_status),
	omnitask.task_status_cmp(omnitask.task_status, omnitask.task_status)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
CREATE OPERATOR omnitask.~=~ (FUNCTION = omnitask.task_status_eq, LEFTARG = omnitask.task_status,
	RIGHTARG = omnitask.task_status, COMMUTATOR = OPERATOR(omnitask.~=~), RESTRICT = eqsel, JOIN = eqjoinsel,
	MERGES);
CREATE OPERATOR omnitask.~<~ (FUNCTION = omnitask.task_status_lt, LEFTARG = omnitask.task_status,
	RIGHTARG = omnitask.task_status, COMMUTATOR = OPERATOR(omnitask.~>~), NEGATOR = OPERATOR(omnitask.~>=~),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR omnitask.~<=~ (FUNCTION = omnitask.task_status_le, LEFTARG = omnitask.task_status,
	RIGHTARG = omnitask.task_status, COMMUTATOR = OPERATOR(omnitask.~>=~), NEGATOR = OPERATOR(omnitask.~>~),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR omnitask.~>=~ (FUNCTION = omnitask.task_status_ge, LEFTARG = omnitask.task_status,
	RIGHTARG = omnitask.task_status, COMMUTATOR = OPERATOR(omnitask.~<=~), NEGATOR = OPERATOR(omnitask.~<~),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR omnitask.~>~ (FUNCTION = omnitask.task_status_gt, LEFTARG = omnitask.task_status,
	RIGHTARG = omnitask.task_status, COMMUTATOR = OPERATOR(omnitask.~<~), NEGATOR = OPERATOR(omnitask.~<=~),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
COMMENT ON OPERATOR omnitask.~=~ (omnitask.task_status, omnitask.task_status) IS 'task_status equality, leakproof (task_status_eq): the status conditions of search_tasks_query, index conditions and estimated from statistics under row-level security too.';
COMMENT ON OPERATOR omnitask.~<~ (omnitask.task_status, omnitask.task_status) IS 'task_status less than (enum order), for task_status_ops.';
COMMENT ON OPERATOR omnitask.~<=~ (omnitask.task_status, omnitask.task_status) IS 'task_status less than or equal (enum order), for task_status_ops.';
COMMENT ON OPERATOR omnitask.~>=~ (omnitask.task_status, omnitask.task_status) IS 'task_status greater than or equal (enum order), for task_status_ops.';
COMMENT ON OPERATOR omnitask.~>~ (omnitask.task_status, omnitask.task_status) IS 'task_status greater than (enum order), for task_status_ops.';
CREATE OPERATOR CLASS omnitask.task_status_ops FOR TYPE omnitask.task_status USING btree AS
	OPERATOR 1 omnitask.~<~,
	OPERATOR 2 omnitask.~<=~,
	OPERATOR 3 omnitask.~=~,
	OPERATOR 4 omnitask.~>=~,
	OPERATOR 5 omnitask.~>~,
	FUNCTION 1 omnitask.task_status_cmp(omnitask.task_status, omnitask.task_status),
	FUNCTION 4 pg_catalog.btequalimage(oid);
COMMENT ON OPERATOR CLASS omnitask.task_status_ops USING btree IS 'btree operator class of task_status with the leakproof equality ~=~ (not the default: the built-in enum_ops stays the class of "=" and ORDER BY).';
COMMENT ON OPERATOR FAMILY omnitask.task_status_ops USING btree IS 'The family of task_status_ops.';

-- a status list is read per status in the default order (search.c): each
-- branch "status ~=~ 'requested'" is an index condition here, with or
-- without row-level security
DROP INDEX omnitask.task_status_priority_idx;
CREATE INDEX task_status_priority_idx ON omnitask.task
	(status omnitask.task_status_ops, priority DESC, due_at ASC NULLS LAST, authored_on, id);
-- requester=Type/id reads the requester's tasks in the page's default
-- order (a worklist: "the tasks I asked for"), as owner does
CREATE INDEX task_requester_worklist_idx ON omnitask.task
	(requester, priority DESC, due_at ASC NULLS LAST, authored_on, id);
-- owner:missing=true: "owner_id IS NULL" is no equality, so
-- task_owner_worklist_idx cannot give the order; the unassigned tasks in
-- the default order, and per status (a status list is read per status)
CREATE INDEX task_unowned_worklist_idx ON omnitask.task
	(priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE owner_id IS NULL;
CREATE INDEX task_unowned_status_idx ON omnitask.task
	(status omnitask.task_status_ops, priority DESC, due_at ASC NULLS LAST, authored_on, id) WHERE owner_id IS NULL;
-- a range of _lastUpdated ("changed since"), authored-on or modified: the
-- page's ids and sort keys are read from the range's index alone (an
-- index-only scan), then the page's documents (search.c); _lastUpdated's
-- index also gives _sort=_lastUpdated
CREATE INDEX task_last_updated_idx ON omnitask.task (last_updated) INCLUDE (priority, due_at, authored_on, id);
DROP INDEX omnitask.task_authored_idx;
CREATE INDEX task_authored_idx ON omnitask.task (authored_on) INCLUDE (priority, due_at, id);
DROP INDEX omnitask.task_modified_idx;
CREATE INDEX task_modified_idx ON omnitask.task (last_modified) INCLUDE (priority, due_at, authored_on, id);


/* ======================================================================
 * Read audit: the FHIR endpoints and task_history_page
 * ====================================================================== */

/*
 * Until 0.5 the reads of the FHIR layer were recorded as "direct" with no
 * task (fhir.task_read, whose C query has no id column) or not at all
 * (conditional reads, vread, instance history and task_history_page run
 * in omnitask's own PL/pgSQL functions, whose queries the executor hook
 * leaves to the functions themselves).  Each now records its read as
 * read_task and task_history do: action read, vread or history, the task
 * and its patient, outcome ok or not-found.
 */
CREATE FUNCTION omnitask.audit_read(action text, task_ids text[], patient_ids text[], query text, outcome text) RETURNS void
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_audit_read';
COMMENT ON FUNCTION omnitask.audit_read(text, text[], text[], text, text) IS 'audit_read with an outcome: ok, or not-found for a read of a task that does not exist or is not visible (22023 otherwise).';
REVOKE ALL ON FUNCTION omnitask.audit_read(text, text[], text[], text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.audit_read(text, text[], text[], text, text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;

CREATE OR REPLACE FUNCTION omnitask.fhir_task_read_full(id text) RETURNS jsonb
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	h jsonb := omnitask.fhir_headers();
	r record;
	inm text := h ->> 'if-none-match';
	ims timestamptz;
	q text := 'id=' || fhir_task_read_full.id;
BEGIN
	SELECT t.resource, t.version_id, t.last_updated, t.patient_id INTO r FROM omnitask.task t WHERE t.id = fhir_task_read_full.id;
	IF NOT FOUND THEN
		PERFORM omnitask.audit_read('read', NULL, NULL, q, 'not-found');
		PERFORM omnitask.fhir_respond(404, '[]');
		RETURN omnitask.fhir_outcome(404, 'PT404', pg_catalog.format('Task/%s not found', pg_catalog.left(id, 64)),
									 NULL, 'No task has this id, or it is not visible to you.');
	END IF;
	-- a 304 tells the client that the version it holds is current: a read
	PERFORM omnitask.audit_read('read', ARRAY[fhir_task_read_full.id], ARRAY[r.patient_id], q, 'ok');
	IF inm IS NOT NULL THEN
		IF pg_catalog.btrim(inm) = '*' OR ('W/"' || r.version_id || '"') = ANY (
				SELECT pg_catalog.regexp_replace(pg_catalog.btrim(e), '^"', 'W/"')
				FROM pg_catalog.unnest(pg_catalog.string_to_array(inm, ',')) e) THEN
			PERFORM omnitask.fhir_respond_task(304, fhir_task_read_full.id, r.version_id, r.last_updated, false);
			RETURN NULL;
		END IF;
	ELSIF h ? 'if-modified-since' THEN
		BEGIN
			ims := (h ->> 'if-modified-since')::timestamptz;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
			ims := NULL;		-- RFC 7232: an invalid date is ignored
		END;
		IF ims IS NOT NULL AND pg_catalog.date_trunc('second', r.last_updated) <= ims THEN
			PERFORM omnitask.fhir_respond_task(304, fhir_task_read_full.id, r.version_id, r.last_updated, false);
			RETURN NULL;
		END IF;
	END IF;
	PERFORM omnitask.fhir_respond_task(200, fhir_task_read_full.id, r.version_id, r.last_updated, false);
	RETURN r.resource;
END
$$;

CREATE OR REPLACE FUNCTION omnitask.fhir_task_vread_jsonb(id text, vid text) RETURNS omnitask.fhir_jsonb_answer
	-- VOLATILE PARALLEL UNSAFE: sets response.status / response.headers (set_config)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS
$$
DECLARE
	found_resource jsonb;
	patient text;
	q text;
BEGIN
	IF vid !~ '^[0-9]{1,9}$' THEN
		PERFORM omnitask.fhir_respond(400, '[]');
		RETURN omnitask.fhir_outcome(400, '22023', pg_catalog.format('invalid version id "%s"', pg_catalog.left(vid, 64)), NULL, NULL);
	END IF;
	q := pg_catalog.format('id=%s&vid=%s', fhir_task_vread_jsonb.id, vid);
	-- as task_history: only for a task visible now, and a version the caller may see
	SELECT hv.resource, t.patient_id INTO found_resource, patient
		FROM omnitask.task t JOIN omnitask.task_history hv ON hv.id = t.id
		WHERE t.id = fhir_task_vread_jsonb.id AND hv.version_id = vid::integer;
	IF NOT FOUND THEN
		PERFORM omnitask.audit_read('vread', NULL, NULL, q, 'not-found');
		PERFORM omnitask.fhir_respond(404, '[]');
		RETURN omnitask.fhir_outcome(404, 'PT404', pg_catalog.format('Task/%s/_history/%s not found', pg_catalog.left(id, 64), vid),
									 NULL, 'No such version, or it is not visible to you.');
	END IF;
	PERFORM omnitask.audit_read('vread', ARRAY[fhir_task_vread_jsonb.id], ARRAY[patient], q, 'ok');
	PERFORM omnitask.fhir_respond_task(200, fhir_task_vread_jsonb.id, vid::integer, (found_resource -> 'meta' ->> 'lastUpdated')::timestamptz, false);
	RETURN found_resource;
END
$$;

CREATE OR REPLACE FUNCTION omnitask.task_history_page(id text, _count integer DEFAULT 50, _since timestamptz DEFAULT NULL,
													  _at timestamptz DEFAULT NULL, _before integer DEFAULT NULL) RETURNS jsonb
	-- RESTRICTED: the policies of the tables it reads call current_practitioner_id()
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS
$$
DECLARE
	base text := omnitask.fhir_base_url();
	prefix text;
	bundle jsonb;
	last_vid integer;
	more boolean;
	q text;
	patient text;
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed', MESSAGE = 'argument "id" must not be null';
	END IF;
	IF _count IS NULL OR _count < 1 OR _count > 1000 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('invalid _count "%s"', _count), HINT = 'The value of "_count" must be between 1 and 1000.';
	END IF;
	IF _since IS NOT NULL AND _at IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'parameters "_since" and "_at" cannot be combined';
	END IF;
	q := pg_catalog.format('_count=%s', _count)
		|| CASE WHEN _since IS NOT NULL THEN '&_since=' || pg_catalog.replace(pg_catalog.to_char(_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ':', '%3A') ELSE '' END
		|| CASE WHEN _at IS NOT NULL THEN '&_at=' || pg_catalog.replace(pg_catalog.to_char(_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ':', '%3A') ELSE '' END;
	SELECT t.patient_id INTO patient FROM omnitask.task t WHERE t.id = task_history_page.id;
	IF NOT FOUND THEN
		PERFORM omnitask.audit_read('history', NULL, NULL, 'id=' || task_history_page.id || '&' || q, 'not-found');
		PERFORM omnitask.not_found(task_history_page.id);
	END IF;
	prefix := CASE WHEN base = '' THEN '' ELSE base || '/' END;
	SELECT COALESCE(jsonb_agg(omnitask.history_entry(s.h, prefix) ORDER BY (s.h).version_id DESC), '[]'),
		   pg_catalog.min((s.h).version_id)
		INTO bundle, last_vid
		FROM (SELECT h FROM omnitask.task_history h
			  WHERE h.id = task_history_page.id
				AND (_before IS NULL OR h.version_id < _before)
				AND (_since IS NULL OR h.recorded_at >= _since)
				-- _at: the version current at that instant
				AND (_at IS NULL OR h.version_id = (SELECT pg_catalog.max(h2.version_id) FROM omnitask.task_history h2
													WHERE h2.id = task_history_page.id AND h2.recorded_at <= _at))
			  ORDER BY h.version_id DESC
			  LIMIT _count) s;
	PERFORM omnitask.audit_read('history', ARRAY[task_history_page.id], ARRAY[patient],
								'id=' || task_history_page.id || '&' || q
								|| CASE WHEN _before IS NOT NULL THEN '&_before=' || _before ELSE '' END, 'ok');
	more := last_vid IS NOT NULL AND _at IS NULL AND EXISTS (
		SELECT FROM omnitask.task_history h
		WHERE h.id = task_history_page.id AND h.version_id < last_vid
		  AND (_since IS NULL OR h.recorded_at >= _since));
	RETURN jsonb_build_object(
		'resourceType', 'Bundle',
		'type', 'history',
		'link', jsonb_build_array(
				jsonb_build_object('relation', 'self', 'url', prefix || 'Task/' || id || '/_history?' || q
					|| CASE WHEN _before IS NOT NULL THEN '&_before=' || _before ELSE '' END),
				jsonb_build_object('relation', 'first', 'url', prefix || 'Task/' || id || '/_history?' || q))
			|| CASE WHEN more THEN jsonb_build_array(jsonb_build_object('relation', 'next',
					'url', prefix || 'Task/' || id || '/_history?' || q || '&_before=' || last_vid)) ELSE '[]' END,
		'entry', bundle);
END
$$;


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
