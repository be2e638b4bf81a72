/*-------------------------------------------------------------------------
 *
 * audit_queue.c
 *	  The read audit's queue in shared memory and its writer: a background
 *	  worker per database ("omnitask audit writer") that appends the queued
 *	  records to omnitask.audit_log, many per transaction.
 *
 * Why a queue: reads run in READ ONLY transactions (PostgREST) and on
 * standbys, where a backend cannot insert, and an insert plus a WAL flush
 * per read would cost more than the read.  The reading backend copies its
 * record (a compact binary form, see audit.h) into a byte ring of its database under a lightweight
 * lock and returns; the writer polls the ring every AUDIT_POLL_MS (a reader
 * wakes it when the ring is half full), inserts a batch with
 * table_multi_insert() in one transaction committed asynchronously, and
 * frees the batch's bytes only once the WAL has been flushed past its
 * commit record: by the WAL writer (within 2 x wal_writer_delay), or by the
 * writer itself when the ring is more than half full, when it goes idle
 * and when it stops.
 *
 * Why asynchronous commit rather than one row per batch: a synchronous
 * commit made the writer wait for (and pay) an fdatasync per batch; with
 * the ring holding a batch until the flush, the crash guarantee below is
 * unchanged and the flush is shared with everything else the WAL writer
 * flushes.  Packing a whole batch into one row (audit_log a view unpacking
 * it) would cut the writer's per-record cost further, but it changes the
 * contract of a table that admins and auditors query, that RLS, the
 * append-only trigger and audit_purge() (which deletes by recorded_at, per
 * record) are defined on, and pg_dump keeps: not done; see the README's
 * cost section for what is measured either way.
 *
 * Nothing acknowledged is dropped:
 *	- ring full: the reader waits up to AUDIT_WAIT_MS for room, then the
 *	  record becomes a LOG line (audit.c), counted in audit_stats(); while
 *	  the ring stays full (up to 5 x AUDIT_WAIT_MS after such a wait) the
 *	  next readers log at once instead of each waiting;
 *	- a backend crashes (SIGKILL, segfault): the postmaster, before it
 *	  re-creates shared memory, writes every record still in a ring (queued,
 *	  or taken by the writer and maybe committed) to the server log;
 *	- the postmaster dies: the writer, or failing it the last backend that
 *	  queued a record when it exits, closes the rings and writes what they
 *	  hold to the server log; readers then write LOG lines themselves;
 *	- a batch the writer cannot insert (e.g. the extension was dropped) is
 *	  written to the server log;
 *	- shutdown: the writer drains the ring on SIGTERM; what is still queued
 *	  when the postmaster exits goes to the server log.
 * A record may therefore be both in the table and in the log (when a crash
 * hits between the writer's commit and its freeing the batch), never in
 * neither -- short of losing every process at once (power loss, kill -9 of
 * all of them), which takes the unflushed records of a ring with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "audit.h"
#include "catalog/pg_type.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "dbworker.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_compat.h"

#define AUDIT_QUEUES		4		/* databases served at the same time */
/*
 * The writer looks at its ring this often (and when a reader finds it half
 * full).  Each batch costs a commit: at 20 ms that commit's WAL flush was a
 * third of the writer's CPU under a read load; 200 ms spreads a commit
 * over ten times as many records (and the flush is now the WAL writer's).
 * Nothing acknowledged waits on it (a crash writes the ring to the server
 * log); only losing every process at once loses what is in the ring, up to
 * about 200 ms of reads plus the WAL writer's flush delay.
 */
#define AUDIT_POLL_MS		200
#define AUDIT_IDLE_MS		2000	/* the writer exits after this long idle */
#define AUDIT_WAIT_MS		200		/* a reader waits this long for room */
#define AUDIT_BATCH_BYTES	(256 * 1024)	/* bytes of records per insert */

/* Counters of audit_stats(), since server start. */
enum
{
	C_QUEUED,
	C_WRITTEN,
	C_FB_NOT_PRELOADED,			/* never counted: no shared memory then */
	C_FB_STANDBY,
	C_FB_NO_QUEUE,
	C_FB_FULL,
	C_FB_TOO_LARGE,
	C_FB_CLOSED,
	C_DUMPED,					/* written to the log from a ring */
	C_FAILED_BATCHES,
	C_NCOUNTERS
};

/* The ring of one database; its bytes follow it in shared memory. */
typedef struct AuditQueue
{
	DbWorkerQueue w;			/* dbworker.h; head: byte position of the
								 * next record, tail: of the oldest */
	bool		closed;			/* the postmaster died: log, don't queue */
	TimestampTz overflow_at;	/* a reader found it full for AUDIT_WAIT_MS */
} AuditQueue;

typedef struct AuditShared
{
	DbWorkerShared s;			/* dbworker.h: the lock */
	pg_atomic_uint64 counters[C_NCOUNTERS];
} AuditShared;

/* Setting: kB of ring per database (fixed at server start). */
int			omnitask_audit_queue_kb = 1024;

static AuditShared *audit = NULL;
static char *audit_base = NULL;
static bool exit_callback_set = false;
static volatile sig_atomic_t got_sigterm = false;

