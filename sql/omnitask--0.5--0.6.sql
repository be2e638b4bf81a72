/*
 * omnitask 0.5 -> 0.6: FHIR over HTTP (the change feed's cost), search (plans
 * and indexes for the parameters still slow at a million tasks) and the write
 * path (validation cost, the history insert).  CREATE EXTENSION runs 0.1,
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


/* ======================================================================
 * Search: columns, dates and statuses (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Search: tokens and row-level security (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path: validation (issue 19)
 * ====================================================================== */


/* ======================================================================
 * Write path: history insert and durable timings (issue 19)
 * ====================================================================== */
