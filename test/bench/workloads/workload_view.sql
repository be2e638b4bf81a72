-- reporting view, as the admin
SELECT * FROM omnitask.workload;
