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
