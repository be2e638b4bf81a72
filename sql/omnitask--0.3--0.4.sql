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
