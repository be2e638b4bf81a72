-- The PL/pgSQL baseline: "the thing omnitask replaces".
--
-- The same checks a competent DBA would write as a PL/pgSQL trigger on a
-- table with the same columns and indexes as omnitask.task: required
-- elements, codes in their value sets, date formats (regex + cast), inv-1,
-- the status transition table, the owner rule, the server-owned elements,
-- the derived columns, the history append and the NOTIFY.  What it does NOT
-- do and omnitask does: the walk over every element of the Task against the
-- R4 definitions (types, cardinality, unknown keys, every nested datatype and
-- binding), FHIR paths in errors, an OperationOutcome per issue with
-- expression paths, the compiled-per-backend workflow and identity caches.
-- So every ratio against it flatters the baseline.
--
-- Installs into schema bench_plpgsql (needs the omnitask extension for its
-- enum types).  psql -f test/bench/plpgsql_baseline.sql

\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_plpgsql CASCADE;
CREATE SCHEMA bench_plpgsql;

-- same columns, defaults and indexes as omnitask.task (LIKE copies no triggers, no policies)
CREATE TABLE bench_plpgsql.task (LIKE omnitask.task INCLUDING ALL);
CREATE TABLE bench_plpgsql.task_history (LIKE omnitask.task_history INCLUDING ALL);
CREATE TABLE bench_plpgsql.practitioner (LIKE omnitask.practitioner INCLUDING ALL);

