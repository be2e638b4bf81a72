-- conditional create (If-None-Exist on that identifier) of the same kind of
-- Task; the task is output, as create_ident outputs its (a record of task
-- and created would cost record_out's quoting of the whole resource)
\set k random(1, 1000)
BEGIN;
SELECT c.task
FROM bench_fhir.docs d, (SELECT 'b-' || nextval('bench_fhir.ident') AS v) s,
	 LATERAL omnitask.create_task_if_none_exist(d.doc || jsonb_build_object('identifier', jsonb_build_array(jsonb_build_object(
		'system', 'https://bench.example/id', 'value', s.v))), 'identifier=https://bench.example/id|' || s.v) c
WHERE d.k = :k;
END;
