/*-------------------------------------------------------------------------
 *
 * omnitask.h
 *	  Declarations shared between omnitask's C files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_H
#define OMNITASK_H

#include "postgres.h"

#include "fhir_validate.h"
#include "utils/timestamp.h"

/* Settings (omnitask.c). */
extern char *omnitask_jwt_authenticator;
extern char *omnitask_jwt_practitioner_claim;
extern bool omnitask_notify;
extern int	omnitask_notify_queue_size;

/* Settings of the FHIR HTTP interface (fhir_http.c). */
extern char *omnitask_fhir_base_url;
extern bool omnitask_fhir_require_if_match;
extern void omnitask_fhir_http_init(void);

/* NOTIFY omnitask_task after commit (notify_relay.c). */
extern void omnitask_relay_init(void);
extern void omnitask_notify_change(const char *payload);

/* The enum types of the contract (catalog.c). */
typedef enum OmniEnum
{
	OMNI_ENUM_STATUS,
	OMNI_ENUM_INTENT,
	OMNI_ENUM_PRIORITY
} OmniEnum;

extern Oid	omnitask_enum_oid(OmniEnum which, FhirSlice label);
extern Oid	omnitask_namespace_oid(void);
extern Oid	omnitask_relid(const char *relname);
extern int	task_status_index_of_oid(Oid oid);

/* The caller of the current statement (identity.c). */
typedef struct OmniCaller
{
	bool		is_superuser;
	bool		is_admin;		/* superuser or member of omnitask_admin */
	bool		is_practitioner;	/* member of omnitask_practitioner */
	bool		is_auditor;		/* member of omnitask_auditor */
	char		role_name[NAMEDATALEN];	/* current_user */
	char		practitioner_id[72];	/* "" when the caller has none */
} OmniCaller;

extern const OmniCaller *omnitask_caller(void);
extern bool omnitask_practitioner_known(FhirSlice id, bool *active);
extern void omnitask_identity_init(void);
extern char *omnitask_claimed_practitioner(const char *claims);

/* The status workflow (workflow.c). */
#define WF_NSTATUS				12
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
extern void omnitask_workflow_relcache_callback(Oid relid);
extern int	task_status_index(const char *s, int len);
extern const char *task_status_code(int i);
extern char *workflow_reachable(const Workflow *wf, int from, uint8 role_bits);
extern char *workflow_creatable(const Workflow *wf);

/* One write of omnitask.task, as the rules see it (task_rules.c). */
typedef struct TaskWrite
{
	const OmniCaller *caller;
	bool		is_insert;
	bool		is_import;
	const char *id;
	const char *old_owner;		/* practitioner id, NULL when unassigned or new */
	int			old_status;		/* task_status_index, -1 when new */
} TaskWrite;

extern void task_check_caller(const OmniCaller *c);
extern void task_check_owner(const TaskWrite *w, FhirResult *res);
extern void task_check_workflow(const TaskWrite *w, FhirResult *res);
extern void task_check_terminal(const TaskWrite *w, FhirResult *res,
								Jsonb *old_doc, Jsonb *new_doc);

/* Writes that import_task() is making (task_trigger.c). */
extern int	omnitask_import_depth;

/* Formats a timestamp as a FHIR instant in UTC (task_trigger.c). */
extern char *omnitask_fhir_instant(TimestampTz ts);

/* The omnitask profile on top of base R4 (task_profile.c). */
extern void task_profile_check(FhirResult *res, TimestampTz now);
extern FhirSlice task_reference_id(FhirSlice ref, const char *type);

#endif							/* OMNITASK_H */
