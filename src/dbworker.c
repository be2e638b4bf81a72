/*-------------------------------------------------------------------------
 *
 * dbworker.c
 *	  Queues in shared memory, one per database, each served by a background
 *	  worker connected to that database.
 *
 * The NOTIFY relay (notify_relay.c) and the read audit's writer
 * (audit_queue.c) both hand work from backends to a worker of their
 * database through a fixed array of queues: a backend claims the queue of
 * its database (or a free one), starts its worker when none runs, and the
 * worker attaches to the queue, serves it, and gives it up when idle so
 * that it never holds up DROP DATABASE.  This file is that common part; what
 * a queue holds and how it is served stays with each user, who also owns
 * the lock and the shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "dbworker.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

/* The users of this module's shared memory (the relay, the audit). */
#define DBWORKER_USERS		2

typedef struct DbWorkerUser
{
	const char *name;			/* of the shared memory and of its lock */
	Size		(*size) (void);
	DbWorkerAttached attached;
} DbWorkerUser;

static DbWorkerUser users[DBWORKER_USERS];
static int	nusers = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Asks for every user's shared memory and lock (a tranche of one). */
static void
dbworker_shmem_request(void)
{
	int			i;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (i = 0; i < nusers; i++)
	{
		RequestAddinShmemSpace(users[i].size());
		RequestNamedLWLockTranche(users[i].name, 1);
	}
}

/*
 * Creates (in the postmaster) or finds every user's shared memory, zeroed
 * and its lock set when created, and tells the user.
 */
static void
dbworker_shmem_startup(void)
{
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	for (i = 0; i < nusers; i++)
	{
		Size		size = users[i].size();
		void	   *p;
		bool		found;

		LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
		p = ShmemInitStruct(users[i].name, size, &found);
		if (!found)
		{
			memset(p, 0, size);
			((DbWorkerShared *) p)->lock = &(GetNamedLWLockTranche(users[i].name))->lock;
		}
		LWLockRelease(AddinShmemInitLock);
		users[i].attached(p, !found);
	}
}

/*
 * At module load (shared_preload_libraries): a user's shared memory named
 * `name` of size() bytes, starting with a DbWorkerShared; attached() is
 * called once it is there.
 */
void
dbworker_register_shmem(const char *name, Size (*size) (void), DbWorkerAttached attached)
{
	if (nusers == DBWORKER_USERS)
		elog(ERROR, "too many users of shared memory queues");
	if (nusers == 0)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = dbworker_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = dbworker_shmem_startup;
	}
	users[nusers].name = name;
	users[nusers].size = size;
	users[nusers].attached = attached;
	nusers++;
}

/*
 * The queue of the current database, claiming a free one (no database, or
 * no worker, empty and no launch under way) if it has none; sets *claimed
 * then, so that the caller resets its own fields.  NULL when every queue
 * serves another database.  Caller holds the user's lock exclusively.
 */
DbWorkerQueue *
dbworker_queue_of_database(DbWorkerQueueAt at, int n, TimestampTz now, bool *claimed)
{
	DbWorkerQueue *free_q = NULL;
	int			i;

	*claimed = false;
	for (i = 0; i < n; i++)
	{
		DbWorkerQueue *q = at(i);

		if (q->dboid == MyDatabaseId)
			return q;
		if (free_q == NULL &&
			(q->dboid == InvalidOid ||
			 (q->worker_pid == 0 && q->head == q->tail &&
			  (q->launch_at == 0 ||
			   TimestampDifferenceExceeds(q->launch_at, now, DBWORKER_LAUNCH_MS)))))
			free_q = q;
	}
	if (free_q)
	{
		free_q->dboid = MyDatabaseId;
		free_q->worker_pid = 0;
		free_q->worker_latch = NULL;
		free_q->launch_at = 0;
		free_q->head = free_q->tail = 0;
		*claimed = true;
	}
	return free_q;
}

/*
 * True, and the launch noted as under way, when q has no worker and no
 * launch is pending (or the last one was never answered).  Caller holds
 * the lock exclusively and then calls dbworker_launch() without it.
 */
bool
dbworker_launch_due(DbWorkerQueue *q, TimestampTz now)
{
	if (q->worker_pid != 0 ||
		(q->launch_at != 0 && !TimestampDifferenceExceeds(q->launch_at, now, DBWORKER_LAUNCH_MS)))
		return false;
	q->launch_at = now;
	return true;
}

/*
 * Starts a worker of type `type` running omnitask's function_name for queue
 * qi of the current database; false when no background worker slot is free.
 * It is never restarted: the next backend that needs it starts another.
 */
bool
dbworker_launch(const char *function_name, const char *type, int qi)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "omnitask");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function_name);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database %u", type, MyDatabaseId);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	worker.bgw_main_arg = Int32GetDatum(qi);
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	worker.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&worker, NULL);
}

/*
 * In a worker started by dbworker_launch(): installs the signal handlers
 * (on_sigterm for SIGTERM, configuration reload on SIGHUP), connects to the
 * database it was started for, and returns that database's OID.
 */
Oid
dbworker_connect(pqsigfunc on_sigterm)
{
	Oid			dboid;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, on_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	return dboid;
}

/*
 * Makes this process q's worker; false when q went to another database
 * meanwhile or another worker serves it (the caller then exits).
 */
bool
dbworker_attach(DbWorkerQueue *q, LWLock *lock, Oid dboid)
{
	bool		ok;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	ok = (q->dboid == dboid && q->worker_pid == 0);
	if (ok)
	{
		q->worker_pid = MyProcPid;
		q->worker_latch = MyLatch;
		q->launch_at = 0;
	}
	LWLockRelease(lock);
	return ok;
}

/* Worker exit: leaves q to the next worker, if it is still this one's. */
void
dbworker_detach(DbWorkerQueue *q, LWLock *lock)
{
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (q->worker_pid == MyProcPid)
	{
		q->worker_pid = 0;
		q->worker_latch = NULL;
	}
	LWLockRelease(lock);
}

/*
 * An idle worker's way out: when nothing is queued, gives q up (a backend
 * that queues more starts a new worker) and returns true: the caller exits.
 */
bool
dbworker_retire_if_empty(DbWorkerQueue *q, LWLock *lock)
{
	bool		done;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	done = (q->head == q->tail);
	if (done)
	{
		q->worker_pid = 0;
		q->worker_latch = NULL;
	}
	LWLockRelease(lock);
	return done;
}

/*
 * Runs work(arg) in a transaction of its own, shown as `activity` in
 * pg_stat_activity meanwhile.  An error is reported to the server log and
 * the transaction rolled back: false then, the worker carries on.
 */
bool
dbworker_transaction(const char *activity, void (*work) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, activity);
		work(arg);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}
