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
