--
-- search_tokens: how a page with a token condition of a vocabulary (code,
-- performer, business-status, :missing=false) is found -- the walk of the
-- order's index, a second longer walk when the first measured the
-- matches' share, or the filter -- and that each gives the filter's answer.
-- The engine says which it ran at DEBUG1 ("search page: ..."); each search
-- runs once before the messages are shown, so that only its own appear.
--
SET client_min_messages = warning;
SET timezone = 'UTC';
-- the plans' shapes decide what runs: indexes wherever one serves
SET enable_seqscan = off;

-- a practitioner owning 200 tasks in a known order (one priority, no due
-- date, authored a minute apart): the code 'tok-sparse' on every 25th
-- (4%), 'tok-rare' on the 130th and 190th only, the others 'tok-common'
DROP ROLE IF EXISTS tok_role;
CREATE ROLE tok_role NOLOGIN IN ROLE omnitask_practitioner;
SELECT omnitask.register_practitioner('tok_role', 'tok-p') IS NOT NULL AS registered;
SELECT count(omnitask.import_task(jsonb_build_object(
	'resourceType', 'Task', 'id', 'tok-' || lpad(g::text, 3, '0'), 'intent', 'order', 'status', 'requested',
	'priority', 'routine', 'description', 'token task ' || g,
	'for', jsonb_build_object('reference', 'Patient/tok-pat'),
	'owner', '{"reference": "Practitioner/tok-p"}'::jsonb,
	'authoredOn', to_char(timestamptz '2026-05-01 08:00:00Z' + g * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	'code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'urn:tok',
		'code', CASE WHEN g % 25 = 0 THEN 'tok-sparse' WHEN g IN (130, 190) THEN 'tok-rare' ELSE 'tok-common' END))))))
FROM generate_series(1, 200) g;
ANALYZE omnitask.task;

-- the ids of a Bundle's entries and its next link's offset
CREATE FUNCTION pg_temp.page(q text) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce((SELECT string_agg(e -> 'resource' ->> 'id', ',') FROM jsonb_array_elements(b -> 'entry') e), '-')
		|| coalesce(' next=' || (SELECT substring(l ->> 'url' FROM '_offset=([0-9]+)') FROM jsonb_array_elements(b -> 'link') l
								  WHERE l ->> 'relation' = 'next'), '')
	FROM omnitask.search_tasks_query(q) b
$$;

