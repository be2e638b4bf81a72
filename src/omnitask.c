/*-------------------------------------------------------------------------
 *
 * omnitask.c
 *	  Module load: omnitask's settings (and, when preloaded, the NOTIFY
 *	  relay's shared memory).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "audit.h"
#include "fmgr.h"
#include "explain_guard.h"
#include "fhir_http.h"
#include "identity.h"
#include "notify_relay.h"
#include "omnitask.h"
#include "search.h"
#include "task_trigger.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

char	   *omnitask_jwt_authenticator = NULL;
char	   *omnitask_jwt_practitioner_claim = NULL;
bool		omnitask_notify = true;

void		_PG_init(void);

/*
 * Defines the omnitask.* settings.  They are superuser-only (PGC_SUSET):
 * they decide whose identity a session may assert and what is broadcast.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("omnitask.jwt_authenticator",
							   "Sets the role whose sessions may assert a practitioner identity through request.jwt.claims.",
							   "If empty, no session may. Set it to the PostgREST authenticator role.",
							   &omnitask_jwt_authenticator,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("omnitask.jwt_practitioner_claim",
							   "Sets the claim of request.jwt.claims that holds the practitioner id.",
							   NULL,
							   &omnitask_jwt_practitioner_claim,
							   "sub",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("omnitask.notify",
							 "Sets whether every stored change sends NOTIFY omnitask_task.",
							 NULL,
							 &omnitask_notify,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	omnitask_relay_init();		/* defines omnitask.notify_queue_size */
	omnitask_fhir_http_init();	/* defines omnitask.fhir_* */
	omnitask_audit_init();		/* omnitask.audit, omnitask.audit_queue_size */
	omnitask_task_trigger_init();	/* omnitask.revalidate_unchanged */
	search_init();				/* omnitask.search_token_plan */
	MarkGUCPrefixReserved("omnitask");
	omnitask_identity_init();
	omnitask_explain_guard_init();	/* EXPLAIN ANALYZE under row security */
}
