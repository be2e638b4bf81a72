/*-------------------------------------------------------------------------
 *
 * feed_position.c
 *	  feed_position(): the change-feed position of the versions this
 *	  transaction stores, the default of omnitask.task_history.xid.
 *
 * A position is the transaction's (top-level) xid plus the one value of
 * omnitask.feed_shift.shift (raised by a restore; see the 0.2--0.3 script).
 * It was a SQL function; PostgreSQL 15 to 17 parse and plan a SQL function's
 * body again in every statement that calls it (its cache lives in the
 * calling expression's state), and run an executor for each call: ~138k
 * instructions per single-row write (test/bench/icount.sh, status change),
 * ~7% of it.  Here it is one scan of a one-row table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(omnitask_feed_position);

/* The attribute number of column name of rel, or 0. */
static AttrNumber
column_number(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	return 0;
}

/*
 * feed_position() -> xid8: this transaction's xid (assigned now if it has
 * none, as pg_current_xact_id() does) plus omnitask.feed_shift.shift, read
 * as the SQL function did: with the caller's rights (SELECT on the table),
 * through a snapshot taken now (in READ COMMITTED, a shift committed since
 * the statement began counts), the first row it finds; NULL when the
 * table has no row.
 */
Datum
omnitask_feed_position(PG_FUNCTION_ARGS)
{
	FullTransactionId fxid;
	Oid			relid;
	AclResult	aclresult;
	Relation	rel;
	Snapshot	snap;
	AttrNumber	shift_att;
	Datum		d;
	bool		found,
				isnull = true;
	int64		shift = 0;
	uint64		pos;

	PreventCommandDuringRecovery("omnitask.feed_position()");
	fxid = GetTopFullTransactionId();
	relid = omnitask_relid("feed_shift");
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, "feed_shift");
	/* its rows: the table, or its local copy should Citus hold it */
	rel = table_open(omnitask_local_relid("feed_shift"), AccessShareLock);
	shift_att = column_number(rel, "shift");
	if (shift_att == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"shift\" of relation \"omnitask.feed_shift\" does not exist")));
	snap = RegisterSnapshot(GetTransactionSnapshot());
	found = omnitask_first_row_value(rel, snap, shift_att, &d, &isnull);
	if (found && !isnull)
		shift = DatumGetInt64(d);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	if (!found || isnull)
		PG_RETURN_NULL();
	/* the SQL function added in numeric and cast back: out of range errs */
	if (shift < 0 || U64FromFullTransactionId(fxid) > PG_UINT64_MAX - (uint64) shift)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("change-feed position out of range"),
				 errdetail("Transaction %llu plus shift %lld does not fit in an xid8.",
						   (unsigned long long) U64FromFullTransactionId(fxid),
						   (long long) shift)));
	pos = U64FromFullTransactionId(fxid) + (uint64) shift;
	PG_RETURN_FULLTRANSACTIONID(FullTransactionIdFromU64(pos));
}