/*
 * The writer's batches committed but maybe not yet flushed, oldest first:
 * the LSN of the end of each commit record and the ring position the batch
 * ends at.  inserted_to: the ring position up to which records are in the
 * table (committed), the tail lagging behind it until they are flushed.
 */
#define AUDIT_UNFLUSHED		64
typedef struct UnflushedBatch
{
	XLogRecPtr	lsn;
	uint64		end;
} UnflushedBatch;
static UnflushedBatch unflushed[AUDIT_UNFLUSHED];
static int	n_unflushed = 0;
static uint64 inserted_to = 0;

PGDLLEXPORT void omnitask_audit_writer_main(Datum arg);

/* Bytes of one ring's data. */
static uint64
ring_size(void)
{
	return (uint64) omnitask_audit_queue_kb * 1024;
}

/* Bytes of one queue: header and ring. */
static Size
queue_bytes(void)
{
	return MAXALIGN(sizeof(AuditQueue)) + MAXALIGN(ring_size());
}

/* Bytes of all of it. */
static Size
audit_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(AuditShared)), mul_size(AUDIT_QUEUES, queue_bytes()));
}

/* The queue at index i. */
static AuditQueue *
queue_at(int i)
{
	return (AuditQueue *) (audit_base + i * queue_bytes());
}

/* The ring bytes of queue q. */
static char *
ring_of(AuditQueue *q)
{
	return (char *) q + MAXALIGN(sizeof(AuditQueue));
}

/* Copies n bytes into the ring at byte position pos, wrapping around. */
static void
ring_write(AuditQueue *q, uint64 pos, const char *src, uint64 n)
{
	uint64		size = ring_size();
	uint64		off = pos % size;
	uint64		first = Min(n, size - off);

	memcpy(ring_of(q) + off, src, first);
	if (first < n)
		memcpy(ring_of(q), src + first, n - first);
}

/* Copies n bytes out of the ring from byte position pos, wrapping around. */
static void
ring_read(AuditQueue *q, uint64 pos, char *dst, uint64 n)
{
	uint64		size = ring_size();
	uint64		off = pos % size;
	uint64		first = Min(n, size - off);

	memcpy(dst, ring_of(q) + off, first);
	if (first < n)
		memcpy(dst + first, ring_of(q), n - first);
}

/* Adds to a counter. */
static void
count(int which, uint64 n)
{
	if (audit)
		pg_atomic_fetch_add_u64(&audit->counters[which], n);
}

/* Counts a record that became a LOG line instead of being queued. */
void
omnitask_audit_count_fallback(OmniAuditFallback why)
{
	switch (why)
	{
		case AUDIT_FB_STANDBY:
			count(C_FB_STANDBY, 1);
			break;
		case AUDIT_FB_NO_QUEUE:
			count(C_FB_NO_QUEUE, 1);
			break;
		case AUDIT_FB_FULL:
			count(C_FB_FULL, 1);
			break;
		case AUDIT_FB_TOO_LARGE:
			count(C_FB_TOO_LARGE, 1);
			break;
		case AUDIT_FB_CLOSED:
			count(C_FB_CLOSED, 1);
			break;
		default:
			break;
	}
}

/*
 * Writes every record between tail and head of queue q to the server log
 * and empties it.  The caller holds the lock, or is the postmaster after
 * every other process has gone; lengths are checked, since a crashed
 * process may have left the ring in any state.
 */
static int
dump_queue(AuditQueue *q, const char *why)
{
	uint64		pos = q->w.tail;
	int			n = 0;
	char	   *buf = NULL;

	if (q->w.dboid == InvalidOid || q->w.head == q->w.tail || q->w.head - q->w.tail > ring_size())
		return 0;
	while (q->w.head - pos >= sizeof(uint32))
	{
		uint32		len;

		ring_read(q, pos, (char *) &len, sizeof(uint32));
		if (len == 0 || len > q->w.head - pos - sizeof(uint32))
			break;
		buf = buf ? repalloc(buf, len + 1) : palloc(len + 1);
		ring_read(q, pos + sizeof(uint32), buf, len);
		buf[len] = '\0';
		omnitask_audit_log_record(buf, len);
		pos += sizeof(uint32) + len;
		n++;
	}
	if (n > 0)
		ereport(LOG,
				(errmsg("omnitask audit queue: %d records of database %u written to the server log",
						n, q->w.dboid),
				 errdetail_internal("%s", why)));
	q->w.tail = q->w.head;
	count(C_DUMPED, n);
	return n;
}

/*
 * Closes every ring and writes its records to the server log: the
 * postmaster is gone, so no writer will insert them.
 */
static void
close_and_dump(const char *why)
{
	int			i;

	LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
	for (i = 0; i < AUDIT_QUEUES; i++)
	{
		AuditQueue *q = queue_at(i);

		q->closed = true;
		(void) dump_queue(q, why);
	}
	LWLockRelease(audit->s.lock);
}

