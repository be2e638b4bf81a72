\set i random(1, :ncursors)
BEGIN;
SET LOCAL ROLE bench_pract;
SELECT set_config('request.headers', '{"accept": "application/fhir+json"}', true);
SELECT omnitask.task_changes_json(c.c, 100) FROM bench_fhir.cursors c WHERE c.n = :i;
END;
