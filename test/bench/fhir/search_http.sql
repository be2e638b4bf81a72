BEGIN;
SELECT set_config('request.headers', '{"accept": "application/fhir+json"}', true);
SELECT fhir.task_search(status => 'requested,accepted', priority => 'stat,asap');
END;