/* Postmaster exit or crash reset: log what is still queued. */
static void
postmaster_dump(int code, Datum arg)
{
	int			i;

	if (audit == NULL)
		return;
	for (i = 0; i < AUDIT_QUEUES; i++)
		(void) dump_queue(queue_at(i), code == 0 ? "The server is stopping." : "A server process crashed.");
}

/* Exit of a backend that queued records: when the postmaster is gone, log them. */
static void
backend_exit(int code, Datum arg)
{
	if (audit && !PostmasterIsAlive())
		close_and_dump("The postmaster exited.");
}

/*
 * The rings are in shared memory (dbworker.c created or found them): set
 * the counters when created, and in the postmaster the crash dump.
 */
static void
audit_shmem_attached(void *shared, bool created)
{
	int			i;

	audit = shared;
	audit_base = (char *) audit + MAXALIGN(sizeof(AuditShared));
	if (created)
		for (i = 0; i < C_NCOUNTERS; i++)
			pg_atomic_init_u64(&audit->counters[i], 0);
	if (!IsUnderPostmaster)
		on_shmem_exit(postmaster_dump, (Datum) 0);
}

/* The queue at index i, as dbworker.c sees it. */
static DbWorkerQueue *
worker_queue_at(int i)
{
	return &queue_at(i)->w;
}

/*
 * The queue of the current database, claiming a free one if it has none;
 * NULL when every queue serves another database.  Caller holds the lock.
 */
static AuditQueue *
queue_of_database(TimestampTz now)
{
	bool		claimed;
	AuditQueue *q = (AuditQueue *) dbworker_queue_of_database(worker_queue_at, AUDIT_QUEUES,
															  now, &claimed);

	if (claimed)
		q->overflow_at = 0;
	return q;
}

/*
 * Hands one record to the writer of this database.  AUDIT_FB_NONE when it
 * is queued (it then reaches omnitask.audit_log, or the server log after a
 * crash); otherwise why it could not be, and the caller logs it.
 */
OmniAuditFallback
omnitask_audit_enqueue(const char *rec, int len)
{
	uint64		need = sizeof(uint32) + len;
	TimestampTz start = 0;

	if (audit == NULL)
		return AUDIT_FB_NOT_PRELOADED;
	if (RecoveryInProgress())
		return AUDIT_FB_STANDBY;
	if (need > ring_size() / 4)
		return AUDIT_FB_TOO_LARGE;
	if (!exit_callback_set)
	{
		before_shmem_exit(backend_exit, (Datum) 0);
		exit_callback_set = true;
	}

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		AuditQueue *q;
		bool		launch = false;
		bool		queued = false;
		bool		fast_fail = false;
		bool		wake;
		bool		alive;
		Latch	   *latch;
		int			rc;

		if (!PostmasterIsAlive())
			return AUDIT_FB_CLOSED;
		LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
		q = queue_of_database(now);
		if (q == NULL || q->closed)
		{
			LWLockRelease(audit->s.lock);
			return q ? AUDIT_FB_CLOSED : AUDIT_FB_NO_QUEUE;
		}
		launch = dbworker_launch_due(&q->w, now);
		if (q->w.head - q->w.tail + need <= ring_size())
		{
			uint32		len32 = (uint32) len;

			ring_write(q, q->w.head, (const char *) &len32, sizeof(uint32));
			ring_write(q, q->w.head + sizeof(uint32), rec, len);
			pg_write_barrier();
			q->w.head += need;
			q->overflow_at = 0;
			queued = true;
		}
		else if (q->overflow_at != 0 &&
				 !TimestampDifferenceExceeds(q->overflow_at, now, AUDIT_WAIT_MS * 5))
			fast_fail = true;	/* still full after a reader waited: don't wait */
		wake = (q->w.head - q->w.tail) * 2 > ring_size();
		latch = q->w.worker_latch;
		LWLockRelease(audit->s.lock);

		if (launch && !dbworker_launch("omnitask_audit_writer_main", "omnitask audit writer",
										(int) (((char *) q - audit_base) / queue_bytes())))
		{
			/* no background worker slot: a later reader tries again */
			LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
			q->w.launch_at = 0;
			LWLockRelease(audit->s.lock);
		}
		if (queued)
		{
			count(C_QUEUED, 1);
			if (wake && latch)
				SetLatch(latch);
			return AUDIT_FB_NONE;
		}

		/* the ring is full: wake the writer and wait a little for room */
		if (latch)
			SetLatch(latch);
		if (fast_fail)
			return AUDIT_FB_FULL;
		LWLockAcquire(audit->s.lock, LW_SHARED);
		alive = q->w.worker_pid != 0 || q->w.launch_at != 0;
		LWLockRelease(audit->s.lock);
		if (start == 0)
			start = now;
		if (!alive || TimestampDifferenceExceeds(start, now, AUDIT_WAIT_MS))
		{
			LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
			q->overflow_at = now;
			LWLockRelease(audit->s.lock);
			return AUDIT_FB_FULL;
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH,
					   1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (rc & WL_POSTMASTER_DEATH)
			return AUDIT_FB_CLOSED;
		CHECK_FOR_INTERRUPTS();
	}
}

