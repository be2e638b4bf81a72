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

/*
 * The access log.  Appended by the audit writer (a background worker, as
 * superuser) or by audit_purge(); no role is granted INSERT, UPDATE, DELETE
 * or TRUNCATE, and a trigger refuses UPDATE, DELETE and TRUNCATE to every
 * role but a superuser able to disable it.  Admins and auditors read it.
 */
CREATE TABLE omnitask.audit_log (
	event_id		bigint GENERATED ALWAYS AS IDENTITY,
	recorded_at		timestamptz NOT NULL,
	written_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	action			text NOT NULL,
	outcome			text NOT NULL,
	login_role		name,
	session_role	name,
	acting_role		name,
	practitioner_id	text,
	claims			text,
	request_id		text,
	client_addr		text,
	application_name text,
	backend_pid		integer,
	query			text,
	relations		text[],
	row_count		bigint NOT NULL,
	task_ids		text[] NOT NULL,
	patient_ids		text[] NOT NULL
);
COMMENT ON TABLE omnitask.audit_log IS 'Read audit: one row per read of tasks (read_task, search_tasks, task_history, audit_read, and statements reading omnitask.task or task_history directly or through the views), written by the omnitask audit writer when omnitask.audit is table or both. Append-only; admins and auditors read it.';
COMMENT ON COLUMN omnitask.audit_log.event_id IS 'Order of insertion (unique: an identity; no index, see audit_log_recorded_idx).';
COMMENT ON COLUMN omnitask.audit_log.recorded_at IS 'When the read happened (before it returned).';
COMMENT ON COLUMN omnitask.audit_log.written_at IS 'When the audit writer inserted the row.';
COMMENT ON COLUMN omnitask.audit_log.action IS 'read, vread, search, history, changes, report (a reporting view), direct (a statement on omnitask.task or task_history), export, or purge.';
COMMENT ON COLUMN omnitask.audit_log.outcome IS 'ok, or not-found (PT404: the id does not exist or is not visible).';
COMMENT ON COLUMN omnitask.audit_log.login_role IS 'The role that logged in (for PostgREST: the authenticator).';
COMMENT ON COLUMN omnitask.audit_log.session_role IS 'session_user at the read.';
COMMENT ON COLUMN omnitask.audit_log.acting_role IS 'current_user at the read.';
COMMENT ON COLUMN omnitask.audit_log.practitioner_id IS 'The caller''s practitioner id as omnitask resolved it (registry or trusted JWT claim), or NULL.';
COMMENT ON COLUMN omnitask.audit_log.claims IS 'request.jwt.claims when set (first 2000 bytes).';
COMMENT ON COLUMN omnitask.audit_log.request_id IS 'x-request-id of request.headers (set by PostgREST), when present.';
COMMENT ON COLUMN omnitask.audit_log.client_addr IS 'The client''s IP address; NULL over a Unix-domain socket.';
COMMENT ON COLUMN omnitask.audit_log.query IS 'The read''s parameters (id=..., the search query string) or, for report/direct, the statement text (first 4000 bytes).';
COMMENT ON COLUMN omnitask.audit_log.relations IS 'report/direct: the omnitask tables and views the statement read.';
COMMENT ON COLUMN omnitask.audit_log.row_count IS 'Resources or rows returned.';
COMMENT ON COLUMN omnitask.audit_log.task_ids IS 'Ids of the tasks returned (at most 1000; for report/direct, from a text result column named id).';
COMMENT ON COLUMN omnitask.audit_log.patient_ids IS 'Ids of the patients of the tasks returned, each once (for report/direct, from a text result column named patient_id).';
-- BRIN only: the writer inserts in time order, and every btree or GIN index
-- costs it CPU per read on a busy server; add one for frequent lookups
CREATE INDEX audit_log_recorded_idx ON omnitask.audit_log USING brin (recorded_at, event_id);
SELECT pg_catalog.pg_extension_config_dump('omnitask.audit_log', '');

ALTER TABLE omnitask.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE omnitask.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_admin_select ON omnitask.audit_log FOR SELECT TO omnitask_admin USING (true);
CREATE POLICY audit_auditor_select ON omnitask.audit_log FOR SELECT TO omnitask_auditor USING (true);

CREATE FUNCTION omnitask.audit_log_guard() RETURNS trigger
	LANGUAGE c PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_audit_log_guard';
COMMENT ON FUNCTION omnitask.audit_log_guard() IS 'Statement trigger that keeps omnitask.audit_log append-only (only audit_purge() deletes).';
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON omnitask.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION omnitask.audit_log_guard();