-- a search as the practitioner: its page, the messages of the plans it ran
-- (a second run: the first fills the caches), and whether the filter
-- forced gives the same page
CREATE FUNCTION pg_temp.traced(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	auto text;
	filter text;
BEGIN
	PERFORM pg_temp.page(q);
	PERFORM set_config('client_min_messages', 'debug1', true);
	auto := pg_temp.page(q);
	PERFORM set_config('client_min_messages', 'warning', true);
	PERFORM set_config('omnitask.search_token_plan', 'filter', true);
	filter := pg_temp.page(q);
	PERFORM set_config('omnitask.search_token_plan', 'auto', true);
	RETURN auto || CASE WHEN auto = filter THEN ' (= the filter)' ELSE ' (the filter: ' || filter || ')' END;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.page(text), pg_temp.traced(text) TO tok_role;

BEGIN;
SET LOCAL ROLE tok_role;
-- 2 rows asked for and one more (is there a next page?): a first walk of
-- 60 rows finds 2 of the 3 (the 25th and 50th); the share it measured puts
-- the third within 2 x 60 x 3 / 2 = 180 rows: a second walk of at most
-- 180 rows finds it (its kept plan is generic, an ordered walk that stops
-- at the page: search.c, plan_options)
SELECT pg_temp.traced('code=urn:tok|tok-sparse&_total=none&_count=2');
-- the next page (offset 2, so 5 rows wanted): a first walk of 100 rows
-- finds 4 of the 5 (2 of the page's 3); a second walk of at most
-- 2 x 100 x 5 / 4 = 250 rows finds the fifth
SELECT pg_temp.traced('code=urn:tok|tok-sparse&_total=none&_count=2&_offset=2');
-- a first walk that finds none measured no share: the filter
SELECT pg_temp.traced('code=urn:tok|tok-rare&_total=none&_count=2');
-- a common code: the first walk finds the page
SELECT pg_temp.traced('code=urn:tok|tok-common&_total=none&_count=2');
-- 11 wanted and only 8 there: both walks read all 200 tasks (a walk cannot
-- tell that it read every row), then the filter answers
SELECT pg_temp.traced('code=urn:tok|tok-sparse&_total=none&_count=10');
COMMIT;

-- the walk's plan sorts every row the other conditions match (here: index
-- scans off, so none gives the order): no walk, the filter at once.  (A
-- search of its own, priority=routine, so that its plans are new.)
BEGIN;
SET LOCAL ROLE tok_role;
SET LOCAL enable_indexscan = off;
SELECT pg_temp.traced('priority=routine&code=urn:tok|tok-sparse&_total=none&_count=2');
COMMIT;

-- the walk forced: no second walk (the first, then the filter)
BEGIN;
SET LOCAL ROLE tok_role;
SET LOCAL omnitask.search_token_plan = walk;
SELECT pg_temp.page('code=urn:tok|tok-sparse&_total=none&_count=2');
SET LOCAL client_min_messages = debug1;
SELECT pg_temp.page('code=urn:tok|tok-sparse&_total=none&_count=2');
COMMIT;

-- as the superuser (no RLS), the owner's worklist: the same plans, the
-- same pages
SELECT pg_temp.traced('owner=tok-p&code=urn:tok|tok-sparse&_total=none&_count=2');
SELECT pg_temp.traced('owner=tok-p&code=urn:tok|tok-sparse&_total=none&_count=2&_offset=2');

-- a date range with a code of a vocabulary: the range's rows are counted
-- (up to 10,000), then read and the code tested on them, instead of the
-- code's whole GIN entry intersected with the range (search.c,
-- dated_first); one day with a code system|code: since 0.8 the code's key
-- and the day from task_code_token_day_idx (below; 0.7 walked all of the
-- day's rows, day_counted_first, as it still does for other forms);
-- as the practitioner and as the superuser
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('code=urn:tok|tok-sparse&authored-on=2026-05-01&_total=none&_count=3');
SELECT pg_temp.traced('code=urn:tok|tok-common&authored-on=ge2026-05-01T11:00:00Z&_total=none&_count=3');
SELECT pg_temp.traced('code=urn:tok|tok-rare&authored-on=2026-05-01&_total=none&_count=3&_offset=1');
-- a range without the code's tasks: an empty page
SELECT pg_temp.traced('code=urn:tok|tok-sparse&authored-on=2026-05-02&_total=none&_count=3');
-- with an identifier too (a small GIN entry): not counted; the walk, then
-- the filter
SELECT pg_temp.traced('code=urn:tok|tok-sparse&identifier=nonesuch&authored-on=2026-05-01&_total=none&_count=3');
-- with a column condition: the range's rows that meet it
SELECT pg_temp.traced('status=requested&code=urn:tok|tok-sparse&authored-on=2026-05-01&_total=none&_count=3&_offset=6');
COMMIT;
-- the owner's (other scripts' tasks may share the day)
SELECT pg_temp.traced('owner=tok-p&code=urn:tok|tok-sparse&authored-on=2026-05-01&_sort=authored-on&_count=3');

--
-- 0.7: business-status=system|code in the page's order.  business_status_token
-- holds, of the businessStatus codings with a system and a code (a key):
-- none, NULL; one, its search token; more, '*' (task_columns.c).
--
SELECT v.what, omnitask.task_business_status_token(v.r) AS business_status_token
FROM (VALUES
	('one coding', '{"businessStatus": {"coding": [{"system": "urn:s", "code": "a", "display": "A"}]}}'::jsonb),
	('two codings', '{"businessStatus": {"coding": [{"system": "urn:s", "code": "a"}, {"system": "urn:t", "code": "b"}]}}'),
	('one with a system', '{"businessStatus": {"coding": [{"code": "b"}, {"system": "urn:s", "code": "a"}, {"system": "urn:s"}]}}'),
	('no system', '{"businessStatus": {"coding": [{"code": "a"}]}}'),
	('a text', '{"businessStatus": {"text": "waiting"}}'),
	('none', '{}'),
	('a hashed token', jsonb_build_object('businessStatus', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 300)))))),
	('escaped', '{"businessStatus": {"coding": [{"system": "urn:a|b", "code": "c\\d"}]}}')) v(what, r);