/* SIGTERM of the writer: finish what is queued, then exit. */
static void
writer_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Writer exit: leave the queue to the next writer; when the postmaster is
 * gone, write the rings to the server log.
 */
static void
writer_detach(int code, Datum arg)
{
	dbworker_detach(&queue_at(DatumGetInt32(arg))->w, audit->s.lock);
	/* e.g. waiting for a lock when the postmaster died: no one else will */
	if (!PostmasterIsAlive())
		close_and_dump("The postmaster exited.");
}

/*
 * Copies whole records of q from ring position `from` (the first record
 * not inserted yet) into buf, as they are in the ring (uint32 length,
 * packed record), at most AUDIT_BATCH_BYTES; returns the ring bytes taken
 * (freed only once their commit is flushed) and sets *nrec, and *crowded
 * when more than half the ring is in use.
 */
static uint64
collect_batch(AuditQueue *q, uint64 from, StringInfo buf, int *nrec, bool *crowded)
{
	uint64		pos;
	uint64		head;

	*nrec = 0;
	resetStringInfo(buf);
	LWLockAcquire(audit->s.lock, LW_SHARED);
	head = q->w.head;
	*crowded = (head - q->w.tail) * 2 > ring_size();
	for (pos = from; head - pos >= sizeof(uint32);)
	{
		uint32		len;

		ring_read(q, pos, (char *) &len, sizeof(uint32));
		if (*nrec > 0 && buf->len + sizeof(uint32) + len > AUDIT_BATCH_BYTES)
			break;
		enlargeStringInfo(buf, sizeof(uint32) + len);
		ring_read(q, pos, buf->data + buf->len, sizeof(uint32) + len);
		buf->len += sizeof(uint32) + len;
		pos += sizeof(uint32) + len;
		(*nrec)++;
	}
	LWLockRelease(audit->s.lock);
	return pos - from;
}

/* The columns of omnitask.audit_log the writer fills (others: defaults). */
static const char *const audit_columns[] = {
	"recorded_at", "action", "outcome", "login_role", "session_role", "acting_role",
	"practitioner_id", "claims", "request_id", "client_addr", "application_name",
	"backend_pid", "query", "relations", "row_count", "task_ids", "patient_ids"
};

enum
{
	COL_RECORDED_AT, COL_ACTION, COL_OUTCOME, COL_LOGIN_ROLE, COL_SESSION_ROLE,
	COL_ACTING_ROLE, COL_PRACTITIONER, COL_CLAIMS, COL_REQUEST_ID, COL_CLIENT_ADDR,
	COL_APPLICATION, COL_PID, COL_QUERY, COL_RELATIONS, COL_ROWS, COL_TASK_IDS,
	COL_PATIENT_IDS, NCOLS
};

/* The packed string of field f of r as a datum of type typid (text or name). */
static Datum
string_datum(const OmniAuditRecord *r, int f, Oid typid, bool *isnull)
{
	*isnull = (r->str[f] == NULL);
	if (*isnull)
		return (Datum) 0;
	if (typid == NAMEOID)
	{
		Name		n = palloc0(NAMEDATALEN);

		memcpy(NameStr(*n), r->str[f], Min(r->len[f], NAMEDATALEN - 1));
		return NameGetDatum(n);
	}
	return PointerGetDatum(cstring_to_text_with_len(r->str[f], r->len[f]));
}

/*
 * n packed strings at p as a text[], built in place: one allocation per
 * array instead of a text datum per id copied again by construct_array().
 */
static Datum
ids_datum(const char *p, int n)
{
	const char *q = p;
	Size		nbytes = 0;
	Size		total;
	ArrayType  *a;
	char	   *data;
	int			i;

	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	for (i = 0; i < n; i++)
	{
		const char *s;
		int32		l;

		q = omnitask_audit_next_string(q, &s, &l);
		nbytes += INTALIGN(VARHDRSZ + l);
	}
	total = ARR_OVERHEAD_NONULLS(1) + nbytes;
	a = palloc0(total);
	SET_VARSIZE(a, total);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = TEXTOID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	data = (char *) a + ARR_OVERHEAD_NONULLS(1);	/* no null bitmap */
	for (i = 0; i < n; i++)
	{
		const char *s;
		int32		l;

		p = omnitask_audit_next_string(p, &s, &l);
		SET_VARSIZE(data, VARHDRSZ + l);
		memcpy(VARDATA(data), s, l);
		data += INTALIGN(VARHDRSZ + l);
	}
	return PointerGetDatum(a);
}

