--
-- search: search_tasks() parameters, sorting, paging and the Bundle; the
-- reporting views.
--
SET client_min_messages = warning;
SET timezone = 'UTC';

\i test/fixtures/try.sql

-- one practitioner with a known set of tasks: every priority, several
-- statuses, two patients, due dates in the past, the future and none
INSERT INTO omnitask.practitioner (id, role_name, display) VALUES ('srch-p', 'srch_role', 'Dr. Search');
SELECT count(omnitask.import_task(jsonb_build_object(
	'resourceType', 'Task', 'id', 'srch-' || lpad(g::text, 2, '0'), 'intent', 'order',
	'status', (ARRAY['requested', 'accepted', 'in-progress', 'completed'])[1 + g % 4],
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat'])[1 + (g / 4) % 4],
	'description', 'search task ' || g,
	'for', jsonb_build_object('reference', 'Patient/srch-pat-' || g % 2),
	'owner', '{"reference": "Practitioner/srch-p"}'::jsonb,
	'authoredOn', '2026-01-' || lpad((1 + g)::text, 2, '0') || 'T08:00:00Z')
	|| CASE WHEN g % 3 = 0 THEN '{}'::jsonb
			ELSE jsonb_build_object('restriction', jsonb_build_object('period', jsonb_build_object('end',
				CASE WHEN g % 3 = 1 THEN '2020-02-' || lpad((1 + g)::text, 2, '0') || 'T12:00:00Z'
					 ELSE '2099-03-' || lpad((1 + g)::text, 2, '0') || 'T12:00:00Z' END))) END
	|| CASE WHEN g % 4 = 3 THEN '{"statusReason": {"text": "done"}}'::jsonb ELSE '{}'::jsonb END))
FROM generate_series(1, 16) g;

-- a compact view of a Bundle: total, links, and the ids of its entries
CREATE FUNCTION pg_temp.show(b jsonb) RETURNS text
LANGUAGE sql AS
$$
	SELECT 'total=' || (b ->> 'total') || ' entries=' || coalesce(jsonb_array_length(b -> 'entry'), 0)
		|| ' ids=' || coalesce((SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e), '-')
		|| ' self=' || (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'self')
		|| coalesce(' next=' || (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'next'), '')
$$;

--
-- the Bundle
--
SELECT b ->> 'resourceType' AS "resourceType", b ->> 'type' AS type, b ->> 'total' AS total,
	   b -> 'entry' -> 0 ->> 'fullUrl' AS first_full_url,
	   b -> 'entry' -> 0 -> 'search' AS search,
	   b -> 'entry' -> 0 -> 'resource' = omnitask.read_task(b -> 'entry' -> 0 -> 'resource' ->> 'id') AS resource_as_stored
FROM omnitask.search_tasks(owner => 'srch-p', _count => 1) b;
-- default order: most urgent first, then earliest due (none last), then oldest
SELECT pg_temp.show(omnitask.search_tasks(owner => 'Practitioner/srch-p', _count => 16));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => 'due', _count => 16));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => '-due,priority', _count => 16));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => 'authored-on', _count => 5));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => '-authored-on', _count => 5));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => 'status,-priority', _count => 16));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _sort => '-modified', _count => 3)) IS NOT NULL AS modified_sort;
-- filters: OR within a parameter, AND across parameters
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', status => 'requested'));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', status => 'requested,completed', priority => 'stat'));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', priority => 'asap,urgent', patient => 'Patient/srch-pat-1'));
SELECT pg_temp.show(omnitask.search_tasks(patient => 'srch-pat-0', status => 'in-progress'));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'nobody-here'));
-- paging: next links until the end
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _count => 6));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _count => 6, _offset => 6));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _count => 6, _offset => 12));
SELECT pg_temp.show(omnitask.search_tasks(owner => 'srch-p', _count => 6, _offset => 100));

--
-- every bad parameter is refused, naming it
--
SELECT p AS call, pg_temp.try('SELECT omnitask.search_tasks(' || p || ')') AS outcome
FROM unnest(ARRAY[
	$$owner => 'Patient/srch-p'$$, $$owner => 'Practitioner/'$$, $$owner => 'a b'$$,
	$$patient => 'Practitioner/x'$$, $$patient => 'Patient/x/_history/1'$$,
	$$status => 'done'$$, $$status => 'requested,'$$, $$status => ''$$, $$status => 'Requested'$$,
	$$priority => 'high'$$, $$priority => 'stat,,asap'$$,
	$$_count => 0$$, $$_count => 1001$$, $$_count => NULL$$, $$_offset => -1$$, $$_offset => NULL$$,
	$$_sort => 'colour'$$, $$_sort => '--priority'$$, $$_sort => 'priority,'$$, $$_sort => ' due'$$]) AS p;
SELECT pg_temp.try($$SELECT omnitask.search_tasks(_count => 1000)$$) AS count_1000;

--
-- reporting views
--
SELECT id, status, priority, due_at, is_open, is_overdue
FROM omnitask.tasks WHERE owner_id = 'srch-p' ORDER BY id LIMIT 6;
SELECT status, priority, n FROM omnitask.task_counts
WHERE (status, priority) IN (SELECT status, priority FROM omnitask.task WHERE owner_id = 'srch-p')
ORDER BY status, priority;
SELECT owner_id, display, open, overdue, stat, asap, urgent, routine FROM omnitask.workload WHERE owner_id = 'srch-p';
SELECT id, priority, due_at FROM omnitask.overdue_tasks WHERE owner_id = 'srch-p';
SELECT omnitask.set_task_status('srch-01', 'in-progress') ->> 'status' AS moved;
SELECT omnitask.set_task_status('srch-01', 'completed') ->> 'status' AS moved;
SELECT id, version_id, from_status, to_status, changed_by = current_user AS by_me
FROM omnitask.status_changes WHERE id = 'srch-01' ORDER BY version_id;
-- imported versions do not count (their timing is unknown): only srch-01's own moves do
SELECT priority, category, accepted, completed, complete_median IS NOT NULL AS has_median
FROM omnitask.turnaround WHERE category IS NULL AND priority = 'routine';

--
-- the FHIR query string: search_tasks_query(query, lenient)
--
-- a few more tasks: unassigned, with requesters, codes with and without a
-- system, plan intent, no priority, dates without a time and with zones
SELECT count(omnitask.import_task(t)) FROM unnest(ARRAY[
	'{"resourceType": "Task", "id": "srq-a", "status": "ready", "intent": "plan", "description": "a",
	  "for": {"reference": "Patient/srq-pat"}, "requester": {"reference": "Practitioner/srch-p"},
	  "code": {"coding": [{"system": "http://example.org/c", "code": "lab-follow-up"}]},
	  "authoredOn": "2026-03-01", "restriction": {"period": {"end": "2026-03-10"}}}',
	'{"resourceType": "Task", "id": "srq-b", "status": "ready", "intent": "order", "priority": "stat", "description": "b",
	  "for": {"reference": "Patient/srq-pat"}, "owner": {"reference": "Practitioner/srch-p"},
	  "requester": {"reference": "Organization/org-1"}, "code": {"coding": [{"code": "call"}]},
	  "authoredOn": "2026-03-01T23:30:00-02:00"}',
	'{"resourceType": "Task", "id": "srq-c", "status": "on-hold", "intent": "order", "priority": "routine", "description": "c",
	  "for": {"reference": "Patient/srq-pat"},
	  "code": {"coding": [{"system": "http://example.org/other", "code": "x"}, {"system": "http://example.org/c", "code": "call"}]},
	  "authoredOn": "2026-03-02T00:00:00Z", "executionPeriod": {"end": "2026-03-05T10:00:00+05:00"}}'
	]::jsonb[]) t;
-- every search below is limited to the tasks of this script's patients
-- _total=none leaves the total out
CREATE OR REPLACE FUNCTION pg_temp.show(b jsonb) RETURNS text
LANGUAGE sql AS
$$
	SELECT 'total=' || coalesce(b ->> 'total', 'none') || ' entries=' || coalesce(jsonb_array_length(b -> 'entry'), 0)
		|| ' ids=' || coalesce((SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e), '-')
		|| ' self=' || (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'self')
		|| coalesce(' next=' || (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'next'), '')
$$;
CREATE FUNCTION pg_temp.q(query text) RETURNS text
LANGUAGE sql AS
$$
	SELECT pg_temp.show(omnitask.search_tasks_query(query || '&subject=srq-pat,Patient/srch-pat-0,srch-pat-1'))
