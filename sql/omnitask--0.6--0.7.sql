/*
 * omnitask 0.6 -> 0.7: search (the first page of the searches still over
 * 2 ms at a million tasks: tokens of 0.1-5% of the tasks and a day's dates)
 * and the write path.  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3,
 * 0.3--0.4, 0.4--0.5, 0.5--0.6, then this script; ALTER EXTENSION omnitask
 * UPDATE runs the same steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.7'" to load this file. \quit


/* ======================================================================
 * Search: tokens in the page's order (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Search: dates (issue 17)
 * ====================================================================== */


/* ======================================================================
 * Write path (issue 19)
 * ====================================================================== */
