/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Per-backend cache of the catalog objects omnitask's C code uses: its
 *	  namespace, its tables, the OIDs of its enum labels and the positions
 *	  of the task-status codes; what Citus made of omnitask's tables (the
 *	  local copy of a reference table, whether task is distributed); and
 *	  the trigger that tells every backend to drop the caches of omnitask's
 *	  tables (identity.c's practitioner registry, workflow.c's compiled
 *	  workflow), each of which registers its own relcache callback.
 *
 * Looked up once per backend and forgotten whenever a type, namespace or
 * relation changes (e.g. DROP/CREATE EXTENSION), so the per-row path does
 * no catalog look-ups.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "catalog.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fhir_tables.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(omnitask_invalidate_caches);
PG_FUNCTION_INFO_V1(omnitask_task_is_distributed_sql);

#define MAX_LABELS 16

typedef struct EnumCache
{
	const char *typname;
	int			vs;				/* the value set whose codes are the labels */
	int			nlabels;
	const char *labels[MAX_LABELS];
	Oid			oids[MAX_LABELS];
} EnumCache;

static bool cache_valid = false;
static bool callbacks_registered = false;
static Oid	namespace_oid = InvalidOid;
static EnumCache enums[] = {
	{.typname = "task_status", .vs = FHIR_VS_TASK_STATUS},
	{.typname = "task_intent", .vs = FHIR_VS_TASK_INTENT},
	{.typname = "task_priority", .vs = FHIR_VS_REQUEST_PRIORITY},
};

/* Forgets everything cached; the next use looks it up again. */
static void
invalidate_cache(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

/*
 * Fills the cache.  Each enum must carry exactly the codes of its R4 value
 * set: the C tables and the SQL types are both generated from the spec, and
 * a mismatch is a broken installation.
 */
static void
fill_cache(void)
{
	int			i;

	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_cache, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, invalidate_cache, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMOID, invalidate_cache, (Datum) 0);
		callbacks_registered = true;
	}
	namespace_oid = get_namespace_oid("omnitask", false);
	for (i = 0; i < (int) lengthof(enums); i++)
	{
		EnumCache  *ec = &enums[i];
		const FhirValueSet *vs = &fhir_valuesets[ec->vs];
		Oid			typoid;
		int			j;

		typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								 CStringGetDatum(ec->typname),
								 ObjectIdGetDatum(namespace_oid));
		if (!OidIsValid(typoid))
			elog(ERROR, "type \"omnitask.%s\" does not exist", ec->typname);
		if (vs->ncodes > MAX_LABELS)
			elog(ERROR, "value set \"%s\" has too many codes", vs->url);
		ec->nlabels = vs->ncodes;
		for (j = 0; j < vs->ncodes; j++)
		{
			HeapTuple	tup;

			ec->labels[j] = vs->codes[j];
			tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(typoid),
								  CStringGetDatum(vs->codes[j]));
			if (!HeapTupleIsValid(tup))
				elog(ERROR, "enum \"omnitask.%s\" has no label \"%s\" of value set \"%s\"",
					 ec->typname, vs->codes[j], vs->url);
			ec->oids[j] = ((Form_pg_enum) GETSTRUCT(tup))->oid;
			ReleaseSysCache(tup);
		}
	}
	cache_valid = true;
}

/* The OID of the omnitask schema. */
Oid
omnitask_namespace_oid(void)
{
	if (!cache_valid)
		fill_cache();
	return namespace_oid;
}

/* The OID of a relation in the omnitask schema. */
Oid
omnitask_relid(const char *relname)
{
	Oid			relid = get_relname_relid(relname, omnitask_namespace_oid());

	if (!OidIsValid(relid))
		elog(ERROR, "relation \"omnitask.%s\" does not exist", relname);
	return relid;
}

/*
 * How many Citus shards omnitask.<relname> has (0: not a Citus table, or
 * no Citus in this database; 1 for a reference table) and, in *shardid,
 * one of them.  Read from pg_dist_shard without SPI (the registry is
 * loaded inside row-level security checks).
 */
static int
citus_shards(const char *relname, int64 *shardid)
{
	Oid			relid = omnitask_relid(relname);
	Oid			dist_shard = get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	int			nshards = 0;

	*shardid = 0;
	if (!OidIsValid(dist_shard))
		return 0;				/* no Citus in this database */
	rel = table_open(dist_shard, AccessShareLock);
	/* pg_dist_shard (logicalrelid regclass, shardid bigint, ...) */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 2, RelationGetDescr(rel), &isnull);

		if (!isnull)
			*shardid = DatumGetInt64(d);
		nshards++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nshards;
}