$$;
CREATE FUNCTION pg_temp.tryq(query text) RETURNS text
LANGUAGE sql AS
$$
	SELECT pg_temp.try(format('SELECT omnitask.search_tasks_query(%L)', query))
$$;
SELECT q AS query, pg_temp.q(q) AS bundle FROM unnest(ARRAY[
	-- tokens: code, system|code, system|, |code (no system), comma = OR, :not, :missing
	'status=ready', 'status=ready,on-hold&_sort=_id', 'status=http://hl7.org/fhir/task-status|ready',
	'status=http://example.org/other|ready', 'status=|ready', 'status=http://hl7.org/fhir/task-status|&_count=2',
	'status:not=completed,requested&_sort=_id', 'status:missing=false&_summary=count', 'status:missing=true',
	'intent=plan', 'intent:not=order', 'priority=stat&_sort=_id', 'priority:missing=true',
	'priority:not=routine,urgent,asap&_sort=_id',
	'_id=srq-a,srq-c,nonesuch', '_id:not=srq-a&_id:not=srq-b&_sort=-_id&_count=3',
	'code=call&_sort=_id', 'code=http://example.org/c|call', 'code=http://example.org/c|&_sort=_id',
	'code=|call', 'code=lab-follow-up,x&_sort=_id', 'code:not=call&_sort=_id&_count=3', 'code:missing=false&_sort=_id',
	-- references: Type/id, id, :missing; requester of any type
	'owner:missing=true&_sort=_id', 'owner:missing=false&_summary=count', 'owner=srch-p&status=ready',
	'patient=srq-pat&_sort=_id', 'subject=Patient/srq-pat&_id=srq-b',
	'requester=Practitioner/srch-p', 'requester=org-1', 'requester=srch-p,Organization/org-1&_sort=_id',
	'requester:missing=false&_sort=_id', 'requester:missing=true&_summary=count',
	-- repetition = AND
	'status=ready&status=on-hold', 'status=ready,on-hold&status=on-hold,completed',
	-- URL-decoding: %XX, + and an encoded comma inside a value
	'status=ready%2Con-hold&_sort=_id', '%73tatus=ready&_sort=%2D_id', 'owner=Practitioner%2Fsrch-p&_id=srq-b'
	]) AS q;
-- dates: the implicit range of the value's precision, every prefix, time zones
SELECT q AS query, pg_temp.q(q) AS bundle FROM unnest(ARRAY[
	-- srq-a authored 2026-03-01 (a date: 00:00Z), srq-b 2026-03-02T01:30Z, srq-c 2026-03-02T00:00Z
	'authored-on=2026-03-01&_sort=_id', 'authored-on=2026-03-02&_sort=_id', 'authored-on=2026-03&_sort=_id',
	'authored-on=2026&_summary=count', 'authored-on=eq2026-03-02T01:30:00Z', 'authored-on=2026-03-01T23:30:00-02:00',
	'authored-on=2026-03-02T01:30:00.000Z', 'authored-on=2026-03-02T01:30:00.001Z',
	'authored-on=2026-03-02T03:30:00%2B02:00', 'authored-on=2026-03-01T23:30:00.5-02:00',
	'authored-on=ne2026-03-02&_id=srq-a,srq-b,srq-c', 'authored-on=lt2026-03-02&_id=srq-a,srq-b,srq-c',
	'authored-on=le2026-03-02&_id=srq-a,srq-b,srq-c&_sort=_id', 'authored-on=gt2026-03-01&_id=srq-a,srq-b,srq-c&_sort=_id',
	'authored-on=ge2026-03-02T01:30:00Z&_id=srq-a,srq-b,srq-c', 'authored-on=sa2026-03-01&_id=srq-a,srq-b,srq-c&_sort=_id',
	'authored-on=eb2026-03-02T00:00:00Z&_id=srq-a,srq-b,srq-c', 'authored-on=lt2026-03-02T00:00:00Z,gt2026-03-02T01:00:00Z&_sort=_id',
	'authored-on=ge2026-03-01&authored-on=lt2026-03-02T01:00:00Z&_sort=_id',
	-- due-date: srq-a due 2026-03-10 (a date: due_at is its end, 2026-03-11T00:00Z),
	-- srq-c 2026-03-05T05:00Z
	'due-date=2026-03-10', 'due-date=2026-03-11', 'due-date=2026-03-11T00:00:00Z', 'due-date=le2026-03-10&_id=srq-a', 'due-date=2026-03-05T10:00:00%2B05:00',
	'due-date=lt2026-03-06&due-date=ge2026-03-01', 'due-date:missing=true&_id=srq-a,srq-b,srq-c',
	'due-date=lt2026-03-06&_sort=due-date', '_lastUpdated=gt2000-01-01&_summary=count',
	'modified=lt2000-01-01', 'modified:missing=true', 'authored-on:missing=true&_id=srq-a,srq-b,srq-c'
	]) AS q;
-- sorting by dates and tokens, _total, _summary=count, paging
SELECT q AS query, pg_temp.q(q) AS bundle FROM unnest(ARRAY[
	'_id=srq-a,srq-b,srq-c&_sort=authored-on', '_id=srq-a,srq-b,srq-c&_sort=-authored-on',
	'_id=srq-a,srq-b,srq-c&_sort=-due-date,_id', '_id=srq-a,srq-b,srq-c&_sort=intent,-_id',
	'_id=srq-a,srq-b,srq-c&_sort=status,_id', '_id=srq-a,srq-b,srq-c&_sort=-priority,_id',
	'patient=srq-pat&_total=none&_count=2&_sort=_id', 'patient=srq-pat&_total=none&_count=2&_offset=2&_sort=_id',
	'patient=srq-pat&_total=estimate&_count=1', 'patient=srq-pat&_total=accurate&_count=1',
	'patient=srq-pat&_summary=count', 'patient=srq-pat&_summary=false&_count=1'
	]) AS q;
SELECT omnitask.search_tasks_query('patient=srq-pat&_total=none') ? 'total' AS none_has_total,
	   omnitask.search_tasks_query('patient=srq-pat&_summary=count') ? 'entry' AS count_has_entries,
	   omnitask.search_tasks_query(NULL) ->> 'resourceType' AS null_query,
	   omnitask.search_tasks_query('?&&patient=srq-pat&') ->> 'total' AS empty_pairs;
-- unrecognized parameters: refused naming them all, or ignored (and left out
-- of the self link) when lenient
SELECT pg_temp.show(omnitask.search_tasks_query('patient=srq-pat&foo=1&_elements=id&_sort=_id', true));
-- every bad query is refused with 22023 (22021 for bytes that are not text),
-- naming the parameter
SELECT q AS query, pg_temp.tryq(q) AS outcome FROM unnest(ARRAY[
	'foo=1', 'foo=1&bar:not=2&status=ready', 'status:exact=ready', 'status:contains=r', 'owner:not=srch-p',
	'authored-on:not=2026', 'status:missing=maybe', 'status=', 'status=done', 'status=|', '_id=a b', '_id=a%20b',
	'owner=Patient/x', 'requester=/x', 'requester=Practitioner/', 'code=', 'code=|', 'code=%20a', 'authored-on=2026-03-02T03:30:00+02:00',
	'authored-on=2026-13', 'authored-on=ap2026', 'authored-on=2026-03-02T10:00:00', 'authored-on=xx2026',
	'due-date=2026-03-02T25:00:00Z', 'authored-on=eq', '_count=0', '_count=1001', '_count=ten', '_count=5&_count=6',
	'_offset=-1', '_total=some', '_summary=true', '_summary=data', '_sort=colour', '_sort=_id,-_id', '_sort=due,due-date',
	'status=ready%2', 'status=ready%zz', 'status=%FF', 'status=%00'
	]) AS q;
SELECT pg_temp.tryq(repeat('status=ready&', 2000)) AS too_long,
	   pg_temp.tryq('_lastUpdated=' || repeat('gt2026,', 40) || 'gt2026') AS too_many_values,
	   pg_temp.tryq('status=' || repeat('ready,', 200) || 'ready') AS long_list;
-- the HTTP layer: the proxy passes the query string as X-FHIR-Query, and
-- Prefer: handling=lenient ignores unrecognized parameters
SELECT set_config('request.headers', '{"x-fhir-query": "patient=srq-pat&_sort=_id&foo=1", "prefer": "handling=lenient"}', false) IS NOT NULL AS lenient;
SELECT pg_temp.show(fhir.task_search(status => 'completed')::jsonb);
SELECT set_config('request.headers', '{"x-fhir-query": "patient=srq-pat&_sort=_id&foo=1"}', false) IS NOT NULL AS strict;
SELECT b -> 'issue' -> 0 ->> 'code' AS code, b -> 'issue' -> 0 ->> 'diagnostics' AS diagnostics,
	   current_setting('response.status', true) AS status
