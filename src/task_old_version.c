/*-------------------------------------------------------------------------
 *
 * task_old_version.c
 *	  The stored version an update of a task replaces, expanded once for
 *	  every reader of the write.
 *
 * A status change reads the stored resource three times: the edit that
 * builds the new version from it (omnitask.task_with_status(), task_edit.c),
 * the BEFORE trigger (the unchanged elements it need not validate again, a
 * terminal task's frozen content: task_trigger.c, task_rules.c) and the
 * identifier claims (whether the update changed Task.identifier:
 * task_identifier.c).  A resource of more than about 2 kB is stored
 * compressed or out of line, and each of those reads paid a pglz expansion,
 * about 10 instructions per byte of the document.  Here the first reader's
 * expansion is kept, with the stored bytes it came from (the compressed
 * datum, or the TOAST pointer), and a later reader whose datum is the same
 * stored bytes gets a copy of it instead.
 *
 * The same stored bytes are the same value.  A compressed datum expands to
 * one document.  A TOAST pointer names a value (its TOAST table and OID)
 * that is never changed in place: an update stores a new value under a new
 * OID, and an OID comes back only after the value holding it was deleted,
 * vacuumed away and the OID counter went round its 2^32 values.  The entry
 * is kept for one transaction (its lxid; in TopTransactionContext, so it
 * goes with the transaction), and only one entry: the last version read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"
#include "task_old_version.h"
#include "utils/memutils.h"
#include "pg_compat.h"

/* The version last expanded: its stored bytes and the document. */
static LocalTransactionId kept_lxid = InvalidLocalTransactionId;
static struct varlena *kept_stored = NULL;
static Jsonb *kept_doc = NULL;

/* Whether reading this stored datum means a pglz expansion or a TOAST fetch. */
static inline bool
needs_expansion(struct varlena *v)
{
	return VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL_ONDISK(v);
}

/* Whether stored is the same stored bytes as the kept version's. */
static bool
is_kept(struct varlena *v)
{
	Size		len;

	if (kept_lxid != MyProcLxid || kept_doc == NULL)
		return false;
	len = VARSIZE_ANY(v);
	return len == VARSIZE_ANY(kept_stored) && memcmp(v, kept_stored, len) == 0;
}

/* Expands stored and keeps the document, replacing the version kept before. */
static void
keep(struct varlena *v)
{
	MemoryContext old;
	Size		len = VARSIZE_ANY(v);

	if (kept_lxid == MyProcLxid && kept_doc != NULL)
	{
		pfree(kept_stored);
		pfree(kept_doc);
	}
	kept_doc = NULL;
	old = MemoryContextSwitchTo(TopTransactionContext);
	kept_stored = palloc(len);
	memcpy(kept_stored, v, len);
	kept_doc = DatumGetJsonbP(PointerGetDatum(v));
	MemoryContextSwitchTo(old);
	kept_lxid = MyProcLxid;
}

/*
 * The document a stored resource datum holds, as DatumGetJsonbP() gives it:
 * the datum itself when it is stored in line and uncompressed, otherwise a
 * copy in the current memory context, expanded at most once per version.
 */
Jsonb *
task_old_version(Datum stored)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(stored);
	Jsonb	   *doc;

	if (!needs_expansion(v))
		return DatumGetJsonbP(stored);
	if (!is_kept(v))
		keep(v);
	doc = palloc(VARSIZE(kept_doc));
	memcpy(doc, kept_doc, VARSIZE(kept_doc));
	return doc;
}

/* Whether task_old_version(stored) costs no expansion (a copy at most). */
bool
task_old_version_at_hand(Datum stored)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(stored);

	return !needs_expansion(v) || is_kept(v);
}
