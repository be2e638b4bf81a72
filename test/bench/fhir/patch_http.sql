\set i random(1, :npool)
\set p random(0, 3)
BEGIN;
SELECT set_config('request.headers', jsonb_build_object('x-fhir-id', o.id)::text, true) FROM bench_fhir.open_pool o WHERE o.n = :i;
SELECT fhir.task_patch(jsonb_build_array(jsonb_build_object('op', 'replace', 'path', '/priority',
	'value', (ARRAY['routine', 'urgent', 'asap', 'stat'])[:p + 1]))::text) FROM bench_fhir.open_pool o WHERE o.n = :i;
END;