FROM fhir.task_search() b;
SELECT set_config('request.headers', '', false) IS NOT NULL AS reset;
SELECT pg_temp.show(fhir.task_search(patient => 'srq-pat', _sort => '_id')::jsonb);
SELECT (SELECT string_agg(p ->> 'name' || ':' || (p ->> 'type'), ',') FROM jsonb_array_elements(omnitask.search_parameters()) p) AS params,
	   (SELECT p ->> 'documentation' FROM jsonb_array_elements(omnitask.search_parameters()) p WHERE p ->> 'name' = 'due-date') AS due_date;

--
-- parameters read from the resource: identifier, group-identifier,
-- business-status, performer (performerType), part-of, based-on, focus,
-- encounter
--
SELECT count(omnitask.import_task(t)) FROM unnest(ARRAY[
	'{"resourceType": "Task", "id": "srr-parent", "status": "in-progress", "intent": "order", "description": "parent",
	  "for": {"reference": "Patient/srr-pat"}, "identifier": [{"system": "urn:ord", "value": "A-1"}, {"value": "loose"}],
	  "groupIdentifier": {"system": "urn:grp", "value": "G-1"}, "basedOn": [{"reference": "ServiceRequest/sr-1"}],
	  "focus": {"reference": "ServiceRequest/sr-1"}, "encounter": {"reference": "Encounter/enc-1"},
	  "businessStatus": {"coding": [{"system": "urn:bs", "code": "waiting-for-lab"}]},
	  "performerType": [{"coding": [{"system": "http://snomed.info/sct", "code": "223366009"}]}]}',
	'{"resourceType": "Task", "id": "srr-child-1", "status": "requested", "intent": "order", "description": "child 1",
	  "for": {"reference": "Patient/srr-pat"}, "partOf": [{"reference": "Task/srr-parent"}],
	  "groupIdentifier": {"system": "urn:grp", "value": "G-1"}, "basedOn": [{"reference": "ServiceRequest/sr-2"}, {"reference": "CarePlan/cp-1"}],
	  "businessStatus": {"coding": [{"code": "scheduled"}]}}',
	'{"resourceType": "Task", "id": "srr-child-2", "status": "requested", "intent": "order", "description": "child 2",
	  "for": {"reference": "Patient/srr-pat"}, "partOf": [{"reference": "Task/srr-parent"}, {"reference": "Task/srr-child-1"}],
	  "identifier": [{"system": "urn:ord", "value": "A-2"}], "focus": {"reference": "Task/srr-child-1"},
	  "encounter": {"reference": "Encounter/enc-2"}}'
	]::jsonb[]) t;
SELECT q AS query, pg_temp.show(omnitask.search_tasks_query(q || '&patient=srr-pat&_sort=_id')) AS bundle FROM unnest(ARRAY[
	'identifier=A-1', 'identifier=urn:ord|A-2', 'identifier=urn:ord|', 'identifier=|loose', 'identifier=urn:other|A-1',
	'identifier=A-1,A-2', 'identifier:not=A-1', 'identifier:missing=true', 'identifier:missing=false',
	'group-identifier=urn:grp|G-1', 'group-identifier:missing=true',
	'business-status=waiting-for-lab', 'business-status=urn:bs|', 'business-status=|scheduled', 'business-status:not=scheduled',
	'performer=http://snomed.info/sct|223366009', 'performer:missing=false',
	'part-of=srr-parent', 'part-of=Task/srr-child-1', 'part-of=srr-parent&part-of=srr-child-1', 'part-of:missing=true',
	'based-on=ServiceRequest/sr-1,CarePlan/cp-1', 'based-on:missing=true',
	'focus=ServiceRequest/sr-1', 'focus=Task/srr-child-1', 'focus:missing=false',
	'encounter=enc-1', 'encounter=Encounter/enc-2', 'encounter:missing=true'
	]) AS q;
SELECT q AS query, pg_temp.tryq(q) AS outcome FROM unnest(ARRAY[
	'part-of=Patient/x', 'based-on=sr-1', 'focus=x', 'encounter=Task/x', 'part-of:not=x', 'identifier=',
	'identifier=|', 'business-status=a b  c', 'based-on=Service Request/x'
	]) AS q;
-- _revinclude=Task:part-of: the subtasks of the page's tasks (mode include);
-- :iterate follows every level (srr-grandchild is part of srr-child-1 only)
SELECT omnitask.import_task('{"resourceType": "Task", "id": "srr-grandchild", "status": "requested", "intent": "order",
	"description": "grandchild", "for": {"reference": "Patient/srr-pat2"}, "partOf": [{"reference": "Task/srr-child-1"}]}') ->> 'id' AS grandchild;
SELECT q AS query,
	   (SELECT string_agg((e -> 'resource' ->> 'id') || ':' || (e -> 'search' ->> 'mode'), ',')
		FROM jsonb_array_elements(b -> 'entry') e) AS entries,
	   b ->> 'total' AS total,
	   (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'self') AS self
FROM unnest(ARRAY['_id=srr-parent&_revinclude=Task:part-of', '_id=srr-parent&_revinclude:iterate=Task:part-of',
				  '_id=srr-child-1&_revinclude=Task:part-of', '_id=srr-child-2&_revinclude=Task:part-of',
				  '_id=srr-parent&_revinclude=Task:part-of&_summary=count']) AS q,
	 omnitask.search_tasks_query(q) AS b;
SELECT q AS query, pg_temp.tryq(q) AS outcome FROM unnest(ARRAY[
	'_revinclude=Task:based-on', '_revinclude=Task:*', '_revinclude:recurse=Task:part-of'
	]) AS q;

--
-- search_tokens: the derived column behind the parameters above (one GIN
-- index), business_status, and verify()'s check of both
--
SELECT search_tokens, business_status FROM omnitask.task WHERE id = 'srr-parent';
SELECT id, business_status FROM omnitask.tasks WHERE patient_id = 'srr-pat' ORDER BY id;
-- | and \ inside a system or a value are escaped in the token: "urn:a|b|c"
-- is system urn:a and value b|c, not system urn:a|b and value c; a value
-- longer than a token may be is kept as a hash and checked exactly
SELECT count(omnitask.import_task(jsonb_strip_nulls(jsonb_build_object('resourceType', 'Task', 'id', 'srt-' || n,
	'status', 'requested', 'intent', 'order', 'description', 'tokens ' || n, 'for', '{"reference": "Patient/srt-pat"}'::jsonb,
	'identifier', jsonb_build_array(i), 'businessStatus', b))))
FROM (VALUES (1, '{"system": "urn:a|b", "value": "c"}'::jsonb, '{"text": "Waiting", "coding": [{"code": "w", "display": "W"}]}'::jsonb),
			 (2, '{"system": "urn:a", "value": "b|c"}', '{"coding": [{"code": "w", "display": "W"}]}'),
			 (3, '{"value": "x\\y"}', '{"coding": [{"code": "w"}]}'),
			 (4, jsonb_build_object('system', 'urn:long', 'value', 'L' || repeat('o', 300)), NULL),
			 (5, jsonb_build_object('system', 'urn:long', 'value', 'L' || repeat('o', 299) || 'p'), NULL)) v(n, i, b);
SELECT id, business_status,
	   (SELECT array_agg(CASE WHEN length(k) > 40 THEN left(k, 30) || '...' ELSE regexp_replace(k, '#[0-9a-f]{16}$', '#<hash>') END)
		FROM unnest(search_tokens) k) AS search_tokens
FROM omnitask.task WHERE patient_id = 'srt-pat' ORDER BY id;
SELECT left(q, 40) AS query, b ->> 'total' AS total,
	   (SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e) AS ids
FROM unnest(ARRAY[
	'identifier=urn:a|b|c', 'identifier=urn:a|', 'identifier=c', 'identifier=b|c', 'identifier=|b|c',
	'identifier=x\y', 'identifier=|x\y', 'identifier=x',
	'identifier=urn:long|L' || repeat('o', 300), 'identifier=L' || repeat('o', 299) || 'p,c',
	'identifier=|L' || repeat('o', 300), 'identifier:not=L' || repeat('o', 300)
	]) AS q, omnitask.search_tasks_query(q || '&patient=srt-pat&_sort=_id') b;