-- 12 tasks of tok-p authored a minute apart: 1 in 4 at the stage
-- urn:tok-bs|wait by its one coding, 1 in 4 by one of two codings, 1 in 4
-- at another stage, 1 in 4 with a text only
SELECT count(omnitask.import_task(jsonb_build_object(
	'resourceType', 'Task', 'id', 'tok-bs-' || lpad(g::text, 2, '0'), 'intent', 'order',
	'status', CASE WHEN g % 3 = 0 THEN 'ready' ELSE 'requested' END,
	'priority', 'routine', 'description', 'stage task ' || g,
	'for', jsonb_build_object('reference', 'Patient/tok-pat'),
	'owner', '{"reference": "Practitioner/tok-p"}'::jsonb,
	'authoredOn', to_char(timestamptz '2026-06-01 08:00:00Z' + g * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	'businessStatus', CASE g % 4
		WHEN 0 THEN '{"coding": [{"system": "urn:tok-bs", "code": "wait"}]}'::jsonb
		WHEN 1 THEN '{"coding": [{"system": "urn:tok-other", "code": "x"}, {"system": "urn:tok-bs", "code": "wait"}]}'
		WHEN 2 THEN '{"coding": [{"system": "urn:tok-bs", "code": "done"}]}'
		ELSE '{"text": "waiting"}' END)))
FROM generate_series(1, 12) g;
SELECT t.id, t.business_status_token FROM omnitask.task t WHERE t.id LIKE 'tok-bs-%' ORDER BY t.id;
SELECT count(*) AS problems FROM omnitask.verify() v WHERE v.task_id LIKE 'tok-bs-%';

-- the stage's tasks (1, 4, 5, 8, 9, 12): those with the key and those
-- with two codings, merged in the page's order; the filter forced (the
-- tokens' GIN index, as before 0.7) gives the same pages; as the
-- practitioner (row-level security) and as the superuser
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&_total=none&_count=2');
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&_total=none&_count=2&_offset=2');
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&_total=none&_count=2&_offset=4');
SELECT pg_temp.traced('business-status=urn:tok-bs|done&_total=none&_count=5');
-- a stage no task is at, an empty page
SELECT pg_temp.traced('business-status=urn:tok-bs|nonesuch&_total=none&_count=2');
-- with a status list: one branch per status and key
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&status=ready,requested&_total=none&_count=3');
-- with a :missing condition, one of the others in each branch
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&code:missing=true&_total=none&_count=2');
-- the total counts the same tasks
SELECT (omnitask.search_tasks_query('business-status=urn:tok-bs|wait&_count=1') ->> 'total') AS total;
-- _total=estimate gives none, as for any code of a vocabulary, whichever plan runs
SELECT omnitask.search_tasks_query('business-status=urn:tok-bs|wait&_count=1&_total=estimate') ? 'total' AS estimated;
COMMIT;
SELECT pg_temp.traced('owner=tok-p&business-status=urn:tok-bs|wait&_total=none&_count=4');
-- the forms read from search_tokens alone (the walk or the filter, as the
-- plans of the other scripts' tasks decide): a code of any system, a list,
-- another order
SELECT pg_temp.page('owner=tok-p&business-status=wait&_total=none&_count=4');
SELECT pg_temp.page('owner=tok-p&business-status=urn:tok-bs|wait,urn:tok-bs|done&_total=none&_count=4');
SELECT pg_temp.page('owner=tok-p&business-status=urn:tok-bs|wait&_sort=-authored-on&_total=none&_count=4');

-- the trigger keeps the column: a change of the business status (a text:
-- no key), then back to one coding
SELECT omnitask.set_task_business_status('tok-bs-04', 'on hold') IS NOT NULL AS changed;
SELECT t.business_status_token IS NULL AS no_key FROM omnitask.task t WHERE t.id = 'tok-bs-04';
SELECT omnitask.patch_task('tok-bs-04', '[{"op": "add", "path": "/businessStatus", "value": {"coding": [{"system": "urn:tok-bs", "code": "done"}]}}]') IS NOT NULL AS changed;
SELECT t.business_status_token FROM omnitask.task t WHERE t.id = 'tok-bs-04';
SELECT pg_temp.page('owner=tok-p&business-status=urn:tok-bs|done&_total=none&_count=5');
SELECT count(*) AS problems FROM omnitask.verify() v WHERE v.task_id LIKE 'tok-bs-%';

--
-- 0.8: code=system|code with one day of authored-on in the page's order.
-- code_token is to Task.code what business_status_token is to
-- businessStatus (task_columns.c, key_column_datum); both keys are
-- collected while search_tokens is built, from the same tokens.
--
SELECT v.what, omnitask.task_code_token(v.r) AS code_token,
	   omnitask.task_business_status_token(v.r) AS business_status_token
FROM (VALUES
	('one coding', '{"code": {"coding": [{"system": "urn:s", "code": "a", "display": "A"}]}}'::jsonb),
	('two codings', '{"code": {"coding": [{"system": "urn:s", "code": "a"}, {"system": "urn:t", "code": "b"}]}}'),
	('the same coding twice', '{"code": {"coding": [{"system": "urn:s", "code": "a"}, {"system": "urn:s", "code": "a"}]}}'),
	('one with a system', '{"code": {"coding": [{"code": "b"}, {"system": "urn:s", "code": "a"}, {"system": "urn:s"}]}}'),
	('no system', '{"code": {"coding": [{"code": "a"}]}}'),
	('an empty system', '{"code": {"coding": [{"system": "", "code": "a"}]}}'),
	('a code not a string', '{"code": {"coding": [{"system": "urn:s", "code": 7}]}}'),
	('a text', '{"code": {"text": "lab"}}'),
	('none', '{}'),
	('a hashed token', jsonb_build_object('code', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 300)))))),
	('escaped', '{"code": {"coding": [{"system": "urn:a|b", "code": "c\\d"}]}}'),
	('a code and a business status', '{"code": {"coding": [{"system": "urn:s", "code": "a"}]},
		"businessStatus": {"coding": [{"system": "urn:s", "code": "b"}, {"system": "urn:s", "code": "c"}]},
		"performerType": [{"coding": [{"system": "urn:s", "code": "d"}]}]}'),
	('a business status only', '{"businessStatus": {"coding": [{"system": "urn:s", "code": "b"}]}}')) v(what, r);