-- the workflow as a table of allowed (from, to) pairs
CREATE TABLE bench_plpgsql.transition (
	from_status	omnitask.task_status NOT NULL,
	to_status	omnitask.task_status NOT NULL,
	admin_only	boolean NOT NULL DEFAULT false,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO bench_plpgsql.transition (from_status, to_status)
VALUES ('draft', 'requested'), ('draft', 'ready'), ('draft', 'cancelled'),
	   ('requested', 'received'), ('requested', 'accepted'), ('requested', 'rejected'), ('requested', 'cancelled'),
	   ('received', 'accepted'), ('received', 'rejected'), ('received', 'cancelled'),
	   ('accepted', 'in-progress'), ('accepted', 'cancelled'),
	   ('ready', 'in-progress'), ('ready', 'cancelled'),
	   ('in-progress', 'on-hold'), ('in-progress', 'completed'), ('in-progress', 'failed'),
	   ('in-progress', 'cancelled'), ('in-progress', 'ready'),
	   ('on-hold', 'in-progress'), ('on-hold', 'cancelled');
INSERT INTO bench_plpgsql.transition (from_status, to_status, admin_only)
SELECT s, 'entered-in-error', true FROM unnest(enum_range(NULL::omnitask.task_status)) AS s
WHERE s <> 'entered-in-error';

-- FHIR dateTime / instant: the regex of the spec, then a cast for the calendar
-- (only for days 29-31, the only ones the regex lets through invalid, so the
-- common case needs no subtransaction)
CREATE FUNCTION bench_plpgsql.is_calendar_date(v text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS
$$
BEGIN
	PERFORM left(v, 10)::date;		-- 2023-02-30 passes the regex, not the cast
	RETURN true;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
	RETURN false;
END
$$;

CREATE FUNCTION bench_plpgsql.is_datetime(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS
$$
	SELECT v ~ '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$'
		AND (length(v) < 10 OR substr(v, 9, 2) <= '28' OR bench_plpgsql.is_calendar_date(v))
$$;

-- the instant a FHIR dateTime starts (at_end false) or ends (at_end true) in UTC
CREATE FUNCTION bench_plpgsql.when_ts(v text, at_end boolean) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS
$$
	SELECT CASE
		WHEN v IS NULL THEN NULL
		WHEN length(v) = 4 THEN (v || '-01-01T00:00:00Z')::timestamptz + CASE WHEN at_end THEN interval '1 year' - interval '1 microsecond' ELSE interval '0' END
		WHEN length(v) = 7 THEN (v || '-01T00:00:00Z')::timestamptz + CASE WHEN at_end THEN interval '1 month' - interval '1 microsecond' ELSE interval '0' END
		WHEN length(v) = 10 THEN (v || 'T00:00:00Z')::timestamptz + CASE WHEN at_end THEN interval '1 day' - interval '1 microsecond' ELSE interval '0' END
		ELSE v::timestamptz END
$$;

-- FHIR $validate, the DBA's version: an OperationOutcome listing the problems
CREATE FUNCTION bench_plpgsql.validate_task(r jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$
DECLARE
	issues jsonb := '[]';
	p text;
	v text;
BEGIN
	IF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
		RETURN jsonb_build_object('resourceType', 'OperationOutcome', 'issue', jsonb_build_array(
			jsonb_build_object('severity', 'fatal', 'code', 'structure', 'diagnostics', 'a Task is a JSON object')));
	END IF;
	IF r->>'resourceType' IS DISTINCT FROM 'Task' THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'invalid', 'expression', jsonb_build_array('Task.resourceType'),
			'diagnostics', 'resourceType must be Task');
	END IF;
	-- required elements and their codes
	IF r->>'status' IS NULL THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'required', 'expression', jsonb_build_array('Task.status'),
			'diagnostics', 'Task.status is required');
	ELSIF r->>'status' NOT IN ('draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled',
							   'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error') THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'code-invalid', 'expression', jsonb_build_array('Task.status'),
			'diagnostics', format('%s is not a task-status code', r->>'status'));
	END IF;
	IF r->>'intent' IS NULL THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'required', 'expression', jsonb_build_array('Task.intent'),
			'diagnostics', 'Task.intent is required');
	ELSIF r->>'intent' NOT IN ('unknown', 'proposal', 'plan', 'order', 'original-order', 'reflex-order',
							   'filler-order', 'instance-order', 'option') THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'code-invalid', 'expression', jsonb_build_array('Task.intent'),
			'diagnostics', format('%s is not a task-intent code', r->>'intent'));
	END IF;
	IF r ? 'priority' AND r->>'priority' NOT IN ('routine', 'urgent', 'asap', 'stat') THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'code-invalid', 'expression', jsonb_build_array('Task.priority'),
			'diagnostics', format('%s is not a request-priority code', r->>'priority'));
	END IF;
	IF r ? 'description' AND jsonb_typeof(r->'description') <> 'string' THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'structure', 'expression', jsonb_build_array('Task.description'),
			'diagnostics', 'Task.description must be a string');
	END IF;
	IF r ? 'for' AND jsonb_typeof(r->'for') <> 'object' THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'structure', 'expression', jsonb_build_array('Task.for'),
			'diagnostics', 'Task.for must be a Reference');
	END IF;
	-- dates
	FOREACH p IN ARRAY ARRAY['authoredOn', 'lastModified', 'restriction,period,start', 'restriction,period,end',
							 'executionPeriod,start', 'executionPeriod,end'] LOOP
		v := r #>> string_to_array(p, ',');
		IF v IS NOT NULL AND NOT bench_plpgsql.is_datetime(v) THEN
			issues := issues || jsonb_build_object('severity', 'error', 'code', 'value',
				'expression', jsonb_build_array('Task.' || replace(p, ',', '.')),
				'diagnostics', format('%s is not a valid dateTime', v));
		END IF;
	END LOOP;
	-- inv-1: lastModified >= authoredOn
	IF jsonb_array_length(issues) = 0 AND r ? 'authoredOn' AND r ? 'lastModified'
	   AND bench_plpgsql.when_ts(r->>'lastModified', true) < bench_plpgsql.when_ts(r->>'authoredOn', false) THEN
		issues := issues || jsonb_build_object('severity', 'error', 'code', 'invariant', 'expression', jsonb_build_array('Task.lastModified'),
			'diagnostics', 'inv-1: Last modified date must be greater than or equal to authored-on date.');
	END IF;
	IF jsonb_array_length(issues) = 0 THEN
		issues := jsonb_build_array(jsonb_build_object('severity', 'information', 'code', 'informational',
			'diagnostics', 'All OK'));
	END IF;
	RETURN jsonb_build_object('resourceType', 'OperationOutcome', 'issue', issues);
END
$$;