/* "omnitask.a,omnitask.b" as a text[]. */
static Datum
relations_datum(const char *s, int len)
{
	Datum		elems[64];
	int			n = 0;
	const char *end = s + len;

	while (s < end && n < (int) lengthof(elems))
	{
		const char *comma = memchr(s, ',', end - s);
		const char *stop = comma ? comma : end;

		elems[n++] = PointerGetDatum(cstring_to_text_with_len(s, stop - s));
		s = stop + 1;
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The writer's view of omnitask.audit_log for one batch: the relation, its
 * result-relation info (constraints, indexes) and the default expressions
 * of the columns it does not fill (event_id's identity, written_at).
 */
#define AUDIT_MULTI_SLOTS	256		/* rows per table_multi_insert() */

typedef struct AuditTarget
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	AttrNumber	attno[NCOLS];
	int			ndefaults;
	AttrNumber	def_attno[8];
	ExprState  *def_expr[8];
} AuditTarget;

/*
 * What open_target() works out from the catalogs, kept across batches: the
 * table's OID, the attribute numbers of the columns the writer fills, and
 * the default expressions of the others.  Looking them up per batch (the
 * identity's sequence is a pg_depend scan) cost as much as inserting a few
 * dozen rows; a relcache invalidation of the table (ALTER, DROP, a new
 * default) or a reset of the whole cache makes the writer look again.
 * The slots the rows are formed in are kept too (creating a slot per row,
 * with its tuple descriptor's reference counted by the transaction's
 * resource owner, cost ~1,500 instructions a row): they are built on a
 * copy of the table's descriptor that no resource owner tracks, and hold
 * no buffer (their tuples are formed from values, in target_cxt), so they
 * outlive the transaction safely; they are emptied after each batch.
 */
typedef struct TargetCache
{
	bool		valid;
	Oid			relid;
	AttrNumber	attno[NCOLS];
	int			ndefaults;
	AttrNumber	def_attno[8];
	Node	   *def[8];			/* in target_cxt */
	TupleDesc	desc;			/* a copy of the table's, in target_cxt */
	int			nslots;			/* slots made so far */
	TupleTableSlot *slots[AUDIT_MULTI_SLOTS];	/* in target_cxt */
} TargetCache;

static TargetCache target_cache;
static MemoryContext target_cxt = NULL;

/* Relcache invalidation: forget the cached target if it is concerned. */
static void
target_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == target_cache.relid)
		target_cache.valid = false;
}

/* A copy of node in context cxt. */
static Node *
copy_node_in(MemoryContext cxt, Node *node)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Node	   *copy = copyObject(node);

	MemoryContextSwitchTo(old);
	return copy;
}

/* Fills the target cache from the open relation rel. */
static void
cache_target(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TargetCache *c = &target_cache;
	MemoryContext old;
	int			i;

	if (target_cxt == NULL)
	{
		target_cxt = AllocSetContextCreate(TopMemoryContext, "omnitask audit target",
										   ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(target_invalidate, (Datum) 0);
	}
	for (i = 0; i < c->nslots; i++)
		ExecDropSingleTupleTableSlot(c->slots[i]);
	c->nslots = 0;
	MemoryContextReset(target_cxt);
	c->valid = false;
	c->desc = NULL;
	c->relid = RelationGetRelid(rel);
	c->ndefaults = 0;
	for (i = 0; i < NCOLS; i++)
	{
		c->attno[i] = attnameAttNum(rel, audit_columns[i], false);
		if (c->attno[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"omnitask.audit_log\" does not exist", audit_columns[i])));
	}
	/* the defaults of every other column (as an INSERT would evaluate them) */
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Node	   *def;
		int			j;
		bool		filled = false;

		if (att->attisdropped)
			continue;
		for (j = 0; j < NCOLS; j++)
			filled |= (c->attno[j] == att->attnum);
		if (filled || (def = build_column_default(rel, att->attnum)) == NULL)
			continue;
		if (c->ndefaults >= (int) lengthof(c->def_attno))
			elog(ERROR, "relation \"omnitask.audit_log\" has too many columns with defaults");
		c->def_attno[c->ndefaults] = att->attnum;
		c->def[c->ndefaults] = copy_node_in(target_cxt, def);
		c->ndefaults++;
	}
	old = MemoryContextSwitchTo(target_cxt);
	c->desc = CreateTupleDescCopy(desc);
	MemoryContextSwitchTo(old);
	c->valid = true;
}

/*
 * The i-th slot of the target cache, made on first use (in target_cxt,
 * with the table's slot type).
 */
static TupleTableSlot *
target_slot(Relation rel, int i)
{
	TargetCache *c = &target_cache;

	Assert(i <= c->nslots && i < AUDIT_MULTI_SLOTS);
	if (i == c->nslots)
	{
		MemoryContext old = MemoryContextSwitchTo(target_cxt);

		c->slots[c->nslots++] = MakeSingleTupleTableSlot(c->desc, table_slot_callbacks(rel));
		MemoryContextSwitchTo(old);
	}
	return c->slots[i];
}