-- 12 tasks of tok-p authored a minute apart on 2026-07-01 and 2 on
-- 2026-07-02: 1 in 4 of the code urn:tok-cd|lab by its one coding, 1 in 4
-- by one of two codings, 1 in 4 of another code, 1 in 4 of the code lab
-- without a system
SELECT count(omnitask.import_task(jsonb_build_object(
	'resourceType', 'Task', 'id', 'tok-cd-' || lpad(g::text, 2, '0'), 'intent', 'order',
	'status', CASE WHEN g % 3 = 0 THEN 'ready' ELSE 'requested' END,
	'priority', 'routine', 'description', 'coded task ' || g,
	'for', jsonb_build_object('reference', 'Patient/tok-pat'),
	'owner', '{"reference": "Practitioner/tok-p"}'::jsonb,
	'authoredOn', to_char(timestamptz '2026-07-01 08:00:00Z' + (g / 13) * interval '1 day' + g * interval '1 minute',
						  'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	'code', CASE g % 4
		WHEN 0 THEN '{"coding": [{"system": "urn:tok-cd", "code": "lab"}]}'::jsonb
		WHEN 1 THEN '{"coding": [{"system": "urn:tok-other", "code": "x"}, {"system": "urn:tok-cd", "code": "lab"}]}'
		WHEN 2 THEN '{"coding": [{"system": "urn:tok-cd", "code": "other"}]}'
		ELSE '{"coding": [{"code": "lab"}], "text": "lab"}' END)))
FROM generate_series(1, 14) g;
SELECT t.id, omnitask.task_day(t.authored_on) AS day, t.code_token FROM omnitask.task t WHERE t.id LIKE 'tok-cd-%' ORDER BY t.id;
SELECT count(*) AS problems FROM omnitask.verify() v WHERE v.task_id LIKE 'tok-cd-%';

-- the day's tasks of urn:tok-cd|lab (1, 4, 5, 8, 9, 12): those with the
-- key of lab (the code alone) and those with two codings, the token tested
-- on both (3, 7 and 11 have lab without a system), merged in the page's
-- order from task_code_token_day_idx; the filter forced (the tokens' GIN
-- index) gives the same pages; as the practitioner (row-level security)
-- and as the superuser
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=2');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=2&_offset=2');
SELECT pg_temp.traced('authored-on=eq2026-07-01&code=urn:tok-cd|lab&_total=none&_count=2&_offset=4');
SELECT pg_temp.traced('code=urn:tok-cd|other&authored-on=2026-07-01&_total=none&_count=5');
-- lab of any system (the key alone decides, and the many), lab without a system
SELECT pg_temp.traced('code=lab&authored-on=2026-07-01&_total=none&_count=5');
SELECT pg_temp.traced('code=lab&authored-on=2026-07-01&_total=none&_count=5&_offset=5');
SELECT pg_temp.traced('code=|lab&authored-on=2026-07-01&_total=none&_count=5');
-- the next day (13 by its two codings), and a day without the code
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-02&_total=none&_count=5');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-03&_total=none&_count=5');
-- with a status list: one branch per status and key
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-01&status=ready,requested&_total=none&_count=3');
-- the total counts the same tasks
SELECT (omnitask.search_tasks_query('code=urn:tok-cd|lab&authored-on=2026-07-01&_count=1') ->> 'total') AS total;
COMMIT;
SELECT pg_temp.traced('owner=tok-p&code=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=4');
-- a business status read by its key first: the code is a token condition,
-- the day's rows walked (0.7 dropped the business status from the walk
-- when a token condition followed it, and gave 4 tasks without it)
SELECT pg_temp.traced('business-status=urn:tok-bs|wait&code=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=4');
-- the forms read from search_tokens as before 0.8: every code of a
-- system, a list, :not, a code without a day, a time, another order
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('code=urn:tok-cd|&authored-on=2026-07-01&_total=none&_count=4');
SELECT pg_temp.traced('code=urn:tok-cd|lab,urn:tok-cd|other&authored-on=2026-07-01&_total=none&_count=4');
SELECT pg_temp.traced('code:not=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=4');
SELECT pg_temp.page('code=urn:tok-cd|lab&_total=none&_count=4') AS code_alone;
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=ge2026-07-01T08:05:00Z&authored-on=lt2026-07-02&_total=none&_count=4');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=2026-07-01&_sort=-authored-on&_total=none&_count=4');
COMMIT;

