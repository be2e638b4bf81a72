BEGIN;
SELECT set_config('request.headers', '{"accept": "application/fhir+json"}', true);
SELECT omnitask.search_tasks(status => 'requested,accepted', priority => 'stat,asap');
END;
