/*-------------------------------------------------------------------------
 *
 * notify_relay.c
 *	  NOTIFY omnitask_task after commit, without serialising the writers'
 *	  commits.
 *
 * PostgreSQL serialises every transaction that sends a NOTIFY: it takes a
 * cluster-wide lock in PreCommit_Notify() and holds it through the commit's
 * WAL flush, so notifying writers cannot share a flush (group commit) and
 * each pays a full fdatasync of its own.  For a table where every write
 * notifies, that costs a third of the write throughput.
 *
 * When omnitask is in shared_preload_libraries, a writer instead hands its
 * notifications to a relay: at pre-commit it reserves slots in a queue in
 * shared memory (one queue per database), after its commit it fills them,
 * and a background worker connected to that database ("omnitask notify
 * relay") sends them with NOTIFY, many per transaction of its own.  The
 * queue is delivered in reservation order and a reserved slot holds back
 * the ones behind it until its writer commits (then it is sent) or aborts
 * (then it is skipped), so the notifications of one task arrive in the
 * order of its versions, and only committed changes are announced.
 *
 * A relay that has just sent a batch sleeps RELAY_GATHER_US (1 ms) before
 * it looks again, without waiting on its latch: the writers that commit
 * meanwhile set the latch without waking it (no signal, no context switch
 * per commit), and its next transaction sends all of theirs.  A change
 * after a quiet spell is sent at once.
 *
 * Whenever the relay cannot take a transaction's notifications -- omnitask
 * not preloaded, every queue in use, the queue full, no background worker
 * slot, a payload too long for a slot -- the transaction sends them itself
 * with Async_Notify(), as PostgreSQL does: slower, never lost.
 *
 * The relay exits after omnitask.notify_relay_idle_timeout (1 s) without
 * work, so that it never holds up DROP DATABASE (which waits up to 5 s for
 * other sessions), and the next writer starts it again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "dbworker.h"
#include "miscadmin.h"
#include "notify_relay.h"
#include "omnitask.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define RELAY_CHANNEL		"omnitask_task"
#define RELAY_QUEUES		8		/* databases served at the same time */
#define RELAY_PAYLOAD_MAX	246		/* bytes of payload in one slot */
#define RELAY_BATCH			1024	/* notifications per relay transaction */
#define RELAY_POLL_MS		1000	/* an idle relay looks at its queue this often */
#define RELAY_WAIT_MS		2000	/* a writer waits this long for room */
#define RELAY_GATHER_US		1000	/* after a send, let the next batch gather */

/* States of a queue slot. */
#define SLOT_EMPTY		0
#define SLOT_RESERVED	1		/* its writer has not committed yet */
#define SLOT_READY		2		/* committed: to be sent */
#define SLOT_VOID		3		/* its writer aborted: to be skipped */

typedef struct RelaySlot
{
	uint8		state;
	uint16		len;
	char		payload[RELAY_PAYLOAD_MAX + 1];
} RelaySlot;

/*
 * The queue of one database (dbworker.h; head: the next slot to reserve,
 * tail: the next slot to deliver); slots follow it in shared memory.
 */
typedef DbWorkerQueue RelayQueue;

typedef DbWorkerShared RelayShared;	/* the lock */

/* Setting: slots per database queue (fixed at server start). */
int			omnitask_notify_queue_size = 4096;

/* Setting: an idle relay exits after this many milliseconds. */
int			omnitask_notify_relay_idle_ms = 1000;

static RelayShared *relay = NULL;
static char *relay_base = NULL;	/* RELAY_QUEUES x (queue header + slots) */

/* This transaction's notifications, in TopTransactionContext. */
typedef struct PendingNote
{
	int			level;			/* transaction nesting level that queued it */
	int			len;
	char		payload[FLEXIBLE_ARRAY_MEMBER];
} PendingNote;

static List *pending = NIL;
static int	reserved_queue = -1;	/* queue of this transaction's slots */
static uint64 reserved_from = 0;

PGDLLEXPORT void omnitask_relay_main(Datum arg);

/*
 * Bytes of one queue: its header and its slots, each rounded up to a whole
 * number of cache lines.  A slot is 252 bytes, so without the rounding an
 * odd omnitask.notify_queue_size would leave every queue after the first
 * (and its uint64 and pointer members) misaligned, undefined behaviour on
 * strict-alignment CPUs; the rounding also keeps two queues (two databases'
 * writers) off one cache line.
 */
static Size
queue_bytes(void)
{
	return CACHELINEALIGN(add_size(CACHELINEALIGN(sizeof(RelayQueue)),
								   mul_size(sizeof(RelaySlot), omnitask_notify_queue_size)));
}

