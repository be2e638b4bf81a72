-- plain create of a Task carrying a new business identifier (claimed by the trigger)
\set k random(1, 1000)
BEGIN;
SELECT omnitask.create_task(d.doc || jsonb_build_object('identifier', jsonb_build_array(jsonb_build_object(
	'system', 'https://bench.example/id', 'value', 'b-' || nextval('bench_fhir.ident')))))
FROM bench_fhir.docs d WHERE d.k = :k;
END;
