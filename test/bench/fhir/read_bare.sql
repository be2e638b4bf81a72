\set i random(1, :ntasks)
BEGIN;
SELECT set_config('request.headers', '{"accept": "application/fhir+json"}', true);
SELECT omnitask.read_task('t-' || lpad(:i::text, 7, '0'));
END;