/* Bytes of the whole shared area: the lock, then the queues. */
static Size
relay_shmem_bytes(void)
{
	return add_size(CACHELINEALIGN(sizeof(RelayShared)),
					mul_size(RELAY_QUEUES, queue_bytes()));
}

/* The queue at index i. */
static RelayQueue *
queue_at(int i)
{
	return (RelayQueue *) (relay_base + i * queue_bytes());
}

/* The index of queue q. */
static int
queue_index(RelayQueue *q)
{
	return ((char *) q - relay_base) / queue_bytes();
}

/* The slot for position pos of queue q. */
static RelaySlot *
slot_at(RelayQueue *q, uint64 pos)
{
	RelaySlot  *slots = (RelaySlot *) ((char *) q + CACHELINEALIGN(sizeof(RelayQueue)));

	return &slots[pos % (uint64) omnitask_notify_queue_size];
}

/*
 * The queues are in shared memory (dbworker.c created or found them); when
 * created, report their layout.
 */
static void
relay_shmem_attached(void *shared, bool created)
{
	int			i;

	relay = shared;
	relay_base = (char *) relay + CACHELINEALIGN(sizeof(RelayShared));
	if (created)
	{
		Size		misaligned = 0;

		/* ShmemInitStruct() gives cache-line aligned memory; keep it so */
		for (i = 0; i < RELAY_QUEUES; i++)
		{
			misaligned = Max(misaligned, (uintptr_t) queue_at(i) % PG_CACHE_LINE_SIZE);
			misaligned = Max(misaligned, (uintptr_t) slot_at(queue_at(i), 0) % PG_CACHE_LINE_SIZE);
		}
		elog(DEBUG1, "omnitask notify relay: %d queues of %zu bytes (%d slots of %zu bytes), largest misalignment %zu bytes",
			 RELAY_QUEUES, queue_bytes(), omnitask_notify_queue_size, sizeof(RelaySlot), misaligned);
	}
}

/*
 * Queues one notification of the current transaction.  Without the relay
 * it goes to PostgreSQL's NOTIFY at once (sent at commit, as before).
 */