-- verify() compares both columns with the resource
SET session_replication_role = replica;
UPDATE omnitask.task SET search_tokens = '{}' WHERE id = 'srt-1';
UPDATE omnitask.task SET business_status = 'Done' WHERE id = 'srt-2';
UPDATE omnitask.task SET search_tokens = search_tokens || '{focus}'::text[] WHERE id = 'srt-3';
RESET session_replication_role;
SELECT task_id, problem FROM omnitask.verify() WHERE task_id LIKE 'srt-%' ORDER BY task_id;
SET session_replication_role = replica;
UPDATE omnitask.task t SET (search_tokens, business_status) =
	(SELECT c.search_tokens, c.business_status FROM omnitask.task_search_columns(t.resource) c)
WHERE id LIKE 'srt-%';
RESET session_replication_role;
SELECT count(*) AS problems FROM omnitask.verify();
-- period (Task.executionPeriod, a range): eq the value contains the period,
-- ne it does not, lt it begins before the value, gt it ends after it, le/ge
-- lt/gt or eq, sa it starts after the value, eb it ends before it; an
-- absent start or end is open; a date without a time is that day in UTC
--
SELECT count(omnitask.import_task(jsonb_build_object('resourceType', 'Task', 'id', id, 'status', 'requested',
	'intent', 'order', 'description', 'period ' || id, 'for', '{"reference": "Patient/sper-pat"}'::jsonb) || p))
FROM (VALUES ('sper-a', '{"executionPeriod": {"start": "2026-03-01", "end": "2026-03-10"}}'::jsonb),
			 ('sper-b', '{"executionPeriod": {"start": "2026-03-05T10:00:00Z"}}'),
			 ('sper-c', '{"executionPeriod": {"end": "2026-02-20T12:00:00+02:00"}}'),
			 ('sper-d', '{"executionPeriod": {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T09:00:00.5Z"}}'),
			 ('sper-e', '{}')) v(id, p);
SELECT id, omnitask.task_period_start(resource) AS period_start, omnitask.task_period_end(resource) AS period_end
FROM omnitask.task WHERE id LIKE 'sper-%' ORDER BY id;
SELECT omnitask.task_period_start('{"executionPeriod": {"start": "2026-13-01"}}') IS NULL AS bad_start,
	   omnitask.task_period_end('{"executionPeriod": {"end": 5}}') IS NULL AS bad_end,
	   omnitask.task_period_end('[]') IS NULL AS not_an_object,
	   omnitask.task_period_start('{"executionPeriod": {"start": "2026"}}') AS year_start,
	   omnitask.task_period_end('{"executionPeriod": {"end": "2026-02"}}') AS month_end;
SELECT q AS query, pg_temp.show(omnitask.search_tasks_query(q || '&subject=sper-pat&_sort=_id')) AS bundle
FROM unnest(ARRAY[
	'period=2026-03', 'period=eq2026-03-02', 'period=ne2026-03', 'period=2026-03-02T08:00:00Z',
	'period=2026-03-02T08:00:00%2B00:00,2026-03-02', 'period=lt2026-03-01', 'period=lt2026-03-02',
	'period=gt2026-03-10', 'period=gt2026-03-09', 'period=sa2026-03-02', 'period=sa2026-03-04',
	'period=eb2026-03-02', 'period=eb2026-03-01', 'period=le2026-03-02', 'period=ge2026-03-05',
	'period=eb2026-02-20T12:00:00%2B02:00', 'period=eb2026-02-20T12:00:01%2B02:00',
	'period=ge2026-03-01&period=le2026-03-10', 'period:missing=true', 'period:missing=false']) AS q;
SELECT q AS query, pg_temp.tryq(q) AS outcome FROM unnest(ARRAY[
	'period=ap2026-03', 'period=2026-03-02T08:00', 'period=', 'period:not=2026', 'period:missing=maybe']) AS q;

--
-- the stage view: task_stages (one row per version: businessStatus, owner,
-- entered, left, time spent) and stage_time (per businessStatus and owner),
-- as the caller may see the history
--
CREATE ROLE stg_r1;
CREATE ROLE stg_r2;
GRANT omnitask_practitioner TO stg_r1, stg_r2;
SELECT omnitask.register_practitioner('stg_r1', 'stg-p1'), omnitask.register_practitioner('stg_r2', 'stg-p2');
SELECT omnitask.import_task('{"resourceType": "Task", "id": "stg-1", "status": "requested", "intent": "order",
	"description": "stages", "for": {"reference": "Patient/stg-pat"}, "owner": {"reference": "Practitioner/stg-p1"},
	"businessStatus": {"text": "triage"}}') ->> 'id' AS imported;
SELECT omnitask.update_task('stg-1', omnitask.read_task('stg-1')
	|| '{"businessStatus": {"coding": [{"system": "urn:bs", "code": "waiting-lab"}], "text": "waiting"}}') ->> 'id' AS v2;
SELECT omnitask.update_task('stg-1', omnitask.read_task('stg-1') || '{"owner": {"reference": "Practitioner/stg-p2"}}') ->> 'id' AS v3;
SELECT omnitask.update_task('stg-1', omnitask.read_task('stg-1')
	|| '{"owner": {"reference": "Practitioner/stg-p1"}, "businessStatus": {"coding": [{"code": "review"}]}}') ->> 'id' AS v4;
-- as admin: every version, each left when the next was stored
SELECT s.version_id, s.status, s.business_status, s.owner_id, s.entered_at = h.recorded_at AS entered_ok,
	   s.left_at IS NOT DISTINCT FROM (SELECT n.recorded_at FROM omnitask.task_history n WHERE n.id = s.id AND n.version_id = s.version_id + 1) AS left_ok,
	   s.time_spent = s.left_at - s.entered_at AS spent_ok, s.time_spent IS NOT NULL AS known, s.current
FROM omnitask.task_stages s JOIN omnitask.task_history h USING (id, version_id)
WHERE s.id = 'stg-1' ORDER BY s.version_id;
SELECT business_status, owner_id, tasks, now_in_stage, unknown,
	   total = CASE WHEN business_status = 'waiting-lab' AND owner_id = 'stg-p1'
					THEN (SELECT b.recorded_at - a.recorded_at FROM omnitask.task_history a JOIN omnitask.task_history b USING (id)
						  WHERE a.id = 'stg-1' AND a.version_id = 2 AND b.version_id = 3)
					ELSE total END AS total_ok,
	   median_per_version IS NOT NULL AS has_median
FROM omnitask.stage_time WHERE owner_id LIKE 'stg-%' ORDER BY business_status, owner_id;
-- as practitioners: only the versions they owned; a stay whose next version
-- they may not see has an unknown end (NULL), not a wrong one
SELECT pg_temp.try_as('stg_r1', $$CREATE TEMP TABLE stg_seen1 AS SELECT version_id, business_status, owner_id, left_at IS NOT NULL AS left_known, time_spent IS NOT NULL AS spent_known, current FROM omnitask.task_stages WHERE id = 'stg-1'$$) AS p1_reads;
SELECT * FROM stg_seen1 ORDER BY version_id;
SELECT pg_temp.try_as('stg_r2', $$CREATE TEMP TABLE stg_seen2 AS SELECT s.version_id, s.business_status, s.owner_id, s.left_at IS NOT NULL AS left_known, s.time_spent IS NOT NULL AS spent_known, s.current, t.tasks, t.unknown FROM omnitask.task_stages s, omnitask.stage_time t WHERE s.id = 'stg-1' AND t.owner_id IS NOT DISTINCT FROM s.owner_id AND t.business_status IS NOT DISTINCT FROM s.business_status$$) AS p2_reads;
SELECT * FROM stg_seen2 ORDER BY version_id;
SELECT pg_temp.try_as('stg_r1', $$CREATE TEMP TABLE stg_seen3 AS SELECT count(*) AS p2_stages_seen_by_p1 FROM omnitask.stage_time WHERE owner_id = 'stg-p2'$$) AS p1_reads;
SELECT * FROM stg_seen3;
DROP TABLE stg_seen1, stg_seen2, stg_seen3;
DELETE FROM omnitask.practitioner WHERE id LIKE 'stg-%';
DROP ROLE stg_r1, stg_r2;