/* Opens omnitask.audit_log for inserting (in a transaction). */
static void
open_target(AuditTarget *t)
{
	Oid			relid;
	RangeTblEntry *rte;
	int			i;

	if (target_cache.valid)
		relid = target_cache.relid;
	else
	{
		relid = get_relname_relid("audit_log", get_namespace_oid("omnitask", false));
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"omnitask.audit_log\" does not exist")));
	}
	memset(t, 0, sizeof(*t));
	t->rel = table_open(relid, RowExclusiveLock);
	if (t->rel->rd_rel->relkind != RELKIND_RELATION)
		elog(ERROR, "\"omnitask.audit_log\" is not a table");
	/* (taking the lock processed any invalidation that came meanwhile) */
	if (!target_cache.valid || target_cache.relid != relid)
		cache_target(t->rel);
	memcpy(t->attno, target_cache.attno, sizeof(t->attno));

	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	exec_init_range_table(t->estate, list_make1(rte));
	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, t->rel, 1, NULL, 0);
	t->estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(t->rri, false);
	/* the table has none; the writer does not fire insert triggers, so refuse */
	if (t->rel->trigdesc &&
		(t->rel->trigdesc->trig_insert_before_row || t->rel->trigdesc->trig_insert_after_row ||
		 t->rel->trigdesc->trig_insert_instead_row || t->rel->trigdesc->trig_insert_before_statement ||
		 t->rel->trigdesc->trig_insert_after_statement || t->rel->trigdesc->trig_insert_new_table))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"omnitask.audit_log\" has an insert trigger"),
				 errdetail("The audit writer inserts without firing triggers; its records go to the server log instead.")));

	/* the defaults, prepared for this batch's executor state */
	for (i = 0; i < target_cache.ndefaults; i++)
	{
		t->def_attno[i] = target_cache.def_attno[i];
		t->def_expr[i] = ExecPrepareExpr((Expr *) copyObject(target_cache.def[i]), t->estate);
	}
	t->ndefaults = target_cache.ndefaults;
}

/* Closes what open_target() opened. */
static void
close_target(AuditTarget *t)
{
	ExecCloseIndices(t->rri);
	ExecResetTupleTable(t->estate->es_tupleTable, false);
	FreeExecutorState(t->estate);
	table_close(t->rel, NoLock);
}

/* Fills slot with the row of one unpacked record and stores it. */
static void
fill_slot(AuditTarget *t, TupleTableSlot *slot, const OmniAuditRecord *r)
{
	Datum	   *v = slot->tts_values;
	bool	   *n = slot->tts_isnull;
	ExprContext *econtext = GetPerTupleExprContext(t->estate);
	int			i;

	ExecClearTuple(slot);
	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		v[i] = (Datum) 0;
		n[i] = true;
	}
#define SET(col, val) (v[t->attno[col] - 1] = (val), n[t->attno[col] - 1] = false)
	SET(COL_RECORDED_AT, TimestampTzGetDatum((TimestampTz) r->ts));
	v[t->attno[COL_ACTION] - 1] = string_datum(r, AUDIT_S_ACTION, TEXTOID, &n[t->attno[COL_ACTION] - 1]);
	v[t->attno[COL_OUTCOME] - 1] = string_datum(r, AUDIT_S_OUTCOME, TEXTOID, &n[t->attno[COL_OUTCOME] - 1]);
	v[t->attno[COL_LOGIN_ROLE] - 1] = string_datum(r, AUDIT_S_LOGIN_ROLE, NAMEOID, &n[t->attno[COL_LOGIN_ROLE] - 1]);
	v[t->attno[COL_SESSION_ROLE] - 1] = string_datum(r, AUDIT_S_SESSION_ROLE, NAMEOID, &n[t->attno[COL_SESSION_ROLE] - 1]);
	v[t->attno[COL_ACTING_ROLE] - 1] = string_datum(r, AUDIT_S_CURRENT_ROLE, NAMEOID, &n[t->attno[COL_ACTING_ROLE] - 1]);
	v[t->attno[COL_PRACTITIONER] - 1] = string_datum(r, AUDIT_S_PRACTITIONER, TEXTOID, &n[t->attno[COL_PRACTITIONER] - 1]);
	v[t->attno[COL_CLAIMS] - 1] = string_datum(r, AUDIT_S_CLAIMS, TEXTOID, &n[t->attno[COL_CLAIMS] - 1]);
	v[t->attno[COL_REQUEST_ID] - 1] = string_datum(r, AUDIT_S_REQUEST_ID, TEXTOID, &n[t->attno[COL_REQUEST_ID] - 1]);
	v[t->attno[COL_CLIENT_ADDR] - 1] = string_datum(r, AUDIT_S_CLIENT_ADDR, TEXTOID, &n[t->attno[COL_CLIENT_ADDR] - 1]);
	v[t->attno[COL_APPLICATION] - 1] = string_datum(r, AUDIT_S_APPLICATION, TEXTOID, &n[t->attno[COL_APPLICATION] - 1]);
	SET(COL_PID, Int32GetDatum(r->pid));
	v[t->attno[COL_QUERY] - 1] = string_datum(r, AUDIT_S_QUERY, TEXTOID, &n[t->attno[COL_QUERY] - 1]);
	if (r->str[AUDIT_S_RELATIONS])
		SET(COL_RELATIONS, relations_datum(r->str[AUDIT_S_RELATIONS], r->len[AUDIT_S_RELATIONS]));
	SET(COL_ROWS, Int64GetDatum(r->rows));
	SET(COL_TASK_IDS, ids_datum(r->tasks, r->ntasks));
	SET(COL_PATIENT_IDS, ids_datum(r->patients, r->npatients));
