-- conditional create (If-None-Exist on that identifier) of the same kind of Task
\set k random(1, 1000)
BEGIN;
SELECT omnitask.create_task_if_none_exist(d.doc || jsonb_build_object('identifier', jsonb_build_array(jsonb_build_object(
	'system', 'https://bench.example/id', 'value', v))), 'identifier=https://bench.example/id|' || v)
FROM bench_fhir.docs d, (SELECT 'b-' || nextval('bench_fhir.ident') AS v) s WHERE d.k = :k;
END;
