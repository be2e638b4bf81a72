/*-------------------------------------------------------------------------
 *
 * workflow.h
 *	  The status workflow: its compiled form (workflow_parse.c) and the one
 *	  in force (workflow.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_WORKFLOW_H
#define OMNITASK_WORKFLOW_H

#include "fhir_tables.h"

/* The number of task statuses: the codes of the R4 task-status value set. */
#define WF_NSTATUS				12
StaticAssertDecl(WF_NSTATUS == FHIR_VS_TASK_STATUS_NCODES,
				 "WF_NSTATUS must be the number of task-status codes");

#define WF_ROLE_ADMIN			0x01
#define WF_ROLE_PRACTITIONER	0x02

typedef struct Workflow
{
	uint8		roles[WF_NSTATUS][WF_NSTATUS];	/* [from][to]: WF_ROLE_* allowed */
	uint32		creatable;		/* bit per status */
	uint32		terminal;
	uint32		reason_required;
} Workflow;

extern void workflow_parse(const char *text, Workflow *wf);
extern const Workflow *workflow_current(void);
extern char *workflow_reachable(const Workflow *wf, int from, uint8 role_bits);
extern char *workflow_creatable(const Workflow *wf);

#endif							/* OMNITASK_WORKFLOW_H */
