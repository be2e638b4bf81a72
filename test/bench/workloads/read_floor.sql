-- floor for read_task: the resource of a random task from the plain copy
\set i random(1, :ntasks)
SELECT t.resource FROM bench.task_plain t WHERE t.id = 't-' || lpad(:i::text, 7, '0');
