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