-- n17: a code without a day is walked with its key column tested first
-- (search_query.c, search_unkey): "code_token = key OR (code_token = '*'
-- AND the token)", for system|c and |c the token tested on the key's rows
-- too.  The pages equal the filter's, which tests the token alone: lab of
-- any system (1, 3, 4, 5, ... by the key or by two codings),
-- urn:tok-cd|lab (not 3, 7, 11: lab without a system, the same key),
-- |lab (only those), another code; and the next pages
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('code=lab&_total=none&_count=5');
SELECT pg_temp.traced('code=lab&_total=none&_count=5&_offset=5');
SELECT pg_temp.traced('code=urn:tok-cd|lab&_total=none&_count=5');
SELECT pg_temp.traced('code=urn:tok-cd|lab&_total=none&_count=5&_offset=5');
SELECT pg_temp.traced('code=|lab&_total=none&_count=5');
SELECT pg_temp.traced('code=urn:tok-cd|other&_total=none&_count=5');
-- with a status list, and in another order (the walk of task_pkey)
SELECT pg_temp.traced('code=urn:tok-cd|lab&status=ready,requested&_total=none&_count=3');
SELECT pg_temp.traced('code=|lab&_sort=-_id&_total=none&_count=2');
-- a business status in another order: its key tested first the same way
SELECT pg_temp.traced('business-status=urn:tok-bs|done&_sort=-_id&_total=none&_count=3');
-- the walk forced gives the same pages
SET LOCAL omnitask.search_token_plan = walk;
SELECT pg_temp.page('code=lab&_total=none&_count=5') AS lab_walked,
	   pg_temp.page('code=urn:tok-cd|lab&_total=none&_count=5') AS system_lab_walked,
	   pg_temp.page('code=|lab&_total=none&_count=5') AS bare_lab_walked;
