-- FHIR create through omnitask.create_task(), as the admin, of a realistic document
\set k random(1, :ndocs)
SELECT omnitask.create_task(d.doc) FROM bench.docs d WHERE d.k = :k;