-- BEFORE INSERT OR UPDATE: validate, profile, identity, owner rule, workflow, normalize, derive
CREATE FUNCTION bench_plpgsql.task_before() RETURNS trigger
LANGUAGE plpgsql AS
$$
DECLARE
	oo jsonb;
	is_admin boolean;
	prac text;
	owner text;
	patient text;
	ts timestamptz := now();
	ts_text text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
	new_status omnitask.task_status;
	rule record;
	r jsonb := NEW.resource;
BEGIN
	oo := bench_plpgsql.validate_task(r);
	IF oo @? '$.issue[*] ? (@.severity == "error" || @.severity == "fatal")' THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: ' || (oo #>> '{issue,0,diagnostics}'),
			DETAIL = oo::text;
	END IF;
	-- the omnitask profile
	IF r->>'description' IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: Task.description is required';
	END IF;
	patient := substring(r #>> '{for,reference}' FROM '^Patient/([A-Za-z0-9.-]{1,64})$');
	IF patient IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: Task.for must reference a Patient';
	END IF;
	IF r ? 'owner' THEN
		owner := substring(r #>> '{owner,reference}' FROM '^Practitioner/([A-Za-z0-9.-]{1,64})$');
		IF owner IS NULL THEN
			RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: Task.owner must reference a Practitioner';
		END IF;
	END IF;
	IF bench_plpgsql.when_ts(r->>'authoredOn', false) > ts THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: authoredOn is in the future (inv-1)';
	END IF;

	-- who is calling
	SELECT rolsuper OR pg_has_role(current_user, 'omnitask_admin', 'MEMBER') INTO is_admin
		FROM pg_roles WHERE rolname = current_user;
	SELECT p.id INTO prac FROM bench_plpgsql.practitioner p WHERE p.role_name = current_user AND p.active;
	IF NOT is_admin AND prac IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = 'permission denied to write tasks';
	END IF;

	new_status := (r->>'status')::omnitask.task_status;
	IF TG_OP = 'INSERT' THEN
		IF new_status NOT IN ('draft', 'requested', 'ready') THEN
			RAISE EXCEPTION USING ERRCODE = 'PT409', MESSAGE = format('a task cannot be created in status %s', new_status);
		END IF;
		IF NOT is_admin THEN
			IF owner IS NULL THEN
				owner := prac;
				r := r || jsonb_build_object('owner', jsonb_build_object('reference', 'Practitioner/' || prac));
			ELSIF owner <> prac THEN
				RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = 'practitioners create tasks only for themselves';
			END IF;
		END IF;
		NEW.id := gen_random_uuid()::text;
		NEW.version_id := 1;
	ELSE
		IF NEW.id IS DISTINCT FROM OLD.id THEN
			RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: Task.id: the id of a task cannot be changed';
		END IF;
		IF r->'intent' IS DISTINCT FROM OLD.resource->'intent' OR r->'authoredOn' IS DISTINCT FROM OLD.resource->'authoredOn'
		   OR r->'for' IS DISTINCT FROM OLD.resource->'for' OR r->'requester' IS DISTINCT FROM OLD.resource->'requester' THEN
			RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: intent, authoredOn, for and requester cannot change';
		END IF;
		IF owner IS DISTINCT FROM OLD.owner_id AND NOT is_admin THEN
			RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = 'practitioners cannot reassign tasks';
		END IF;
		IF new_status <> OLD.status THEN
			SELECT * INTO rule FROM bench_plpgsql.transition t WHERE t.from_status = OLD.status AND t.to_status = new_status;
			IF NOT FOUND OR (rule.admin_only AND NOT is_admin)
			   OR (NOT is_admin AND OLD.owner_id IS DISTINCT FROM prac) THEN
				RAISE EXCEPTION USING ERRCODE = 'PT409',
					MESSAGE = format('cannot change Task.status from %s to %s', OLD.status, new_status);
			END IF;
		END IF;
		NEW.version_id := OLD.version_id + 1;
	END IF;
	IF owner IS NOT NULL AND (TG_OP = 'INSERT' OR owner IS DISTINCT FROM OLD.owner_id)
	   AND NOT EXISTS (SELECT FROM bench_plpgsql.practitioner p WHERE p.id = owner AND p.active) THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('invalid FHIR Task: Task.owner: Practitioner/%s is not a registered active practitioner', owner);
	END IF;
	IF new_status IN ('rejected', 'cancelled', 'failed', 'entered-in-error')
	   AND (TG_OP = 'INSERT' OR new_status <> OLD.status) AND NOT r ? 'statusReason' THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'invalid FHIR Task: Task.statusReason: a reason is required';
	END IF;

	-- server-owned elements and the derived columns
	NEW.resource := r || jsonb_build_object('id', NEW.id,
		'meta', coalesce(r->'meta', '{}') || jsonb_build_object('versionId', NEW.version_id::text, 'lastUpdated', ts_text),
		'lastModified', ts_text);
	NEW.last_updated := ts;
	NEW.status := new_status;
	NEW.intent := (r->>'intent')::omnitask.task_intent;
	NEW.priority := coalesce(r->>'priority', 'routine')::omnitask.task_priority;
	NEW.owner_id := owner;
	NEW.patient_id := patient;
	NEW.requester := r #>> '{requester,reference}';
	NEW.code := r #>> '{code,coding,0,code}';
	NEW.description := r->>'description';
	NEW.authored_on := coalesce(bench_plpgsql.when_ts(r->>'authoredOn', false), ts);
	NEW.last_modified := ts;
	NEW.due_at := coalesce(bench_plpgsql.when_ts(r #>> '{restriction,period,end}', true),
						   bench_plpgsql.when_ts(r #>> '{executionPeriod,end}', true));
	SELECT c.search_tokens, c.business_status INTO NEW.search_tokens, NEW.business_status
	FROM omnitask.task_search_columns(NEW.resource) c;
	RETURN NEW;
END
$$;

-- AFTER INSERT OR UPDATE: history (with the owner's rights) and NOTIFY
CREATE FUNCTION bench_plpgsql.task_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS
$$
BEGIN
	INSERT INTO bench_plpgsql.task_history (id, version_id, operation, status, owner_id, resource, recorded_at, recorded_by, practitioner_id)
	VALUES (NEW.id, NEW.version_id, CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END, NEW.status, NEW.owner_id,
			NEW.resource, NEW.last_updated, session_user,
			(SELECT p.id FROM bench_plpgsql.practitioner p WHERE p.role_name = session_user));
	PERFORM pg_notify('omnitask_task', json_build_object('id', NEW.id, 'version', NEW.version_id,
		'status', NEW.status, 'owner', NEW.owner_id)::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER task_before BEFORE INSERT OR UPDATE ON bench_plpgsql.task
	FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.task_before();
CREATE TRIGGER task_after AFTER INSERT OR UPDATE ON bench_plpgsql.task
	FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.task_after();

-- the same API functions as omnitask's, on this table
CREATE FUNCTION bench_plpgsql.create_task(resource jsonb) RETURNS jsonb
LANGUAGE sql STRICT AS
$$
	INSERT INTO bench_plpgsql.task (resource) VALUES (resource) RETURNING task.resource;
$$;

CREATE FUNCTION bench_plpgsql.set_task_status(id text, status text, reason text DEFAULT NULL, if_match integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql AS
$$
DECLARE
	current_resource jsonb;
	current_version integer;
	stored jsonb;
BEGIN
	SELECT t.resource, t.version_id INTO current_resource, current_version
		FROM bench_plpgsql.task t WHERE t.id = set_task_status.id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'PT404', MESSAGE = format('Task/%s not found', set_task_status.id);
	END IF;
	IF if_match IS NOT NULL AND if_match <> current_version THEN
		RAISE EXCEPTION USING ERRCODE = 'PT412', MESSAGE = format('Task/%s is at version %s', set_task_status.id, current_version);
	END IF;
	UPDATE bench_plpgsql.task t
		SET resource = (current_resource - 'statusReason')
			|| jsonb_build_object('status', set_task_status.status)
			|| CASE WHEN reason IS NULL THEN '{}'::jsonb
					ELSE jsonb_build_object('statusReason', jsonb_build_object('text', reason)) END
		WHERE t.id = set_task_status.id
		RETURNING t.resource INTO stored;
	RETURN stored;
END
$$;
