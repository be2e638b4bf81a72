\set k random(1, 1000)
BEGIN;
SELECT set_config('request.headers', '{"content-type": "application/json"}', true);
SELECT omnitask.create_task(d.txt::jsonb) FROM bench_fhir.bodies d WHERE d.k = :k;
END;