COMMIT;

-- n17: a code with a range of authored-on of at most 62 days reads each
-- day twice from task_code_token_day_idx in the page's order, the code's
-- key and the tasks of many keys (search_query.c, search_days_source;
-- test/t/150_search_parity.pl shows its plan and compares its pages with
-- SQL's): code=c, whose key alone decides.  For system|c and |c the plan
-- must also expect a page per day (search.c, days_in_order); on these few
-- tasks it does not, so the range's plans answer, with the key tested
-- first.  As the superuser, then as the practitioner; the filter forced
-- gives the same pages
SELECT pg_temp.traced('code=lab&authored-on=ge2026-07-01&authored-on=le2026-07-02&_total=none&_count=4');
SELECT pg_temp.traced('code=lab&authored-on=ge2026-07-01&authored-on=le2026-07-02&_total=none&_count=4&_offset=8');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=ge2026-07-01T08:05:00Z&authored-on=lt2026-07-03&_total=none&_count=3');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=ge2026-07-01T08:05:00Z&authored-on=lt2026-07-01T08:10:00Z&_total=none&_count=3');
SELECT pg_temp.traced('code=|lab&authored-on=ge2026-06-30&_total=none&_count=5');
SELECT pg_temp.traced('code=urn:tok-cd|other&authored-on=2026-07&_total=none&_count=5');
-- not by the key: another order, a second token condition, a range of
-- modified (the code's index is by authored-on), a code list
SELECT pg_temp.traced('code=lab&authored-on=ge2026-07-01&authored-on=le2026-07-02&_sort=-authored-on&_total=none&_count=3');
SELECT pg_temp.traced('code=lab&performer=nonesuch&authored-on=ge2026-07-01&authored-on=le2026-07-02&_total=none&_count=3');
SELECT pg_temp.traced('code=lab&modified=ge2026-01-01&_total=none&_count=3');
SELECT pg_temp.traced('code=lab,other&authored-on=ge2026-07-01&authored-on=le2026-07-02&_total=none&_count=3');
BEGIN;
SET LOCAL ROLE tok_role;
SELECT pg_temp.traced('code=lab&authored-on=ge2026-07-01&authored-on=le2026-07-02&_total=none&_count=4');
SELECT pg_temp.traced('code=urn:tok-cd|lab&authored-on=ge2026-07-01T08:05:00Z&authored-on=lt2026-07-03&_total=none&_count=3');
COMMIT;

-- the trigger keeps the column: a code of text only (no key), then one
-- coding; verify() agrees
SELECT omnitask.patch_task('tok-cd-04', '[{"op": "replace", "path": "/code", "value": {"text": "lab"}}]') IS NOT NULL AS changed;
SELECT t.code_token IS NULL AS no_key FROM omnitask.task t WHERE t.id = 'tok-cd-04';
SELECT pg_temp.page('owner=tok-p&code=urn:tok-cd|lab&authored-on=2026-07-01&_total=none&_count=5');
SELECT omnitask.patch_task('tok-cd-04', '[{"op": "replace", "path": "/code", "value": {"coding": [{"system": "urn:tok-cd", "code": "other"}]}}]') IS NOT NULL AS changed;
SELECT t.code_token FROM omnitask.task t WHERE t.id = 'tok-cd-04';
SELECT pg_temp.page('owner=tok-p&code=urn:tok-cd|other&authored-on=2026-07-01&_total=none&_count=5');
SELECT count(*) AS problems FROM omnitask.verify() v WHERE v.task_id LIKE 'tok-cd-%';
-- a stored column that disagrees is reported
BEGIN;
ALTER TABLE omnitask.task DISABLE TRIGGER USER;
UPDATE omnitask.task SET code_token = 'code:urn:tok-cd|lab' WHERE id = 'tok-cd-04';
ALTER TABLE omnitask.task ENABLE TRIGGER USER;
SELECT v.task_id, v.problem FROM omnitask.verify() v WHERE v.task_id LIKE 'tok-cd-%';
ROLLBACK;

-- both key columns of every stored task (this script's and the other
-- scripts') follow the rule, computed here from the resource in SQL: of
-- the codings with a key whose token fits (256 bytes), none NULL, one its
-- token, more '*'; a business status's key is system|code (both non-empty
-- strings), a code's the code alone (a non-empty string, any system)
CREATE FUNCTION pg_temp.key_by_rule(param text, concept jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT CASE count(*) WHEN 0 THEN NULL WHEN 1 THEN min(k) ELSE '*' END
	FROM (SELECT param || ':' || CASE WHEN param = 'code' THEN '' ELSE
				 regexp_replace(c ->> 'system', '([|\\])', '\\\1', 'g') || '|' END
				 || regexp_replace(c ->> 'code', '([|\\])', '\\\1', 'g') AS k
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(concept -> 'coding') = 'array'
										 THEN concept -> 'coding' ELSE '[]' END) c
		  WHERE (param = 'code' OR (jsonb_typeof(c -> 'system') = 'string' AND c ->> 'system' <> ''))
			AND jsonb_typeof(c -> 'code') = 'string' AND c ->> 'code' <> '') keys
	WHERE octet_length(k) <= 256
$$;
SELECT count(*) > 20 AS tasks,
	   count(*) FILTER (WHERE t.code_token IS DISTINCT FROM pg_temp.key_by_rule('code', t.resource -> 'code')) AS code_token_off,
	   count(*) FILTER (WHERE t.business_status_token IS DISTINCT FROM
						pg_temp.key_by_rule('business-status', t.resource -> 'businessStatus')) AS business_status_token_off
FROM omnitask.task t;
SELECT v.what, omnitask.task_code_token(v.r) IS NOT NULL AS code_key,
	   omnitask.task_business_status_token(v.r) IS NOT NULL AS business_status_key,
	   omnitask.task_code_token(v.r) IS NOT DISTINCT FROM pg_temp.key_by_rule('code', v.r -> 'code') AS code_by_rule,
	   omnitask.task_business_status_token(v.r) IS NOT DISTINCT FROM
	   pg_temp.key_by_rule('business-status', v.r -> 'businessStatus') AS business_status_by_rule
FROM (VALUES
	('two codings', '{"code": {"coding": [{"system": "urn:s", "code": "a"}, {"system": "urn:t", "code": "b"}]}}'::jsonb),
	('escaped', '{"code": {"coding": [{"system": "urn:a|b", "code": "c\\d"}]}, "businessStatus": {"coding": [{"system": "u\\v", "code": "w|"}]}}'),
	('a hashed and a kept token', jsonb_build_object('code', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 300)),
						  jsonb_build_object('system', 'urn:s', 'code', 'y'))))),
	('at the bound', jsonb_build_object('code', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 256 - 5)))))),
	('past the bound', jsonb_build_object('code', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 256 - 4)))))),
	('a business status at the bound', jsonb_build_object('businessStatus', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 256 - 22)))))),
	('a business status past the bound', jsonb_build_object('businessStatus', jsonb_build_object('coding',
		jsonb_build_array(jsonb_build_object('system', 'urn:s', 'code', repeat('x', 256 - 21))))))) v(what, r);
