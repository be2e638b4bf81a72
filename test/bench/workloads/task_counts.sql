-- reporting view, as the admin
SELECT * FROM omnitask.task_counts;
