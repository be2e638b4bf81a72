/*-------------------------------------------------------------------------
 *
 * task_trigger.h
 *	  The row triggers of omnitask.task (task_trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_TRIGGER_H
#define TASK_TRIGGER_H

#include "access/htup.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/* Writes that import_task() is making: keep the id, allow any status. */
extern int	omnitask_import_depth;
/* The Task import_task() is storing (its id is the id column's default). */
extern Jsonb *omnitask_import_doc;

extern void omnitask_task_trigger_init(void);
extern Datum task_stored_resource(Relation rel, HeapTuple tuple, bool is_insert, Datum stored);

#endif							/* TASK_TRIGGER_H */
