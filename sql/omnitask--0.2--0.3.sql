/*
 * omnitask 0.2 -> 0.3: hardening, validation conformance, PostgreSQL 15-18,
 * FHIR over HTTP and read audit.  CREATE EXTENSION runs 0.1, then 0.1--0.2,
 * then this script; ALTER EXTENSION omnitask UPDATE runs the same steps.
 * One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.3'" to load this file. \quit


/* ======================================================================
 * Hardening: side channels around row-level security, parallel labels
 * ====================================================================== */

-- (end of hardening)


/* ======================================================================
 * Validation conformance
 * ====================================================================== */

-- (end of validation conformance)


/* ======================================================================
 * PostgreSQL 15-18
 * ====================================================================== */

-- (end of PostgreSQL 15-18)


/* ======================================================================
 * FHIR over HTTP
 * ====================================================================== */

-- (end of FHIR over HTTP)


/* ======================================================================
 * Read audit
 * ====================================================================== */

-- (end of read audit)
