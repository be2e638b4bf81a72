-- fuzz_edits.sql: random targeted edits of stored Tasks, each made twice:
-- first with omnitask.revalidate_unchanged = on (every element validated)
-- in a subtransaction that is then undone, then as every write runs (only
-- what the edit changed is validated).  Run by test/t/020_fuzz.pl on a
-- database loaded by test/sample/generate.sql; psql variables: seed (0..1),
-- edits (how many).  Prints one line: edits, accepted, refused, mismatches
-- (the two runs disagreed on the outcome or on the stored content).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- The stored content an edit is judged on: no id, version or times.
CREATE FUNCTION pg_temp.fz_content(r jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT (r - 'meta' - 'lastModified')::text $$;

-- One edit of task: kind picks it, r (0..1) its argument.  Returns 'ok'
-- and the stored content, or the SQLSTATE and message of its refusal.
CREATE FUNCTION pg_temp.fz_edit(task text, kind integer, r float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	doc jsonb := omnitask.read_task(task);
	r2 float8 := r * 1000 - floor(r * 1000);
	st text := (enum_range(NULL::omnitask.task_status))[1 + floor(r * 12)::int]::text;
	keys text[] := ARRAY['text', 'identifier', 'note', 'businessStatus', 'basedOn', 'input', 'performerType'];
	stored jsonb;
BEGIN
	stored := CASE kind
		WHEN 0 THEN omnitask.set_task_status(task, st, CASE WHEN r2 < 0.6 THEN 'fuzz ' || r2 END)
		WHEN 1 THEN omnitask.add_task_note(task, 'fuzz note ' || r)
		WHEN 2 THEN omnitask.set_task_business_status(task, CASE WHEN r >= 0.2 THEN 'fuzz ' || r END)
		WHEN 3 THEN omnitask.set_task_due(task, CASE WHEN r >= 0.2 THEN '2030-01-01 00:00+00'::timestamptz + r * interval '100 days' END)
		WHEN 4 THEN omnitask.update_task(task, doc || jsonb_build_object('text', jsonb_build_object('status', 'generated',
			'div', CASE WHEN r < 0.5 THEN '<p>no namespace</p>'
					   ELSE '<div xmlns="http://www.w3.org/1999/xhtml"><p>fuzz ' || r || '</p></div>' END)))
		WHEN 5 THEN omnitask.update_task(task, doc || jsonb_build_object('identifier', CASE WHEN r < 0.5 THEN '"x"'::jsonb
			ELSE jsonb_build_array(jsonb_build_object('system', 'urn:fuzz', 'value', 'v' || r)) END))
		WHEN 6 THEN omnitask.update_task(task, doc || jsonb_build_object('note', CASE WHEN r < 0.3 THEN '[{}]'::jsonb
			WHEN r < 0.6 THEN COALESCE(doc -> 'note', '[]') || '[{"text": ""}]'
			ELSE COALESCE(doc -> 'note', '[]') || jsonb_build_array(jsonb_build_object('text', 'appended ' || r)) END))
		WHEN 7 THEN omnitask.update_task(task, doc || jsonb_build_object('input', jsonb_build_array(jsonb_build_object(
			'type', jsonb_build_object('text', 't'), CASE WHEN r < 0.5 THEN 'valueString' ELSE 'valueBogus' END, 'v' || r))))
		WHEN 8 THEN omnitask.update_task(task, doc - keys[1 + floor(r * array_length(keys, 1))::int])
		WHEN 9 THEN omnitask.update_task(task, CASE WHEN doc ? 'identifier'
			THEN jsonb_set(doc, '{identifier,0,fuzz}', to_jsonb(r)) ELSE doc || '{"identifier": [{"fuzz": 1}]}' END)
		WHEN 10 THEN omnitask.update_task(task, doc || jsonb_build_object('description', CASE WHEN r < 0.2 THEN '' ELSE 'fuzz ' || r END))
		WHEN 11 THEN omnitask.update_task(task, doc || jsonb_build_object('for', jsonb_build_object('reference', 'Patient/fz-' || r)))
		WHEN 12 THEN omnitask.update_task(task, doc || jsonb_build_object('businessStatus', CASE WHEN r < 0.5 THEN '42'::jsonb
			ELSE jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('code', 'c' || r))) END))
		WHEN 13 THEN omnitask.update_task(task, doc || jsonb_build_object('performerType', CASE WHEN r < 0.5 THEN '[{"coding": [{"system": ""}]}]'::jsonb
			ELSE '[{"text": "nurse"}]' END))
		ELSE omnitask.update_task(task, doc || jsonb_build_object('basedOn', jsonb_build_array(jsonb_build_object('reference',
			CASE WHEN r < 0.3 THEN '#nowhere' ELSE 'ServiceRequest/sr-' || floor(r * 100) END))))
		END;
	RETURN 'ok ' || pg_temp.fz_content(stored);
EXCEPTION WHEN OTHERS THEN
	RETURN 'refused ' || SQLSTATE || ' ' || SQLERRM;
END $$;

-- The same edit with every element validated, undone.
CREATE FUNCTION pg_temp.fz_edit_full(task text, kind integer, r float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	outcome text;
BEGIN
	BEGIN
		PERFORM set_config('omnitask.revalidate_unchanged', 'on', true);
		outcome := pg_temp.fz_edit(task, kind, r);
		RAISE EXCEPTION USING ERRCODE = 'ZZ001';
	EXCEPTION WHEN SQLSTATE 'ZZ001' THEN
		NULL;
	END;
	RETURN outcome;
END $$;

CREATE TEMP TABLE fz_log (n integer, task text, kind integer, r float8, full_outcome text, outcome text);
SELECT setseed(:seed);
DO $$
DECLARE
	ids text[] := ARRAY(SELECT id FROM omnitask.task ORDER BY id);
	task text;
	kind integer;
	r float8;
	i integer;
BEGIN
	FOR i IN 1 .. current_setting('fz.edits')::integer LOOP
		task := ids[1 + floor(random() * array_length(ids, 1))::int];
		kind := floor(random() * 15)::int;
		r := random();
		INSERT INTO fz_log VALUES (i, task, kind, r, pg_temp.fz_edit_full(task, kind, r), pg_temp.fz_edit(task, kind, r));
	END LOOP;
END $$;
SELECT format('edits=%s accepted=%s refused=%s mismatches=%s', count(*),
			  count(*) FILTER (WHERE outcome LIKE 'ok %'), count(*) FILTER (WHERE outcome LIKE 'refused %'),
			  count(*) FILTER (WHERE outcome IS DISTINCT FROM full_outcome))
FROM fz_log;
SELECT format('MISMATCH n=%s task=%s kind=%s r=%s full=%s fast=%s', n, task, kind, r, left(full_outcome, 300), left(outcome, 300))
FROM fz_log WHERE outcome IS DISTINCT FROM full_outcome ORDER BY n LIMIT 5;