-- the writer's insert: one call per batch, the JSON records as audit.c
-- builds them.  json (validated, not converted) and json_populate_recordset
-- parse each record once: about half the CPU of going through jsonb.
CREATE TYPE omnitask.audit_record AS (
	ts bigint, action text, outcome text, login_role name, session_role name,
	"current_role" name, practitioner text, claims text, request_id text, client_addr text,
	application text, pid integer, query text, relations text, "rows" bigint,
	task_ids text[], patient_ids text[]);
COMMENT ON TYPE omnitask.audit_record IS 'Internal: one read audit record as the reading backend serialises it (JSON keys), for audit_append().';
CREATE FUNCTION omnitask.audit_append(records json) RETURNS void
	LANGUAGE sql VOLATILE PARALLEL UNSAFE AS
$$
	INSERT INTO omnitask.audit_log (recorded_at, action, outcome, login_role, session_role,
		acting_role, practitioner_id, claims, request_id, client_addr, application_name,
		backend_pid, query, relations, row_count, task_ids, patient_ids)
	SELECT pg_catalog.to_timestamp(946684800 + r.ts::numeric / 1000000),
		   r.action, r.outcome, r.login_role, r.session_role, r."current_role", r.practitioner,
		   r.claims, r.request_id, r.client_addr, r.application, r.pid, r.query,
		   pg_catalog.string_to_array(r.relations, ','), r."rows", r.task_ids, r.patient_ids
	FROM pg_catalog.json_populate_recordset(NULL::omnitask.audit_record, records) AS r
$$;
COMMENT ON FUNCTION omnitask.audit_append(json) IS 'Internal: the audit writer''s insert of a batch of queued records. Executable by no role.';

/*
 * The audited reads.  read_task and task_history are C now (same contract,
 * same errors): each records one event with the task and patient ids.
 * PARALLEL RESTRICTED: the record carries the session's identity and
 * client address, which only the leader has.
 */
CREATE OR REPLACE FUNCTION omnitask.read_task(id text) RETURNS jsonb
	LANGUAGE c STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_read_task';
COMMENT ON FUNCTION omnitask.read_task(text) IS 'The current version of a task (FHIR read); PT404 when it does not exist or is not visible to the caller. Recorded by the read audit (action read).';
CREATE OR REPLACE FUNCTION omnitask.task_history(id text) RETURNS jsonb
	LANGUAGE c STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_task_history';
COMMENT ON FUNCTION omnitask.task_history(text) IS 'Every stored version of a task as a FHIR history Bundle, newest first; PT404 when the task does not exist or is not visible. Recorded by the read audit (action history).';
ALTER FUNCTION omnitask.search_tasks(text, text, text, text, integer, integer, text) PARALLEL RESTRICTED;

CREATE FUNCTION omnitask.audit_read(action text, task_ids text[] DEFAULT NULL,
									patient_ids text[] DEFAULT NULL, query text DEFAULT NULL)
	RETURNS void
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_audit_read';
COMMENT ON FUNCTION omnitask.audit_read(text, text[], text[], text) IS 'Records one read made outside omnitask''s own functions (e.g. the FHIR HTTP layer) with the caller''s identity, as omnitask.audit says: action read, vread, search, history, changes, report or export (22023 otherwise); the task and patient ids returned; the query parameters. Works in read-only transactions.';

CREATE FUNCTION omnitask.audit_stats(OUT preloaded boolean, OUT queued bigint, OUT written bigint,
	OUT logged_not_preloaded bigint, OUT logged_standby bigint, OUT logged_no_queue bigint,
	OUT logged_queue_full bigint, OUT logged_too_large bigint, OUT logged_postmaster_gone bigint,
	OUT logged_from_queue bigint, OUT failed_batches bigint, OUT pending_bytes bigint)
	LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'omnitask_audit_stats';
COMMENT ON FUNCTION omnitask.audit_stats() IS 'The read audit''s queue since server start: records queued and written to audit_log; records written to the server log instead, by reason (standby, no queue free, queue full for 200 ms, too large, postmaster gone); records logged from the queue (crash, stop, failed insert); bytes still queued. NULLs when omnitask is not preloaded.';

-- admins delete only through audit_purge(): the trigger refuses any other DELETE
CREATE POLICY audit_admin_purge ON omnitask.audit_log FOR DELETE TO omnitask_admin USING (true);
CREATE FUNCTION omnitask.audit_purge(older_than timestamptz) RETURNS bigint
	LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'omnitask_audit_purge';
COMMENT ON FUNCTION omnitask.audit_purge(timestamptz) IS 'Admin only: deletes the audit records older than older_than (at least a day ago; 22023 otherwise) and records the purge (who, cut-off, how many) as an audit event, in the server log and in audit_log, whatever omnitask.audit says.';

/*
 * The log as FHIR R4 AuditEvent resources (IHE BALP-style): type rest,
 * subtype the FHIR interaction, the caller as agent, each Task and Patient
 * returned as an entity, the query and the request id as entities.
 */
