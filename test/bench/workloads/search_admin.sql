-- the same search as the admin with owner => (no RLS)
SELECT omnitask.search_tasks(owner => :owner, status => 'requested,accepted,in-progress', priority => 'stat,asap,urgent', _count => 50);
