/*-------------------------------------------------------------------------
 *
 * task_columns.h
 *	  The columns of omnitask.task and how each follows from the resource
 *	  (task_columns.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_COLUMNS_H
#define TASK_COLUMNS_H

#include "access/htup.h"
#include "fhir_validate.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

/* Columns of omnitask.task, in the order of the contract. */
typedef enum TaskCol
{
	COL_ID,
	COL_VERSION_ID,
	COL_LAST_UPDATED,
	COL_STATUS,
	COL_INTENT,
	COL_PRIORITY,
	COL_OWNER_ID,
	COL_PATIENT_ID,
	COL_REQUESTER,
	COL_CODE,
	COL_DESCRIPTION,
	COL_AUTHORED_ON,
	COL_LAST_MODIFIED,
	COL_DUE_AT,
	COL_RESOURCE,
	COL_SEARCH_TOKENS,			/* 0.4 */
	COL_BUSINESS_STATUS,		/* 0.4 */
	COL_BUSINESS_STATUS_TOKEN,	/* 0.7 */
	COL_CODE_TOKEN,				/* 0.8 */
	NUM_TASK_COLS
} TaskCol;

/* The first column a table of an older version may not have yet. */
#define COL_FIRST_OPTIONAL	COL_SEARCH_TOKENS

/*
 * A search token of search_tokens longer than this is kept as a hash
 * ("param#" and 16 hex digits): a GIN entry must fit in a third of a page.
 */
#define TASK_TOKEN_MAX		256

extern const int *task_attnums(Relation rel);
extern HeapTuple task_modify_row(HeapTuple tup, TupleDesc desc, const int *att,
								 Datum *values, bool *nulls);
/*
 * business_status_token (code_token) of a businessStatus (code) with more
 * than one coding with a key (task_columns.c, task_coding_key); a key
 * starts with "business-status:" ("code:").
 */
#define TASK_BS_TOKEN_MANY	"*"

extern char *task_coding_key(const char *param, const char *system, int slen,
							 const char *code, int clen);
extern char *task_search_token(const char *param, const char *system, int slen,
							   const char *code, int clen, bool *hashed);
extern char *omnitask_fhir_instant(TimestampTz ts);
extern TimestampTz task_when_timestamp(const FhirWhen *w, bool at_end);
extern void task_derive_columns(const TaskFacts *f, const char *id, int32 version,
								TimestampTz last_updated, TimestampTz last_modified,
								Jsonb *resource, Datum *values, bool *nulls);
extern bool task_derive_stored(Jsonb *doc, FhirResult *res, Datum *values,
							   bool *nulls, char **problem);

#endif							/* TASK_COLUMNS_H */
