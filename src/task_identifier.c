/*-------------------------------------------------------------------------
 *
 * task_identifier.c
 *	  The business-identifier claims of omnitask.task_identifier: an AFTER
 *	  ROW trigger on omnitask.task that claims each identifier (system and
 *	  value) of the stored version for its task unless another task holds
 *	  it, and releases the claims an update removed.
 *
 *	  The primary key (system, value) of the claims is what makes a
 *	  conditional create race-free: a concurrent claim of the same
 *	  identifier waits (INSERT ... ON CONFLICT DO NOTHING) for the
 *	  transaction that made it.  Users cannot write the claims; the trigger
 *	  writes them with the rights of the table's owner, as the history is
 *	  written (task_trigger.c) and as PostgreSQL's RI triggers do, so no
 *	  SECURITY DEFINER function is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(omnitask_task_identifier_claim);

/* Kept plans: release the claims an update dropped; claim the others. */
static SPIPlanPtr release_plan = NULL;
static SPIPlanPtr claim_plan = NULL;

/* The identifiers with a system and a value of a resource ($2), for task $1. */
#define IDENTIFIERS_OF_RESOURCE \
	"SELECT e ->> 'system' AS system, e ->> 'value' AS value " \
	"FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof($2 -> 'identifier') = 'array' " \
	"THEN $2 -> 'identifier' END) e " \
	"WHERE e ->> 'system' IS NOT NULL AND e ->> 'value' IS NOT NULL"

/* Prepares and keeps one plan taking (id text, resource jsonb). */
static SPIPlanPtr
keep_plan(const char *sql)
{
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	SPIPlanPtr	plan = SPI_prepare(sql, 2, argtypes);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	rc = SPI_keepplan(plan);
	if (rc != 0)
		elog(ERROR, "SPI_keepplan failed: %s", SPI_result_code_string(rc));
	return plan;
}

/*
 * omnitask.task_identifier_claim(): AFTER INSERT OR UPDATE FOR EACH ROW on
 * omnitask.task (the triggers' WHEN clauses skip rows whose identifiers did
 * not change).
 */
Datum
omnitask_task_identifier_claim(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tup;
	int			id_att;
	int			res_att;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "function \"%s\" must be fired AFTER ROW for INSERT or UPDATE", "task_identifier_claim");

	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	id_att = SPI_fnumber(desc, "id");
	res_att = SPI_fnumber(desc, "resource");
	if (id_att <= 0 || res_att <= 0)
		elog(ERROR, "function \"%s\" fired on a table without columns \"id\" and \"resource\"", "task_identifier_claim");
	values[0] = heap_getattr(tup, id_att, desc, &isnull);
	if (isnull)
		elog(ERROR, "null value in column \"id\" of a task");
	values[1] = heap_getattr(tup, res_att, desc, &isnull);
	if (isnull)
		PG_RETURN_POINTER(NULL);

	rc = SPI_connect();
	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (release_plan == NULL)
		release_plan = keep_plan("DELETE FROM omnitask.task_identifier ti WHERE ti.task_id = $1 "
								 "AND (ti.system, ti.value) NOT IN (" IDENTIFIERS_OF_RESOURCE ")");
	if (claim_plan == NULL)
		claim_plan = keep_plan("INSERT INTO omnitask.task_identifier (system, value, task_id) "
							   "SELECT i.system, i.value, $1 FROM (" IDENTIFIERS_OF_RESOURCE ") i "
							   "ON CONFLICT DO NOTHING");

	/* the owner's rights; restored by the (sub)transaction's abort on error */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		rc = SPI_execute_plan(release_plan, values, nulls, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "could not release identifiers: %s", SPI_result_code_string(rc));
	}
	rc = SPI_execute_plan(claim_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not claim identifiers: %s", SPI_result_code_string(rc));
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	PG_RETURN_POINTER(NULL);
}