--
-- _elements and _summary=true|text|data: each entry keeps the asked-for
-- top-level elements plus resourceType, id, meta, status and intent (the
-- mandatory ones) and a primitive's "_" twin, and is tagged SUBSETTED
--
SELECT omnitask.import_task('{"resourceType": "Task", "id": "sel-1", "status": "requested", "intent": "order",
	"_status": {"extension": [{"url": "http://example.org/why", "valueString": "new"}]},
	"meta": {"tag": [{"system": "urn:tags", "code": "t1"}]},
	"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">sel-1</div>"},
	"description": "elements", "for": {"reference": "Patient/sel-pat"}, "priority": "urgent",
	"authoredOn": "2026-03-01", "owner": {"reference": "Practitioner/srch-p"},
	"note": [{"text": "a note"}], "partOf": [{"reference": "Task/stg-1"}]}') ->> 'id' AS imported;
CREATE FUNCTION pg_temp.keys(query text) RETURNS TABLE (id text, keys text, tags text)
LANGUAGE sql AS
$$
	SELECT e -> 'resource' ->> 'id',
		   (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(e -> 'resource') k),
		   (SELECT string_agg(t ->> 'code', ',') FROM jsonb_array_elements(e -> 'resource' -> 'meta' -> 'tag') t)
	FROM jsonb_array_elements(omnitask.search_tasks_query(query) -> 'entry') e
$$;
SELECT q AS query, k.id, k.keys, k.tags
FROM unnest(ARRAY['_id=sel-1', '_id=sel-1&_summary=false', '_id=sel-1&_elements=note,owner',
				  '_id=sel-1&_elements=status', '_id=sel-1&_summary=true', '_id=sel-1&_summary=text',
				  '_id=sel-1&_summary=data', '_id=sel-1&_summary=false&_elements=owner',
				  '_id=stg-1&_elements=businessStatus&_revinclude=Task:part-of']) AS q,
	 pg_temp.keys(q) k;
-- the tag is the v3-ObservationValue code, and the kept elements are as stored
SELECT b -> 'entry' -> 0 -> 'resource' -> 'meta' -> 'tag' AS tags,
	   ((b -> 'entry' -> 0 -> 'resource' -> 'meta') - 'tag') = ((omnitask.read_task('sel-1') -> 'meta') - 'tag') AS meta_as_stored,
	   ((b -> 'entry' -> 0 -> 'resource') - 'meta') = (omnitask.read_task('sel-1') - 'meta' - 'text') AS data_as_stored,
	   (SELECT l ->> 'url' FROM jsonb_array_elements(b -> 'link') l WHERE l ->> 'relation' = 'self') AS self
FROM omnitask.search_tasks_query('_id=sel-1&_summary=data') b;
SELECT (b -> 'entry' -> 0 -> 'resource') = omnitask.read_task('sel-1') AS not_subsetted_by_default,
	   (SELECT l ->> 'url' FROM jsonb_array_elements(b2 -> 'link') l WHERE l ->> 'relation' = 'self') AS self,
	   b2 ->> 'total' AS total, b2 -> 'entry' IS NULL AS no_entries
FROM omnitask.search_tasks_query('_id=sel-1') b,
	 omnitask.search_tasks_query('_id=sel-1&_elements=owner,note&_summary=count') b2;
SELECT q AS query, pg_temp.tryq(q) AS outcome FROM unnest(ARRAY[
	'_elements=foo', '_elements=', '_elements=status,', '_elements=Task.status', '_elements=_status',
	'_elements=owner&_elements=note', '_elements=owner&_summary=true', '_summary=data&_elements=owner',
	'_summary=yes', '_summary=', '_elements:exclude=owner']) AS q;
SET regress.try_report = 'hint';
SELECT pg_temp.tryq('_elements=owner,foo') AS hint_lists_the_elements;
RESET regress.try_report;

-- 0.6 columns
--
-- the plans of column, date and status parameters at a million tasks
-- (issue 17): a status list in the default order is read per status and
-- merged; one owner, requester or patient is compared by equality; a
-- range of _lastUpdated, authored-on or modified is walked first, then
-- filtered by its index.  Each page equals the SQL's (the same order, ties
-- by id), from the first row and from an offset, and the next link is
-- there exactly when more rows match.  Test 150 shows the plans.
--
CREATE ROLE col_r;
GRANT omnitask_practitioner TO col_r;
SELECT omnitask.register_practitioner('col_r', 'col-p') IS NOT NULL AS registered;
SELECT omnitask.import_task(jsonb_strip_nulls(jsonb_build_object(
	'resourceType', 'Task', 'id', 'col-' || g, 'intent', 'order', 'description', 'column ' || g,
	'status', (ARRAY['requested', 'accepted', 'in-progress', 'ready', 'completed'])[1 + g % 5],
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat'])[1 + g % 4],
	'for', jsonb_build_object('reference', 'Patient/col-pat'),
	'owner', CASE WHEN g % 3 > 0 THEN jsonb_build_object('reference', 'Practitioner/col-p') END,
	'requester', jsonb_build_object('reference', 'Organization/col-org' || g % 2),
	'authoredOn', to_char(date '2026-05-01' + g % 7, 'YYYY-MM-DD'),
	'restriction', CASE WHEN g % 4 > 0 THEN jsonb_build_object('period', jsonb_build_object('end',
		to_char(date '2026-06-01' + g % 5, 'YYYY-MM-DD'))) END))) ->> 'id' IS NOT NULL AS imported
FROM generate_series(1, 40) g
GROUP BY 1;
-- the search's page and next link against the SQL's, from offset 0 and 3
CREATE FUNCTION pg_temp.same_page(query text, cond text, ord text DEFAULT
	't.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id') RETURNS text
LANGUAGE plpgsql AS
$$
DECLARE
	b jsonb;
	got text;
	want text;
	n bigint;
	result text := '';
	off int;
BEGIN
	EXECUTE format('SELECT count(*) FROM omnitask.task t WHERE %s', cond) INTO n;
	FOREACH off IN ARRAY ARRAY[0, 3] LOOP
		b := omnitask.search_tasks_query(format('%s&_total=none&_count=4&_offset=%s', query, off));
		SELECT string_agg(e -> 'resource' ->> 'id', ',') INTO got FROM jsonb_array_elements(b -> 'entry') e;
		EXECUTE format('SELECT string_agg(id, '','') FROM (SELECT t.id FROM omnitask.task t WHERE %s ORDER BY %s LIMIT 4 OFFSET %s) s',
					   cond, ord, off) INTO want;
		result := result || CASE WHEN got IS NOT DISTINCT FROM want
									  AND (b -> 'link' @> '[{"relation": "next"}]') = (n > off + 4)
								 THEN 'same' ELSE 'DIFFERENT: ' || coalesce(got, '') || ' / ' || coalesce(want, '') END
						 || CASE WHEN off = 0 THEN ', ' ELSE '' END;
	END LOOP;
	RETURN result || ' (' || least(n, 9) || CASE WHEN n > 9 THEN '+' ELSE '' END || ' match)';
END
$$;
SELECT q AS query, pg_temp.same_page(q, c) AS page FROM (VALUES
	('status=requested,accepted,in-progress', $$t.status IN ('requested', 'accepted', 'in-progress')$$),
	('status=ready', $$t.status = 'ready'$$),
	('status=http://hl7.org/fhir/task-status|', 'true'),
	('status=completed,requested&status=requested,ready', $$t.status = 'requested'$$),
	('status=requested,ready&requester=Organization/col-org1', $$t.status IN ('requested', 'ready') AND t.requester = 'Organization/col-org1'$$),
	('status=requested,ready&owner:missing=true', $$t.status IN ('requested', 'ready') AND t.owner_id IS NULL$$),
	('status=accepted,completed&code:not=nonesuch', $$t.status IN ('accepted', 'completed')$$),
	('status=requested,in-progress&authored-on=2026-05-03', $$t.status IN ('requested', 'in-progress') AND t.authored_on >= '2026-05-03Z' AND t.authored_on < '2026-05-04Z'$$),
	('owner=col-p', $$t.owner_id = 'col-p'$$),
	('owner=Practitioner/col-p,col-p', $$t.owner_id = 'col-p'$$),
	('owner:missing=true', 't.owner_id IS NULL'),
	('requester=Organization/col-org0', $$t.requester = 'Organization/col-org0'$$),
	('requester=col-org0', $$t.requester LIKE '%/col-org0'$$),
	('patient=col-pat&status=requested,accepted', $$t.patient_id = 'col-pat' AND t.status IN ('requested', 'accepted')$$),
	('authored-on=2026-05-02', $$t.authored_on >= '2026-05-02Z' AND t.authored_on < '2026-05-03Z'$$),
	('authored-on=ge2026-01-01', $$t.authored_on >= '2026-01-01Z'$$),
	('authored-on=ge2026-05-06&owner=col-p', $$t.authored_on >= '2026-05-06Z' AND t.owner_id = 'col-p'$$),
	('modified=ge2000-01-01', 'true'),
	('_lastUpdated=lt2000-01-01', 'false'),
	('_lastUpdated=ge2000-01-01&status=requested,ready', $$t.status IN ('requested', 'ready')$$)
) v(q, c);
-- the other orders: a status list without the default order, dates first
SELECT q AS query, pg_temp.same_page(q, c, o) AS page FROM (VALUES
	('status=requested,ready&_sort=_id', $$t.status IN ('requested', 'ready')$$, 't.id'),
	('status=requested,ready&_sort=-priority,due-date', $$t.status IN ('requested', 'ready')$$,
	 't.priority DESC, t.due_at ASC NULLS LAST, t.id'),
	('_lastUpdated=ge2000-01-01&_sort=_lastUpdated', 'true', 't.last_updated, t.id'),
	('_lastUpdated=ge2000-01-01&_sort=-_lastUpdated', 'true', 't.last_updated DESC, t.id'),
	('authored-on=2026-05-02&_sort=authored-on', $$t.authored_on >= '2026-05-02Z' AND t.authored_on < '2026-05-03Z'$$,
	 't.authored_on, t.id')
) v(q, c, o);
-- the same plans as a practitioner: only the tasks it owns
SELECT pg_temp.try_as('col_r', $$CREATE TEMP TABLE col_seen AS SELECT q, pg_temp.same_page(q || '&patient=col-pat', 't.patient_id = ''col-pat'' AND t.owner_id = ''col-p'' AND ' || c) AS page FROM (VALUES
	('status=requested,accepted,in-progress', $c$t.status IN ('requested', 'accepted', 'in-progress')$c$),
	('authored-on=2026-05-02', $c$t.authored_on >= '2026-05-02Z' AND t.authored_on < '2026-05-03Z'$c$),
	('owner:missing=true', 't.owner_id IS NULL')) v(q, c)$$) AS practitioner_reads;
