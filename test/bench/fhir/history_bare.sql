\set i random(1, :npool)
BEGIN;
SELECT set_config('request.headers', '{"accept": "application/fhir+json"}', true);
SELECT omnitask.task_history_page(o.id, 10) FROM bench_fhir.open_pool o WHERE o.n = :i;
END;