/*
 * The relation that holds the rows of omnitask.<relname> in this node: the
 * table itself, or, once Citus has made it a reference table, the local
 * placement of its one shard (omnitask.<relname>_<shardid>).  On a Citus
 * node the table itself is an empty shell; the registry and the workflow
 * must be read from the copy every node keeps.  Looked up only when a
 * cache is filled, so the per-row path pays nothing.
 */
Oid
omnitask_local_relid(const char *relname)
{
	Oid			relid = omnitask_relid(relname);
	int64		shardid;
	Oid			local;

	if (citus_shards(relname, &shardid) != 1)
		return relid;			/* not a Citus table, or not a reference table */
	local = get_relname_relid(psprintf("%s_" INT64_FORMAT, relname, shardid),
							  omnitask_namespace_oid());
	return OidIsValid(local) ? local : relid;
}

/*
 * Whether omnitask.task is distributed by Citus in this database (a row of
 * pg_dist_partition names it; one catalog lookup without Citus): the
 * writes whose rows are routed by id before any trigger runs (imports,
 * conditional creates) then take the distributed path, and a search page
 * fetches ids first.
 */
bool
omnitask_task_is_distributed(void)
{
	Oid			dist = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(dist))
		return false;			/* no Citus in this database */
	rel = table_open(dist, AccessShareLock);
	/* pg_dist_partition (logicalrelid regclass, ...) */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(omnitask_relid("task")));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * omnitask.task_is_distributed() -> boolean: omnitask_task_is_distributed()
 * for the SQL functions that take another path on Citus.
 */
Datum
omnitask_task_is_distributed_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(omnitask_task_is_distributed());
}

/*
 * The OID of an enum label given as a slice of the document; the validator
 * has already checked the code against the value set.
 */
Oid
omnitask_enum_oid(OmniEnum which, FhirSlice label)
{
	EnumCache  *ec = &enums[which];
	int			j;

	if (!cache_valid)
		fill_cache();
	for (j = 0; j < ec->nlabels; j++)
	{
		if (strlen(ec->labels[j]) == (size_t) label.len &&
			memcmp(ec->labels[j], label.s, label.len) == 0)
			return ec->oids[j];
	}
	elog(ERROR, "invalid label \"%.*s\" for enum \"omnitask.%s\"", label.len, label.s,
		 ec->typname);
	return InvalidOid;			/* keep compiler quiet */
}

/* The position in the task-status value set of a task_status enum OID. */
int
task_status_index_of_oid(Oid oid)
{
	EnumCache  *ec = &enums[OMNI_ENUM_STATUS];
	int			j;

	if (!cache_valid)
		fill_cache();
	for (j = 0; j < ec->nlabels; j++)
	{
		if (ec->oids[j] == oid)
			return j;
	}
	elog(ERROR, "invalid OID %u for enum \"omnitask.task_status\"", oid);
	return -1;					/* keep compiler quiet */
}

/* Position of a status code in the task-status value set, or -1. */
int
task_status_index(const char *s, int len)
{
	const FhirValueSet *vs = &fhir_valuesets[FHIR_VS_TASK_STATUS];
	int			i;

	for (i = 0; i < vs->ncodes; i++)
	{
		if ((int) strlen(vs->codes[i]) == len && memcmp(vs->codes[i], s, len) == 0)
			return i;
	}
	return -1;
}

/* The status code at a position of the task-status value set. */
const char *
task_status_code(int i)
{
	return fhir_valuesets[FHIR_VS_TASK_STATUS].codes[i];
}

/*
 * Statement trigger on the registry and the workflow definition: every
 * backend forgets its cached copy when the change commits.
 */
Datum
omnitask_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "function \"%s\" was not called by trigger manager", "invalidate_caches");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * The value of column att in the first row of rel that snap sees: how the
 * one-row tables (the workflow definition, the feed shift) are read without
 * SPI.  Returns false when the table has no row; *isnull tells a NULL value.
 * A by-reference value is copied into the caller's memory context, so it
 * outlives the scan.
 */
bool
omnitask_first_row_value(Relation rel, Snapshot snap, AttrNumber att,
						 Datum *value, bool *isnull)
{
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = table_scan_getnextslot(scan, ForwardScanDirection, slot);

	*value = (Datum) 0;
	*isnull = true;
	if (found)
	{
		Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), att - 1);
		Datum		d = slot_getattr(slot, att, isnull);

		if (!*isnull)
			*value = datumCopy(d, attr->attbyval, attr->attlen);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	return found;
}