SELECT * FROM col_seen ORDER BY q;
DROP TABLE col_seen;
DELETE FROM omnitask.practitioner WHERE id = 'col-p';
DROP ROLE col_r;

-- 0.6 columns (2)
--
-- status conditions under row-level security (issue 17): a search compares
-- a status with ~=~, a leakproof equality over enum_eq with a btree
-- operator class (task_status_ops), not with the enum's "=" (enum_eq, not
-- leakproof).  Under a policy the planner keeps a condition whose function
-- is not leakproof from the column's statistics and from the indexes
-- (it may not run before the policy); ~=~ is estimated and indexed alike
-- with and without row-level security.  The answers are the same.
--
-- ~=~ agrees with "=", and the class's order with the enum's, on every
-- pair of statuses and NULL
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE (a OPERATOR(omnitask.~=~) b) IS DISTINCT FROM (a = b)) AS eq_differs,
	   count(*) FILTER (WHERE (a OPERATOR(omnitask.~<~) b) IS DISTINCT FROM (a < b)
						   OR (a OPERATOR(omnitask.~<=~) b) IS DISTINCT FROM (a <= b)
						   OR (a OPERATOR(omnitask.~>=~) b) IS DISTINCT FROM (a >= b)
						   OR (a OPERATOR(omnitask.~>~) b) IS DISTINCT FROM (a > b)
						   OR sign(omnitask.task_status_cmp(a, b)) IS DISTINCT FROM
							  CASE WHEN a < b THEN -1 WHEN a = b THEN 0 WHEN a > b THEN 1 END) AS order_differs
FROM unnest(enum_range(NULL::omnitask.task_status) || NULL::omnitask.task_status) a,
	 unnest(enum_range(NULL::omnitask.task_status) || NULL::omnitask.task_status) b;