#undef SET
	for (i = 0; i < t->ndefaults; i++)
	{
		AttrNumber	a = t->def_attno[i];

		v[a - 1] = ExecEvalExpr(t->def_expr[i], econtext, &n[a - 1]);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * Inserts n filled slots: one table_multi_insert() (one WAL record per
 * heap page rather than per row), then each row's index entries, after
 * checking the table's constraints, as COPY FROM does.  Without a
 * bulk-insert state: its 16 MB buffer ring (allocated per batch, ~15,000
 * instructions) suits loads of many pages, not batches of a few dozen rows,
 * and appending like an INSERT leaves the log's pages to the background
 * writer and the checkpointer.
 */
static void
insert_slots(AuditTarget *t, TupleTableSlot **slots, int n)
{
	int			i;

	if (n == 0)
		return;
	if (t->rel->rd_att->constr)
		for (i = 0; i < n; i++)
			ExecConstraints(t->rri, slots[i], t->estate);
	table_multi_insert(t->rel, slots, n, t->estate->es_output_cid, 0, NULL);
	if (t->rri->ri_NumIndices > 0)
		for (i = 0; i < n; i++)
			list_free(exec_insert_index_tuples(t->rri, slots[i], t->estate));
}

/* A batch to insert, for insert_batch(). */
typedef struct BatchWork
{
	StringInfo	batch;
	MemoryContext batch_cxt;
} BatchWork;

/*
 * Inserts the records of a batch (a BatchWork), in the transaction that
 * dbworker_transaction() runs; the rows are formed in batch_cxt.
 */
static void
insert_batch(void *arg)
{
	BatchWork  *w = arg;
	StringInfo	batch = w->batch;
	MemoryContext cxt = CurrentMemoryContext;
	AuditTarget t;
	TupleTableSlot *slots[AUDIT_MULTI_SLOTS];
	int			nslots = 0;
	int			used = 0;
	int			pos = 0;
	int			i;

	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(w->batch_cxt);
	open_target(&t);
	while (pos < batch->len)
	{
		uint32		len;
		OmniAuditRecord r;

		memcpy(&len, batch->data + pos, sizeof(uint32));
		pos += sizeof(uint32);
		if (len > (uint32) (batch->len - pos) ||
			!omnitask_audit_unpack(batch->data + pos, (int) len, &r))
			elog(ERROR, "malformed record in the audit queue");
		pos += len;
		if (nslots == used)
		{
			slots[nslots] = target_slot(t.rel, nslots);
			nslots++;
		}
		fill_slot(&t, slots[used], &r);
		if (++used == AUDIT_MULTI_SLOTS)
		{
			insert_slots(&t, slots, used);
			used = 0;
		}
	}
	insert_slots(&t, slots, used);
	for (i = 0; i < nslots; i++)
		ExecClearTuple(slots[i]);
	table_finish_bulk_insert(t.rel, 0);
	close_target(&t);
	MemoryContextSwitchTo(cxt);
	PopActiveSnapshot();
}

/*
 * Inserts one batch of packed records into omnitask.audit_log in one
 * transaction, committed asynchronously (see release_flushed()).  Not through SQL: the
 * writer forms each row from the packed record (no text to parse) and
 * inserts them with table_multi_insert() through a ResultRelInfo, so the
 * table's constraints, defaults (identity, written_at) and indexes apply
 * as for an INSERT (it fires no triggers, and refuses the batch if the
 * table has an insert trigger: the records then go to the server log).
 * The writer is a superuser (row-level security and grants do not apply to
 * it, as they would not to its INSERT).  false (after reporting the error)
 * when it could not insert; a malformed record fails the batch.
 */
static bool
write_batch(StringInfo batch, MemoryContext batch_cxt)
{
	BatchWork	w;
	bool		ok;

	w.batch = batch;
	w.batch_cxt = batch_cxt;
	ok = dbworker_transaction("omnitask audit writer: inserting", insert_batch, &w);
	MemoryContextReset(batch_cxt);
	return ok;
}

/*
 * Frees the ring bytes of the batches whose commit record the WAL has been
 * flushed past (by the WAL writer; by this process first when `flush`):
 * those records are durable in the table now.
 */
static void
release_flushed(AuditQueue *q, bool flush)
{
	XLogRecPtr	flushed;
	int			n = 0;

	if (n_unflushed == 0)
		return;
	if (flush)
		XLogFlush(unflushed[n_unflushed - 1].lsn);
	flushed = GetFlushRecPtr(NULL);
	while (n < n_unflushed && unflushed[n].lsn <= flushed)
		n++;
	if (n == 0)
		return;
	LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
	q->w.tail = unflushed[n - 1].end;
	LWLockRelease(audit->s.lock);
	n_unflushed -= n;
	memmove(unflushed, unflushed + n, n_unflushed * sizeof(unflushed[0]));
}

/*
 * Remembers a batch just committed (asynchronously) that ends at ring
 * position `end`: its bytes are freed once the WAL is flushed past its
 * commit record.
 */
static void
remember_unflushed(AuditQueue *q, uint64 end)
{
	if (n_unflushed == AUDIT_UNFLUSHED)
		release_flushed(q, true);
	unflushed[n_unflushed].lsn = XactLastCommitEnd;
	unflushed[n_unflushed].end = end;
	n_unflushed++;
}

/*
 * The writer's main loop: inserts what the readers of its database queued,
 * a batch per transaction; exits when idle, and writes the ring to the log
 * when the postmaster is gone.
 */
void
omnitask_audit_writer_main(Datum arg)
{
	int			qi = DatumGetInt32(arg);
	Oid			dboid;
	AuditQueue *q;
	StringInfoData batch;
	MemoryContext batch_cxt;
	TimestampTz idle_since;

	dboid = dbworker_connect(writer_sigterm);
	/*
	 * Its commits are asynchronous: the ring keeps a batch until the WAL
	 * (flushed by the WAL writer) is past its commit record, see
	 * release_flushed(), so a crash still finds it in the table or the ring.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("omnitask.audit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	if (audit == NULL || qi < 0 || qi >= AUDIT_QUEUES)
		proc_exit(0);
	q = queue_at(qi);
	/* the queue went to another database, another writer serves it, or
	 * the postmaster is gone */
	if (q->closed || !dbworker_attach(&q->w, audit->s.lock, dboid))
		proc_exit(0);
	before_shmem_exit(writer_detach, Int32GetDatum(qi));

	initStringInfo(&batch);
	/* a kept 1 MB block: a batch's rows fit without a malloc per batch */
	batch_cxt = AllocSetContextCreate(TopMemoryContext, "omnitask audit batch",
									  1024 * 1024, 1024 * 1024, 8 * 1024 * 1024);
	idle_since = GetCurrentTimestamp();
	inserted_to = q->w.tail;
	for (;;)
	{
		int			nrec;
		uint64		bytes;
		bool		crowded;
		int			rc;

		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			/* pg_reload_conf(): e.g. log_min_messages */
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!PostmasterIsAlive())
		{
			close_and_dump("The postmaster exited.");
			proc_exit(1);
		}
		bytes = collect_batch(q, inserted_to, &batch, &nrec, &crowded);
		/* readers may be short of room: free what is inserted, flushing */
		release_flushed(q, crowded);
		if (nrec > 0)
		{
			if (write_batch(&batch, batch_cxt))
			{
				inserted_to += bytes;
				remember_unflushed(q, inserted_to);
				count(C_WRITTEN, nrec);
			}
			else
			{
				/* not insertable (e.g. the extension was dropped): log them */
				release_flushed(q, true);	/* tail == inserted_to now */
				inserted_to += bytes;
				/* counted before the bytes are freed: who sees the ring
				 * drained sees the failure counted */
				count(C_FAILED_BATCHES, 1);
				LWLockAcquire(audit->s.lock, LW_EXCLUSIVE);
				{
					uint64		head = q->w.head;

					q->w.head = q->w.tail + bytes;
					(void) dump_queue(q, "The audit writer could not insert them into omnitask.audit_log.");
					q->w.head = head;
				}
				LWLockRelease(audit->s.lock);
			}
			idle_since = GetCurrentTimestamp();
			continue;
		}
		if (got_sigterm)
		{
			release_flushed(q, true);
			proc_exit(0);
		}
		if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(), AUDIT_IDLE_MS))
		{
			release_flushed(q, true);
			if (dbworker_retire_if_empty(&q->w, audit->s.lock))
				proc_exit(0);
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH,
					   AUDIT_POLL_MS, PG_WAIT_EXTENSION);
		(void) rc;
	}
}

