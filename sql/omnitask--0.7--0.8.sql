/*
 * omnitask 0.7 -> 0.8: search (the first pages still over 2 ms at a million
 * tasks: date ranges across days, a code with a day, the practitioner's
 * plans) and the write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, ...,
 * 0.6--0.7, then this script; ALTER EXTENSION omnitask UPDATE runs the same
 * steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.8'" to load this file. \quit


/* ======================================================================
 * Search: date ranges in the page's order (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Search: codes, days and the practitioner's plans (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
