/*-------------------------------------------------------------------------
 *
 * fhir_feed.h
 *	  The change feed (omnitask.task_changes): cursor encoding and the
 *	  history Bundle of one page, assembled once in C (fhir_feed.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_FHIR_FEED_H
#define OMNITASK_FHIR_FEED_H

#include "postgres.h"

#include "fmgr.h"

/* the largest page a caller may ask for (_count) */
#define FHIR_FEED_MAX_COUNT 1000

#include "access/htup.h"
#include "access/tupdesc.h"

extern Datum feed_history_row(HeapTuple tuple, TupleDesc desc);
extern Datum omnitask_task_changes(PG_FUNCTION_ARGS);
extern Datum omnitask_task_changes_json(PG_FUNCTION_ARGS);

#endif							/* OMNITASK_FHIR_FEED_H */