-- only the equality is leakproof
SELECT p.oid::regprocedure AS function, p.proleakproof AS leakproof
FROM pg_proc p
WHERE p.pronamespace = 'omnitask'::regnamespace AND p.proname LIKE 'task\_status\_%'
ORDER BY p.oid::regprocedure::text;
CREATE ROLE col2_adm IN ROLE omnitask_admin;
CREATE ROLE col2_r IN ROLE omnitask_practitioner;
SELECT omnitask.register_practitioner('col2_r', 'col-p') IS NOT NULL AS registered;
ANALYZE omnitask.task;
-- the first scan of a statement's plan as a role (FORMAT JSON: the same
-- keys on every server version): its index, index condition and filter
CREATE FUNCTION pg_temp.first_scan(who name, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	p jsonb;
BEGIN
	EXECUTE format('SET ROLE %I', who);
	EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || stmt INTO p;
	RESET ROLE;
	p := p -> 0 -> 'Plan';
	WHILE p ? 'Plans' AND NOT p ? 'Relation Name' LOOP
		p := p -> 'Plans' -> 0;
	END LOOP;
	RETURN concat_ws(' | ', p ->> 'Node Type', p ->> 'Index Name', 'cond: ' || (p ->> 'Index Cond'),
					 'filter: ' || (p ->> 'Filter'));
END
$$;
-- under the practitioner's policy, with no index of the owner (dropped in
-- this transaction) and no sequential scan: "status ~=~" is an index
-- condition of task_status_priority_idx ahead of the policy, which filters
-- (the function is leakproof); "status =" cannot be one (enum_eq is not),
-- so no index serves it
BEGIN;
DROP INDEX omnitask.task_owner_worklist_idx, omnitask.task_owner_status_idx;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_temp.first_scan('col2_r', $$SELECT t.id FROM omnitask.task t WHERE t.status OPERATOR(omnitask.~=~) 'ready'$$) AS leakproof_equality;
SELECT pg_temp.first_scan('col2_r', $$SELECT t.id FROM omnitask.task t WHERE t.status = 'ready'$$) LIKE '%task_status_priority_idx%' AS enum_eq_uses_the_index;
ROLLBACK;
-- the estimate of a status under row-level security (omnitask_admin, a
-- policy passing every row) is the one without it: from the statistics
CREATE FUNCTION pg_temp.estimate(who name, cond text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	p jsonb;
BEGIN
	IF who IS NOT NULL THEN
		EXECUTE format('SET ROLE %I', who);
	END IF;
	EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM omnitask.task t WHERE ' || cond INTO p;
	RESET ROLE;
	RETURN (p -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END
$$;
SELECT c AS condition, pg_temp.estimate('col2_adm', c) = pg_temp.estimate(NULL, c) AS estimated_alike
FROM (VALUES ($$t.status OPERATOR(omnitask.~=~) 'ready'$$),
			 ($$t.status OPERATOR(omnitask.~=~) ANY ('{requested,ready}')$$),
			 ($$t.status = 'ready'$$)) v(c);
-- the pages of status searches as admin and as the practitioner equal the
-- SQL's (which compares with "=")
SELECT pg_temp.try_as('col2_adm', $$CREATE TEMP TABLE col2_seen AS SELECT 'admin' AS who, q, pg_temp.same_page(q, c) AS page FROM (VALUES
	('status=requested,accepted,in-progress', $c$t.status IN ('requested', 'accepted', 'in-progress')$c$),
	('status:not=completed,cancelled', $c$t.status NOT IN ('completed', 'cancelled')$c$),
	('status=ready&owner:missing=true', $c$t.status = 'ready' AND t.owner_id IS NULL$c$),
	('owner:missing=true&status=requested,ready', $c$t.status IN ('requested', 'ready') AND t.owner_id IS NULL$c$),
	('status=ready,completed&owner=col-p', $c$t.status IN ('ready', 'completed') AND t.owner_id = 'col-p'$c$)) v(q, c)$$) AS admin_reads;
GRANT INSERT ON col2_seen TO col2_r;
SELECT pg_temp.try_as('col2_r', $$INSERT INTO col2_seen SELECT 'practitioner', q, pg_temp.same_page(q, 't.owner_id = ''col-p'' AND ' || c) AS page FROM (VALUES
	('status=requested,accepted,in-progress', $c$t.status IN ('requested', 'accepted', 'in-progress')$c$),
	('status:not=completed,cancelled', $c$t.status NOT IN ('completed', 'cancelled')$c$),
	('status=ready&owner:missing=true', 'false'),
	('status=ready,completed', $c$t.status IN ('ready', 'completed')$c$)) v(q, c)$$) AS practitioner_reads;
SELECT * FROM col2_seen ORDER BY who, q;
DROP TABLE col2_seen;
DELETE FROM omnitask.practitioner WHERE id = 'col-p';
DROP ROLE col2_adm, col2_r;
-- 0.7 dates
-- task_day: the day in UTC of an instant, whatever the session's time zone;
-- infinite instants give infinite dates; immutable and leakproof
CREATE TEMP TABLE day_v AS SELECT v FROM unnest(ARRAY['2026-07-13T23:59:59.999999Z', '2026-07-14T00:00:00Z',
	'2026-07-13T23:30:00-02:00', '2026-07-14T10:00:00+14:00', '1999-12-31T23:59:59.999999Z', '2000-01-01T00:00:00Z',
	'1969-12-31T23:59:59Z', '4714-11-24T00:00:00Z BC', '294276-12-31T23:59:59.999999Z', 'infinity', '-infinity']) v;
SET timezone = 'Pacific/Kiritimati';
CREATE TEMP TABLE day_east AS SELECT v, omnitask.task_day(v::timestamptz) AS day FROM day_v;
SET timezone = 'America/Adak';
SELECT v, day, day = omnitask.task_day(v::timestamptz) AS same_in_another_zone,
	day IS NOT DISTINCT FROM (v::timestamptz AT TIME ZONE 'UTC')::date AS the_utc_date
FROM day_east;
RESET timezone;
SELECT provolatile, proleakproof, proisstrict FROM pg_proc WHERE oid = 'omnitask.task_day(timestamptz)'::regprocedure;
-- one day of authored-on (the UTC day of a date without a time) is read
-- from task_authored_day_idx in the page's order: the same tasks as the
-- range, at the day's edges and across zones, as the superuser, an admin
-- and a practitioner (row-level security)
CREATE ROLE day_adm IN ROLE omnitask_admin;
CREATE ROLE day_r IN ROLE omnitask_practitioner;
SELECT omnitask.register_practitioner('day_r', 'day-p') IS NOT NULL AS registered;
SELECT count(omnitask.import_task(jsonb_strip_nulls(jsonb_build_object(
	'resourceType', 'Task', 'id', 'day-' || g, 'intent', 'order', 'status', 'ready', 'description', 'day ' || g,
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat'])[1 + g % 4],
	'for', jsonb_build_object('reference', 'Patient/day-pat'),
	'owner', CASE WHEN g % 2 = 0 THEN jsonb_build_object('reference', 'Practitioner/day-p') END,
	'authoredOn', (ARRAY['2026-07-13T23:59:59.999Z', '2026-07-14T00:00:00Z', '2026-07-13T23:30:00-02:00', '2026-07-14',
						 '2026-07-14T23:59:59.999Z', '2026-07-15T00:00:00Z', '2026-07-14T10:00:00+14:00'])[1 + g % 7],
	'restriction', CASE WHEN g % 3 > 0 THEN jsonb_build_object('period', jsonb_build_object('end',
		to_char(date '2026-08-01' + g % 5, 'YYYY-MM-DD'))) END)))) AS imported
FROM generate_series(1, 28) g;
SELECT q, pg_temp.show(omnitask.search_tasks_query(q || '&_count=30&_total=accurate')) AS found
FROM unnest(ARRAY['authored-on=2026-07-14', 'authored-on=eq2026-07-14', 'authored-on=2026-07-13&_sort=_id',
	'authored-on=2026-07-14&_sort=-authored-on,_id']) q;
SELECT who, q, pg_temp.same_page(q, c) AS page
FROM (VALUES ('superuser', 'authored-on=2026-07-14', $c$t.authored_on >= '2026-07-14Z' AND t.authored_on < '2026-07-15Z'$c$),
			 ('superuser', 'authored-on=eq2026-07-13&status=ready', $c$t.authored_on >= '2026-07-13Z' AND t.authored_on < '2026-07-14Z'$c$),
			 ('superuser', 'authored-on=2026-07-14&patient=day-pat', $c$t.authored_on >= '2026-07-14Z' AND t.authored_on < '2026-07-15Z'$c$),
			 ('superuser', 'authored-on=2026-07', $c$t.authored_on >= '2026-07-01Z' AND t.authored_on < '2026-08-01Z'$c$),
			 ('superuser', 'authored-on=2026-07-14,2026-07-15', $c$t.authored_on >= '2026-07-14Z' AND t.authored_on < '2026-07-16Z'$c$)) v(who, q, c);
CREATE TEMP TABLE day_seen (who text, q text, page text);
GRANT INSERT ON day_seen TO day_adm, day_r;
SELECT pg_temp.try_as('day_adm', $$INSERT INTO day_seen SELECT 'admin', q, pg_temp.same_page(q, c) FROM (VALUES
	('authored-on=2026-07-14', $c$t.authored_on >= '2026-07-14Z' AND t.authored_on < '2026-07-15Z'$c$),
	('authored-on=2026-07-15&owner:missing=true', $c$t.authored_on >= '2026-07-15Z' AND t.authored_on < '2026-07-16Z' AND t.owner_id IS NULL$c$)) v(q, c)$$) AS admin_reads;
SELECT pg_temp.try_as('day_r', $$INSERT INTO day_seen SELECT 'practitioner', q, pg_temp.same_page(q, c) FROM (VALUES
	('authored-on=2026-07-14', $c$t.owner_id = 'day-p' AND t.authored_on >= '2026-07-14Z' AND t.authored_on < '2026-07-15Z'$c$),
	('authored-on=2026-07-13', $c$t.owner_id = 'day-p' AND t.authored_on >= '2026-07-13Z' AND t.authored_on < '2026-07-14Z'$c$)) v(q, c)$$) AS practitioner_reads;
SELECT * FROM day_seen ORDER BY who, q;
-- the plan: as an admin and as the practitioner (row-level security), the
-- day is an index condition of task_authored_day_idx (task_day is
-- leakproof), ahead of the practitioner's policy
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT who, regexp_replace(replace(pg_temp.first_scan(who, $$SELECT t.id FROM omnitask.task t WHERE omnitask.task_day(t.authored_on) = '2026-07-14'
	ORDER BY t.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id LIMIT 3$$), 'Index Only Scan', 'Index Scan'), '[()]', '', 'g') AS one_day
FROM unnest(ARRAY['day_adm', 'day_r']::name[]) who;
ROLLBACK;
DROP TABLE day_seen, day_east, day_v;
DELETE FROM omnitask.practitioner WHERE id = 'day-p';
DROP ROLE day_adm, day_r;
-- 0.8 date ranges
-- a range of authored-on, modified or _lastUpdated of at most 62 days, the
-- only positive condition, in the default order, is read day by day: one
-- branch per UTC day (task_day(column) = the day, from the column's day
-- index in the page's order), merged in the page's order; the range's
-- edges within a day are conditions of the first and last days; an open
-- end (ge, gt, sa) reads the days up to today and one more branch the days
-- after it.  The same tasks as the range, at the days' edges and across
-- zones, for the superuser, an admin and a practitioner.
CREATE ROLE rng_adm IN ROLE omnitask_admin;
CREATE ROLE rng_r IN ROLE omnitask_practitioner;
SELECT omnitask.register_practitioner('rng_r', 'rng-p') IS NOT NULL AS registered;
-- 120 tasks over 2026-10-01 .. 2026-10-20 at every hour of the day, some
-- on the days' edges (00:00:00, 23:59:59.999) and written in other zones;
-- modified a day or two later
SELECT count(omnitask.import_task(jsonb_strip_nulls(jsonb_build_object(
	'resourceType', 'Task', 'id', 'rng-' || lpad(g::text, 3, '0'), 'intent', 'order',
	'status', (ARRAY['ready', 'in-progress', 'completed'])[1 + g % 3], 'description', 'range ' || g,
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat'])[1 + g % 4],
	'for', jsonb_build_object('reference', 'Patient/rng-pat'),
	'owner', CASE WHEN g % 2 = 0 THEN jsonb_build_object('reference', 'Practitioner/rng-p') END,
	'authoredOn', a, 'lastModified', to_char((a::timestamptz + (1 + g % 2) * interval '1 day') AT TIME ZONE 'UTC',
											 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
	'restriction', CASE WHEN g % 3 > 0 THEN jsonb_build_object('period', jsonb_build_object('end',
		to_char(date '2026-11-01' + g % 5, 'YYYY-MM-DD'))) END)))) AS imported
FROM (SELECT g, CASE g % 6
		WHEN 0 THEN to_char(date '2026-10-01' + g % 20, 'YYYY-MM-DD') || 'T00:00:00Z'
		WHEN 1 THEN to_char(date '2026-10-01' + g % 20, 'YYYY-MM-DD') || 'T23:59:59.999Z'
		WHEN 2 THEN to_char(date '2026-10-01' + g % 20, 'YYYY-MM-DD') || 'T23:30:00-02:00'
		WHEN 3 THEN to_char(date '2026-10-01' + g % 20, 'YYYY-MM-DD') || 'T10:00:00+14:00'
		ELSE to_char(date '2026-10-01' + g % 20, 'YYYY-MM-DD') || 'T' || lpad((g % 24)::text, 2, '0') || ':15:00Z' END AS a
	  FROM generate_series(1, 120) g) s;
VACUUM ANALYZE omnitask.task;
-- the searches and their ranges in SQL (the first page and the next)
CREATE TEMP TABLE rng_q (q text, c text);
INSERT INTO rng_q VALUES
	('authored-on=2026-10', $c$t.authored_on >= '2026-10-01Z' AND t.authored_on < '2026-11-01Z'$c$),
	('authored-on=ge2026-10-03&authored-on=lt2026-10-10', $c$t.authored_on >= '2026-10-03Z' AND t.authored_on < '2026-10-10Z'$c$),
	('authored-on=ge2026-10-03T12:00:00Z&authored-on=le2026-10-06T06:00:00Z', $c$t.authored_on >= '2026-10-03T12:00:00Z' AND t.authored_on < '2026-10-06T06:00:01Z'$c$),
	('authored-on=gt2026-10-04T21:30:00%2B14:00&authored-on=eb2026-10-08T01:30:00-02:00', $c$t.authored_on >= '2026-10-04T07:30:01Z' AND t.authored_on < '2026-10-08T03:30:00Z'$c$),
	('authored-on=sa2026-10-05&authored-on=le2026-10-07', $c$t.authored_on >= '2026-10-06Z' AND t.authored_on < '2026-10-08Z'$c$),
	('authored-on=eq2026-10-05&authored-on=ge2026-10-05T12:00:00Z', $c$t.authored_on >= '2026-10-05T12:00:00Z' AND t.authored_on < '2026-10-06T00:00:00Z'$c$),
	('authored-on=ge2026-10-14&status=ready,completed', $c$t.authored_on >= '2026-10-14Z' AND t.status IN ('ready', 'completed')$c$),
	('authored-on=ge2026-10-01&authored-on=lt2026-10-21&owner:missing=true', $c$t.authored_on >= '2026-10-01Z' AND t.authored_on < '2026-10-21Z' AND t.owner_id IS NULL$c$),
	('modified=ge2026-10-10&modified=lt2026-10-12', $c$t.last_modified >= '2026-10-10Z' AND t.last_modified < '2026-10-12Z'$c$),
	('modified=ge2026-10-18T12:00:00Z', $c$t.last_modified >= '2026-10-18T12:00:00Z'$c$),
	('_lastUpdated=ge2026-10-01&_lastUpdated=le2026-10-31', $c$t.last_updated >= '2026-10-01Z' AND t.last_updated < '2026-11-01Z'$c$),
	('_lastUpdated=gt1999-12-31T23:59:59Z&_lastUpdated=lt2000-01-02', $c$t.last_updated >= '2000-01-01Z' AND t.last_updated < '2000-01-02Z'$c$),
	('authored-on=ge2026-08-01&authored-on=lt2026-10-03', $c$t.authored_on >= '2026-08-01Z' AND t.authored_on < '2026-10-03Z'$c$),
	('authored-on=ge2026-10-07&authored-on=lt2026-10-07', 'false');
SELECT q, pg_temp.same_page(q, c) AS superuser FROM rng_q ORDER BY q;
-- the same in two other session time zones (a search's values carry their
-- own zone, a date without a time is the UTC day)
SET timezone = 'Pacific/Kiritimati';
SELECT q, pg_temp.same_page(q, c) AS kiritimati FROM rng_q WHERE q LIKE '%T%' OR q = 'authored-on=2026-10' ORDER BY q;
SET timezone = 'America/Adak';
SELECT q, pg_temp.same_page(q, c) AS adak FROM rng_q WHERE q LIKE '%T%' OR q = 'authored-on=2026-10' ORDER BY q;
SET timezone = 'UTC';
CREATE TEMP TABLE rng_seen (who text, q text, page text);
GRANT INSERT ON rng_seen TO rng_adm, rng_r;
GRANT SELECT ON rng_q TO rng_adm, rng_r;
SELECT pg_temp.try_as('rng_adm', $$INSERT INTO rng_seen SELECT 'admin', q, pg_temp.same_page(q, c) FROM rng_q$$) AS admin_reads;
SELECT pg_temp.try_as('rng_r', $$INSERT INTO rng_seen SELECT 'practitioner', q, pg_temp.same_page(q, 't.owner_id = ''rng-p'' AND ' || c) FROM rng_q$$) AS practitioner_reads;
SELECT * FROM rng_seen ORDER BY who, q;
-- the page's plan (search.c: run_page; DEBUG1): the range's days merged in
-- order when each day reads the day index (here with no sequential scan,
-- as at a million tasks), the range's own plans otherwise: beyond 62
-- days, with a list, ne or a second positive condition, in another order
CREATE FUNCTION pg_temp.rng_traced(who name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	b jsonb;
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', who);
	PERFORM omnitask.search_tasks_query(q || '&_total=none&_count=3');
	PERFORM set_config('client_min_messages', 'debug1', true);
	b := omnitask.search_tasks_query(q || '&_total=none&_count=3');
	PERFORM set_config('client_min_messages', 'warning', true);
	RESET ROLE;
	RETURN (SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e);
END $$;
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_temp.rng_traced('rng_adm', q) FROM unnest(ARRAY['authored-on=2026-10',
	'authored-on=ge2026-10-03T12:00:00Z&authored-on=le2026-10-06T06:00:00Z',
	'modified=ge2026-10-10&modified=lt2026-10-12', 'modified=ge2026-10-18T12:00:00Z&modified=le2026-10-21',
	'_lastUpdated=ge2026-10-01&_lastUpdated=le2026-10-31',
	'authored-on=ge2026-10-14&status=ready,completed']) q;
SELECT pg_temp.rng_traced('rng_adm', q) FROM unnest(ARRAY['authored-on=ge2026-08-01&authored-on=lt2026-10-03',
	'authored-on=2026-10-03,2026-10-05', 'authored-on=ne2026-10-03&authored-on=ge2026-10-01',
	'authored-on=2026-10&code=urn:none|x', 'authored-on=2026-10&modified=ge2026-10-10',
	'authored-on=2026-10&_sort=_id']) q;
ROLLBACK;
-- an open end: the days up to today, then one more branch for every later
-- day, whatever today is: 40 tasks modified over the last 10 days
SELECT count(omnitask.import_task(jsonb_build_object(
	'resourceType', 'Task', 'id', 'rng-m' || g, 'intent', 'order', 'status', 'ready', 'description', 'modified ' || g,
	'priority', (ARRAY['routine', 'urgent', 'asap', 'stat'])[1 + g % 4], 'for', jsonb_build_object('reference', 'Patient/rng-pat'),
	'authoredOn', to_char(now() AT TIME ZONE 'UTC' - interval '20 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	'lastModified', to_char(now() AT TIME ZONE 'UTC' - (g % 10) * interval '1 day' - g * interval '1 minute',
							'YYYY-MM-DD"T"HH24:MI:SS"Z"')))) AS imported
FROM generate_series(1, 40) g;
VACUUM ANALYZE omnitask.task;
CREATE TEMP TABLE rng_open AS
SELECT w, v, c FROM (VALUES ('modified since 3 days ago', 'modified=ge', 't.last_modified', 3, ''),
							('modified since 18:00 3 days ago', 'modified=ge', 't.last_modified', 3, 'T18:00:00Z'),
							('written today', '_lastUpdated=ge', 't.last_updated', 0, '')) x(w, p, col, back, at),
	LATERAL (SELECT to_char(now() AT TIME ZONE 'UTC' - back * interval '1 day', 'YYYY-MM-DD') || at AS day) d,
	LATERAL (SELECT p || day AS v, format('%s >= %L', col, day || CASE WHEN at = '' THEN 'Z' ELSE '' END) AS c) q;
SELECT w, pg_temp.same_page(v, c) AS page FROM rng_open ORDER BY w;
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT w, pg_temp.rng_traced('rng_adm', v) IS NOT NULL AS found FROM rng_open WHERE w LIKE 'modified%' ORDER BY w;
ROLLBACK;
DROP TABLE rng_seen, rng_q, rng_open;
DELETE FROM omnitask.practitioner WHERE id = 'rng-p';
DROP ROLE rng_adm, rng_r;
