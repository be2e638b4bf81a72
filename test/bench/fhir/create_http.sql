\set k random(1, 1000)
BEGIN;
SELECT set_config('request.headers', '{"content-type": "application/json"}', true);
SELECT fhir.task_create(d.txt) FROM bench_fhir.bodies d WHERE d.k = :k;
END;
