-- FHIR search as the practitioner (RLS scopes it to their tasks)
SELECT omnitask.search_tasks(status => 'requested,accepted,in-progress', priority => 'stat,asap,urgent', _count => 50);