void
omnitask_notify_change(const char *payload)
{
	MemoryContext old;
	PendingNote *note;
	int			len = strlen(payload);

	if (relay == NULL)
	{
		Async_Notify(RELAY_CHANNEL, payload);
		return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	note = palloc(offsetof(PendingNote, payload) + len + 1);
	note->level = GetCurrentTransactionNestLevel();
	note->len = len;
	memcpy(note->payload, payload, len + 1);
	pending = lappend(pending, note);
	MemoryContextSwitchTo(old);
}

/* Sends this transaction's notifications itself: the path without relay. */
static void
notify_directly(void)
{
	ListCell   *lc;

	foreach(lc, pending)
		Async_Notify(RELAY_CHANNEL, ((PendingNote *) lfirst(lc))->payload);
	pending = NIL;
}

/* The queue at index i, as dbworker.c sees it. */
static DbWorkerQueue *
worker_queue_at(int i)
{
	return queue_at(i);
}

/*
 * Pre-commit: reserves one slot per pending notification in the queue of
 * this database, starting its relay if none runs.  False when the relay
 * cannot take them (nothing is reserved then), after waiting until what
 * was queued before has been sent, so that sending them directly keeps
 * the order.  A full queue is waited for, RELAY_WAIT_MS at most.
 */
static bool
relay_reserve(void)
{
	TimestampTz start = GetCurrentTimestamp();
	int			n = list_length(pending);
	bool		fits = (n <= omnitask_notify_queue_size);
	uint64		drain_to = 0;
	bool		first = true;
	RelayQueue *q;
	ListCell   *lc;
	uint64		pos;
	int			i;

	foreach(lc, pending)
		if (((PendingNote *) lfirst(lc))->len > RELAY_PAYLOAD_MAX)
			fits = false;

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		bool		launch = false;
		bool		reserved = false;
		bool		alive;
		bool		claimed;

		LWLockAcquire(relay->lock, LW_EXCLUSIVE);
		q = dbworker_queue_of_database(worker_queue_at, RELAY_QUEUES, now, &claimed);
		if (q == NULL)
		{
			LWLockRelease(relay->lock);
			return false;		/* every queue serves another database */
		}
		if (first)
			drain_to = q->head;
		first = false;
		if (!fits && (q->tail >= drain_to || q->head < drain_to))
		{
			LWLockRelease(relay->lock);
			return false;		/* what came before is sent: go direct */
		}
		if ((fits || q->head != q->tail) && dbworker_launch_due(q, now))
			launch = true;
		pos = q->head;
		if (fits && q->head - q->tail + n <= (uint64) omnitask_notify_queue_size)
		{
			for (i = 0; i < n; i++)
				slot_at(q, pos + i)->state = SLOT_RESERVED;
			q->head += n;
			reserved = true;
		}
		LWLockRelease(relay->lock);

		if (launch && !dbworker_launch("omnitask_relay_main", "omnitask notify relay", queue_index(q)))
		{
			/* no background worker slot: give up, send them ourselves */
			LWLockAcquire(relay->lock, LW_EXCLUSIVE);
			if (reserved)
				for (i = 0; i < n; i++)
					slot_at(q, pos + i)->state = SLOT_VOID;
			q->launch_at = 0;
			LWLockRelease(relay->lock);
			return false;
		}
		if (reserved)
		{
			reserved_queue = queue_index(q);
			reserved_from = pos;
			return true;
		}

		/* the queue is full, or not yet drained: wait for the relay */
		LWLockAcquire(relay->lock, LW_SHARED);
		alive = q->worker_pid != 0 || q->launch_at != 0;
		LWLockRelease(relay->lock);
		if (!alive || TimestampDifferenceExceeds(start, GetCurrentTimestamp(), RELAY_WAIT_MS))
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * After commit (fill = true) or abort (false): makes this transaction's
 * reserved slots ready to send, or to skip, and wakes the relay.  Runs
 * where errors are not allowed: only copies and a latch.
 */
static void
relay_release(bool fill)
{
	RelayQueue *q = queue_at(reserved_queue);
	Latch	   *latch;
	ListCell   *lc;
	uint64		pos = reserved_from;

	LWLockAcquire(relay->lock, LW_EXCLUSIVE);
	foreach(lc, pending)
	{
		PendingNote *note = lfirst(lc);
		RelaySlot  *s = slot_at(q, pos++);

		if (fill)
		{
			memcpy(s->payload, note->payload, note->len + 1);
			s->len = (uint16) note->len;
			s->state = SLOT_READY;
		}
		else
			s->state = SLOT_VOID;
	}
	latch = q->worker_latch;
	LWLockRelease(relay->lock);
	if (latch)
		SetLatch(latch);
}

/* Transaction end: hand over, give up or send directly, then forget. */
static void
relay_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NIL && !relay_reserve())
				notify_directly();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* PostgreSQL refuses to PREPARE a notifying transaction; say so */
			if (pending != NIL)
				notify_directly();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
			if (reserved_queue >= 0)
				relay_release(event == XACT_EVENT_COMMIT);
			reserved_queue = -1;
			pending = NIL;
			break;
		case XACT_EVENT_PREPARE:
			reserved_queue = -1;
			pending = NIL;
			break;
		default:
			break;
	}
}

/*
 * Subtransaction end: a rolled-back savepoint takes its notifications
 * with it; a released one hands them to its parent.
 */
static void
relay_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (pending == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending)
		{
			if (((PendingNote *) lfirst(lc))->level >= level)
				pending = foreach_delete_current(pending, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending)
		{
			PendingNote *note = lfirst(lc);

			if (note->level >= level)
				note->level = level - 1;
		}
	}
}

/* Relay exit: leave the queue to the next relay. */
static void
relay_detach(int code, Datum arg)
{
	dbworker_detach(queue_at(DatumGetInt32(arg)), relay->lock);
}

/*
 * Takes the deliverable head of the queue: sent (READY) and skipped (VOID)
 * slots up to the first one still RESERVED.  Copies the payloads to send
 * into out[]; returns how many slots it took (the tail moves only once
 * they are sent).
 */
static int
relay_collect(RelayQueue *q, char (*out)[RELAY_PAYLOAD_MAX + 1], int *nout)
{
	uint64		pos;
	int			taken = 0;

	*nout = 0;
	LWLockAcquire(relay->lock, LW_SHARED);
	for (pos = q->tail; pos < q->head && taken < RELAY_BATCH; pos++, taken++)
	{
		RelaySlot  *s = slot_at(q, pos);

		if (s->state == SLOT_RESERVED)
			break;
		if (s->state == SLOT_READY)
		{
			memcpy(out[*nout], s->payload, s->len + 1);
			(*nout)++;
		}
	}
	LWLockRelease(relay->lock);
	return taken;
}

/* A batch to send, for notify_batch(). */
typedef struct NotifyWork
{
	char		(*batch)[RELAY_PAYLOAD_MAX + 1];
	int			n;
} NotifyWork;

