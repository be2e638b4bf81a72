/*-------------------------------------------------------------------------
 *
 * task_rules.h
 *	  The rules a write of a task must follow beyond being a valid FHIR
 *	  Task (task_rules.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_RULES_H
#define TASK_RULES_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fhir_validate.h"
#include "identity.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* One write of omnitask.task, as the rules see it. */
typedef struct TaskWrite
{
	const OmniCaller *caller;
	bool		is_insert;
	bool		is_import;
	const char *id;
	const char *old_owner;		/* practitioner id, NULL when unassigned or new */
	int			old_status;		/* task_status_index, -1 when new */
	Datum		old_resource;	/* the old row's resource (an update) */
} TaskWrite;

extern void task_check_caller(const OmniCaller *c);
extern void task_check_immutable(const TaskWrite *w, FhirResult *res,
								 HeapTuple oldtup, TupleDesc desc, const int *att,
								 TimestampTz authored);
extern void task_check_owner(const TaskWrite *w, FhirResult *res);
extern void task_check_workflow(const TaskWrite *w, FhirResult *res);
extern void task_check_terminal(const TaskWrite *w, FhirResult *res,
								Jsonb *new_doc);

#endif							/* TASK_RULES_H */
