\set k random(1, 1000)
BEGIN;
SELECT set_config('request.headers', '{"content-type": "application/json"}', true);
SELECT fhir.task_create(d.doc) FROM bench_fhir.docs d WHERE d.k = :k;
END;