/* NOTIFY of each payload of a batch (a NotifyWork), in the caller's transaction. */
static void
notify_batch(void *arg)
{
	NotifyWork *w = arg;
	int			i;

	for (i = 0; i < w->n; i++)
		Async_Notify(RELAY_CHANNEL, w->batch[i]);
}

/*
 * Sends one batch with NOTIFY in one transaction.  An error is reported
 * and the batch kept for another try: false then.
 */
static bool
relay_send(char (*batch)[RELAY_PAYLOAD_MAX + 1], int n)
{
	NotifyWork	w;

	w.batch = batch;
	w.n = n;
	if (!dbworker_transaction("NOTIFY omnitask_task", notify_batch, &w))
		return false;
	elog(DEBUG1, "omnitask notify relay: sent %d notifications", n);
	return true;
}

/*
 * The relay's main loop: sends what the writers of its database committed,
 * one transaction per batch; exits when idle.
 */
void
omnitask_relay_main(Datum arg)
{
	int			qi = DatumGetInt32(arg);
	Oid			dboid;
	RelayQueue *q;
	char		(*batch)[RELAY_PAYLOAD_MAX + 1];
	TimestampTz idle_since;

	dboid = dbworker_connect(die);
	if (relay == NULL || qi < 0 || qi >= RELAY_QUEUES)
		proc_exit(0);

	/*
	 * NOTIFY gives each sending transaction an xid, so every batch commits
	 * with a WAL record; a notification is not durable (a crash loses the
	 * unsent ones and every listener), so the relay need not wait for that
	 * record's flush, nor add a flush of its own beside the writers'.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	q = queue_at(qi);
	/* the queue went to another database, or another relay serves it */
	if (!dbworker_attach(q, relay->lock, dboid))
		proc_exit(0);
	before_shmem_exit(relay_detach, Int32GetDatum(qi));
	pgstat_report_activity(STATE_IDLE, NULL);

	batch = MemoryContextAlloc(TopMemoryContext, sizeof(*batch) * RELAY_BATCH);
	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		int			nsend;
		int			taken;
		int			i;

		CHECK_FOR_INTERRUPTS();
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			/* pg_reload_conf(): e.g. log_min_messages, omnitask.* settings */
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		taken = relay_collect(q, batch, &nsend);
		if (taken > 0)
		{
			if (nsend > 0 && !relay_send(batch, nsend))
			{
				/* e.g. PostgreSQL's NOTIFY queue is full: keep them, retry */
				(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 Min(RELAY_POLL_MS, omnitask_notify_relay_idle_ms), PG_WAIT_EXTENSION);
				continue;
			}
			LWLockAcquire(relay->lock, LW_EXCLUSIVE);
			for (i = 0; i < taken; i++)
				slot_at(q, q->tail + i)->state = SLOT_EMPTY;
			q->tail += taken;
			LWLockRelease(relay->lock);
			idle_since = GetCurrentTimestamp();

			/*
			 * Busy: sleep a moment without waiting on the latch, so that
			 * the writers committing meanwhile set it without waking us
			 * (no signal, no context switch each) and the next transaction
			 * sends all of theirs.  A change after a quiet spell is still
			 * sent at once: only a relay that has just sent sleeps.
			 */
			pg_usleep(RELAY_GATHER_US);
			continue;
		}

		if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(), omnitask_notify_relay_idle_ms) &&
			dbworker_retire_if_empty(q, relay->lock))
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(RELAY_POLL_MS, omnitask_notify_relay_idle_ms), PG_WAIT_EXTENSION);
	}
}

/*
 * Module load: with shared_preload_libraries, set up the relay's shared
 * memory and the transaction hooks that feed it; otherwise do nothing and
 * let omnitask_notify_change() use NOTIFY directly.
 */
void
omnitask_relay_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("omnitask.notify_queue_size",
							"Sets the number of slots of the NOTIFY relay's queue of each database.",
							"Needs omnitask in shared_preload_libraries; a transaction that does not fit sends its notifications itself.",
							&omnitask_notify_queue_size,
							4096, 16, 1 << 20,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("omnitask.notify_relay_idle_timeout",
							"Sets how long the NOTIFY relay of a database waits for work before it exits.",
							"DROP DATABASE waits up to 5 s for the relay to exit; the next write starts another.",
							&omnitask_notify_relay_idle_ms,
							1000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	dbworker_register_shmem("omnitask notify relay", relay_shmem_bytes, relay_shmem_attached);
	RegisterXactCallback(relay_xact_callback, NULL);
	RegisterSubXactCallback(relay_subxact_callback, NULL);
}
