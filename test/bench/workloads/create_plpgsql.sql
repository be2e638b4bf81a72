-- the same create under the PL/pgSQL trigger
\set k random(1, :ndocs)
SELECT bench_plpgsql.create_task(d.doc) FROM bench.docs d WHERE d.k = :k;