CREATE VIEW omnitask.audit_events WITH (security_invoker = true) AS
	SELECT a.event_id, a.recorded_at, a.task_ids, a.patient_ids,
		pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
			'resourceType', 'AuditEvent',
			'id', a.event_id::text,
			'type', pg_catalog.jsonb_build_object(
				'system', 'http://terminology.hl7.org/CodeSystem/audit-event-type',
				'code', 'rest', 'display', 'RESTful Operation'),
			'subtype', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'system', 'http://hl7.org/fhir/restful-interaction',
				'code', CASE a.action WHEN 'read' THEN 'read' WHEN 'vread' THEN 'vread'
					WHEN 'history' THEN 'history-instance' WHEN 'purge' THEN 'delete'
					ELSE 'search-type' END)),
			'action', CASE WHEN a.action IN ('read', 'vread', 'history') THEN 'R'
				WHEN a.action = 'purge' THEN 'D' ELSE 'E' END,
			'recorded', pg_catalog.to_char(a.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			'outcome', CASE a.outcome WHEN 'ok' THEN '0' ELSE '4' END,
			'outcomeDesc', CASE WHEN a.outcome <> 'ok' THEN a.outcome END,
			'agent', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'type', pg_catalog.jsonb_build_object('coding', pg_catalog.jsonb_build_array(
					pg_catalog.jsonb_build_object(
						'system', 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
						'code', 'IRCP', 'display', 'information recipient'))),
				'who', CASE WHEN a.practitioner_id IS NOT NULL
					THEN pg_catalog.jsonb_build_object('reference', 'Practitioner/' || a.practitioner_id)
					ELSE pg_catalog.jsonb_build_object('display', a.acting_role::text) END,
				'altId', a.login_role::text,
				'name', a.session_role::text,
				'requestor', true,
				'network', CASE WHEN a.client_addr IS NOT NULL
					THEN pg_catalog.jsonb_build_object('address', a.client_addr, 'type', '2') END)),
			'source', pg_catalog.jsonb_build_object(
				'observer', pg_catalog.jsonb_build_object('display', 'omnitask'),
				'type', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
					'system', 'http://terminology.hl7.org/CodeSystem/security-source-type',
					'code', '4', 'display', 'Application Server'))),
			'entity', (SELECT pg_catalog.jsonb_agg(x.e ORDER BY x.k, x.n) FROM (
				SELECT 1 AS k, t.n, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('reference', 'Task/' || t.v),
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '4', 'display', 'Domain Resource')) AS e
					FROM pg_catalog.unnest(a.task_ids) WITH ORDINALITY AS t(v, n)
				UNION ALL
				SELECT 2, p.n, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('reference', 'Patient/' || p.v),
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '1', 'display', 'Person'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '1', 'display', 'Patient'))
					FROM pg_catalog.unnest(a.patient_ids) WITH ORDINALITY AS p(v, n)
				UNION ALL
				SELECT 3, 1, pg_catalog.jsonb_build_object(
						'type', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'),
						'role', pg_catalog.jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '24', 'display', 'Query'),
						'query', pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(a.query, 'UTF8'), 'base64'), E'\n', ''))
					WHERE a.query IS NOT NULL
				UNION ALL
				SELECT 4, 1, pg_catalog.jsonb_build_object(
						'what', pg_catalog.jsonb_build_object('identifier', pg_catalog.jsonb_build_object('value', a.request_id)),
						'type', pg_catalog.jsonb_build_object('system', 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', 'code', 'XrequestId'))
					WHERE a.request_id IS NOT NULL) x))) AS resource
	FROM omnitask.audit_log a;
COMMENT ON VIEW omnitask.audit_events IS 'omnitask.audit_log as FHIR R4 AuditEvent resources (type rest; subtype read, vread, history-instance or search-type; the caller as agent; each Task and Patient returned, the query and the x-request-id as entities). Admins and auditors only.';

REVOKE ALL ON omnitask.audit_log, omnitask.audit_events FROM PUBLIC;
GRANT SELECT ON omnitask.audit_log, omnitask.audit_events TO omnitask_admin, omnitask_auditor;
GRANT DELETE ON omnitask.audit_log TO omnitask_admin;
REVOKE ALL ON FUNCTION omnitask.audit_log_guard(), omnitask.audit_append(json),
	omnitask.audit_read(text, text[], text[], text), omnitask.audit_stats(),
	omnitask.audit_purge(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omnitask.audit_read(text, text[], text[], text)
	TO omnitask_admin, omnitask_practitioner, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.audit_stats() TO omnitask_admin, omnitask_auditor;
GRANT EXECUTE ON FUNCTION omnitask.audit_purge(timestamptz) TO omnitask_admin;

-- (end of read audit)
