-- FHIR search by patient as the practitioner (RLS scopes it to their tasks)
\set p random(1, :npatients)
SELECT omnitask.search_tasks(patient => 'Patient/pat-' || lpad(:p::text, 5, '0'), _count => 50);