/* audit_stats() as one row (the SQL function is in audit_api.c). */
Datum
omnitask_audit_stats_datum(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc;
	Datum		values[C_NCOUNTERS + 2];
	bool		nulls[C_NCOUNTERS + 2];
	int			i;
	int64		pending = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != C_NCOUNTERS + 2)
		elog(ERROR, "return type must have %d columns", C_NCOUNTERS + 2);
	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(audit != NULL);
	for (i = 0; i < C_NCOUNTERS; i++)
	{
		if (audit)
			values[i + 1] = Int64GetDatum((int64) pg_atomic_read_u64(&audit->counters[i]));
		else
			nulls[i + 1] = true;
	}
	if (audit)
	{
		LWLockAcquire(audit->s.lock, LW_SHARED);
		for (i = 0; i < AUDIT_QUEUES; i++)
			pending += (int64) (queue_at(i)->w.head - queue_at(i)->w.tail);
		LWLockRelease(audit->s.lock);
		values[C_NCOUNTERS + 1] = Int64GetDatum(pending);
	}
	else
		nulls[C_NCOUNTERS + 1] = true;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Module load: with shared_preload_libraries, set up the rings and the
 * setting that sizes them; otherwise table mode logs every record.
 */
void
omnitask_audit_queue_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("omnitask.audit_queue_size",
							"Sets the size of the read audit's queue of each database.",
							"Needs omnitask in shared_preload_libraries; a read that finds it full for 200 ms is written to the server log instead.",
							&omnitask_audit_queue_kb,
							1024, 64, 1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	dbworker_register_shmem("omnitask audit", audit_shmem_size, audit_shmem_attached);
}
