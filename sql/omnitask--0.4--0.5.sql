/*
 * omnitask 0.4 -> 0.5: FHIR over HTTP (the change feed's text form), search
 * (plan choice for common tokens), Citus (identity, notifications, ids-first
 * search, imports), and the write path (validation cost, import speed,
 * progress reporting).  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3,
 * 0.3--0.4, then this script; ALTER EXTENSION omnitask UPDATE runs the same
 * steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.5'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed
 * ====================================================================== */


/* ======================================================================
 * Search: common tokens and the 1M figures
 * ====================================================================== */


/* ======================================================================
 * Citus: identity and notifications
 * ====================================================================== */


/* ======================================================================
 * Citus: search, identifiers and imports
 * ====================================================================== */


/* ======================================================================
 * Write path: validation cost
 * ====================================================================== */


/* ======================================================================
 * Write path: imports and progress
 * ====================================================================== */

/*
 * The history's position column: feed_position(), its default, in C (one
 * scan of feed_shift) -- as SQL its body was parsed and planned again in
 * every statement that wrote a version, ~138k instructions per single-row
 * write on PostgreSQL 15.  Same value, rights and snapshot.
 */
CREATE OR REPLACE FUNCTION omnitask.feed_position() RETURNS xid8
	LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_feed_position';

/*
 * import_tasks() cuts NDJSON into its chunks with import_lines() (a scan
 * for the line ends in C) where it split the text with a regular
 * expression and grouped the lines again in SQL, and casts a chunk's
 * lines to jsonb[] in one expression: the same items, line numbers, order,
 * reports and progress, for less.
 */
CREATE FUNCTION omnitask.import_lines(source text, size integer)
	RETURNS TABLE (items integer[], lines text[])
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'omnitask_import_lines';
COMMENT ON FUNCTION omnitask.import_lines(text, integer) IS 'The non-blank lines of NDJSON text with their line numbers (from 1), size lines per row, in order: how import_tasks() reads FHIR Bulk Data.';
REVOKE ALL ON FUNCTION omnitask.import_lines(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.import_lines(text, integer) TO omnitask_admin;

CREATE OR REPLACE FUNCTION omnitask.import_tasks(source text)
	RETURNS TABLE (item integer, task_id text, code text, expression text, message text)
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	saved_name text := pg_catalog.current_setting('application_name');
	whole jsonb;
	doc jsonb;
	chunks refcursor;
	chunk_n integer[];
	chunk_t text[];
	stored boolean;
	k integer;
	done integer := 0;
	reported integer := 0;
	errors integer := 0;
	st text;
	msg text;
	det text;
BEGIN
	-- one JSON document (an array, a Bundle, one Task), else NDJSON
	IF pg_catalog.left(pg_catalog.ltrim(source, E' \t\r\n'), 1) = '[' THEN
		whole := source::jsonb;
	ELSE
		BEGIN
			whole := source::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			whole := NULL;
		END;
	END IF;
	-- the items 100 at a time, in input order (a function scan returns the
	-- rows of its function in the order the function gave them)
	IF whole IS NULL THEN
		OPEN chunks FOR SELECT l.items, l.lines FROM omnitask.import_lines(source, 100) AS l;
	ELSE
		OPEN chunks FOR
			SELECT pg_catalog.array_agg(e.n::integer ORDER BY e.n), pg_catalog.array_agg(e.v::text ORDER BY e.n)
			FROM pg_catalog.jsonb_array_elements(CASE
					WHEN pg_catalog.jsonb_typeof(whole) = 'array' THEN whole
					WHEN whole ->> 'resourceType' = 'Bundle'
						THEN pg_catalog.jsonb_path_query_array(whole, '$.entry[*].resource')
					ELSE pg_catalog.jsonb_build_array(whole)
				END) WITH ORDINALITY AS e(v, n)
			GROUP BY (e.n - 1) / 100
			ORDER BY (e.n - 1) / 100;
	END IF;
	LOOP
		FETCH chunks INTO chunk_n, chunk_t;
		EXIT WHEN NOT FOUND;
		-- the chunk in one statement; a chunk with a bad Task, one by one
		BEGIN
			PERFORM omnitask.import_batch(chunk_t::jsonb[]);
			stored := true;
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE;				-- not the Tasks' fault: nothing is imported
		WHEN OTHERS THEN
			stored := false;
		END;
		IF stored THEN
			done := done + pg_catalog.cardinality(chunk_t);
		ELSE
			FOR k IN 1 .. pg_catalog.cardinality(chunk_t) LOOP
				item := chunk_n[k];
				task_id := NULL;
				BEGIN
					doc := chunk_t[k]::jsonb;
					task_id := doc ->> 'id';
					PERFORM omnitask.import_task(doc);
				EXCEPTION WHEN insufficient_privilege THEN
					RAISE;
				WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
					errors := errors + 1;
					code := st;
					IF st = '23514' AND det LIKE '{%' THEN
						-- an invalid Task: every issue of its OperationOutcome
						FOR expression, message IN
							SELECT i -> 'expression' ->> 0, i ->> 'diagnostics'
							FROM pg_catalog.jsonb_array_elements(det::jsonb -> 'issue') AS i
							WHERE i ->> 'severity' IN ('error', 'fatal')
						LOOP
							RETURN NEXT;
						END LOOP;
					ELSE
						expression := NULL;
						message := msg;
						RETURN NEXT;
					END IF;
				END;
				done := done + 1;
			END LOOP;
		END IF;
		IF done / 1000 > reported / 1000 THEN
			reported := done;
			PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
		END IF;
	END LOOP;
	CLOSE chunks;
	PERFORM pg_catalog.set_config('application_name', omnitask.import_progress_text(done, errors, started), false);
	PERFORM pg_catalog.set_config('application_name', saved_name, false);
	RETURN;
END
$$;
