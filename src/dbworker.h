/*-------------------------------------------------------------------------
 *
 * dbworker.h
 *	  Queues in shared memory, one per database, each served by a background
 *	  worker connected to that database (dbworker.c): the machinery shared by
 *	  the NOTIFY relay and the read audit's writer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_DBWORKER_H
#define OMNITASK_DBWORKER_H

#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* A launch not answered by then failed, and the queue may be reused. */
#define DBWORKER_LAUNCH_MS	10000

/*
 * The head of a queue: which database it serves and its worker.  A user
 * embeds it first in its own queue header; head and tail are positions in
 * the user's own units (slots, bytes).  Every field is read and written
 * under the user's lock.
 */
typedef struct DbWorkerQueue
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		worker_pid;		/* 0: no worker attached */
	Latch	   *worker_latch;
	TimestampTz launch_at;		/* 0: no launch pending */
	uint64		head;			/* next position to fill */
	uint64		tail;			/* oldest position not yet done with */
} DbWorkerQueue;

/*
 * The start of a user's shared memory: the lock of its queues (a tranche
 * of one, named as the shared memory).
 */
typedef struct DbWorkerShared
{
	LWLock	   *lock;
} DbWorkerShared;

/* The queue at index i of a user's array of n. */
typedef DbWorkerQueue *(*DbWorkerQueueAt) (int i);

/*
 * Called in every process once the user's shared memory is attached
 * (created: in the postmaster, the first time; zeroed, every queue free).
 */
typedef void (*DbWorkerAttached) (void *shared, bool created);

extern void dbworker_register_shmem(const char *name, Size (*size) (void),
									DbWorkerAttached attached);
extern DbWorkerQueue *dbworker_queue_of_database(DbWorkerQueueAt at, int n,
												 TimestampTz now, bool *claimed);
extern bool dbworker_launch_due(DbWorkerQueue *q, TimestampTz now);
extern bool dbworker_launch(const char *function_name, const char *type, int qi);
extern Oid	dbworker_connect(pqsigfunc on_sigterm);
extern bool dbworker_attach(DbWorkerQueue *q, LWLock *lock, Oid dboid);
extern void dbworker_detach(DbWorkerQueue *q, LWLock *lock);
extern bool dbworker_transaction(const char *activity, void (*work) (void *arg), void *arg);
extern bool dbworker_retire_if_empty(DbWorkerQueue *q, LWLock *lock);

#endif							/* OMNITASK_DBWORKER_H */
