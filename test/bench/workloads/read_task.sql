-- omnitask.read_task(id) of a random task, as the admin
\set i random(1, :ntasks)
SELECT omnitask.read_task('t-' || lpad(:i::text, 7, '0'));
