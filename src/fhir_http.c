/*-------------------------------------------------------------------------
 *
 * fhir_http.c
 *	  Settings of the FHIR HTTP interface (schema fhir): the base URL of
 *	  absolute links and whether updates must carry If-Match.
 *
 *	  The settings are superuser-only (PGC_SUSET): a client must not be able
 *	  to turn off the If-Match requirement or redirect the links it is given.
 *	  They are read through the C functions below, so calling one of them
 *	  loads the library first; a placeholder value set by an unprivileged
 *	  session before the library was loaded is then discarded by
 *	  PostgreSQL instead of being believed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "fhir_http.h"
#include "fhir_validate.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

char	   *omnitask_fhir_base_url = NULL;
bool		omnitask_fhir_require_if_match = false;

PG_FUNCTION_INFO_V1(omnitask_fhir_base_url_fn);
PG_FUNCTION_INFO_V1(omnitask_fhir_require_if_match_fn);
PG_FUNCTION_INFO_V1(omnitask_fhir_respond);

/*
 * Defines omnitask.fhir_base_url and omnitask.fhir_require_if_match; called
 * from _PG_init before the prefix is reserved.
 */
void
omnitask_fhir_http_init(void)
{
	DefineCustomStringVariable("omnitask.fhir_base_url",
							   "Sets the base URL of the FHIR endpoint used in Location, fullUrl and Bundle links.",
							   "For example https://fhir.example.org/fhir (no trailing slash). Empty gives relative URLs.",
							   &omnitask_fhir_base_url,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("omnitask.fhir_require_if_match",
							 "Sets whether FHIR updates and patches must carry an If-Match header.",
							 "Without one they are refused with HTTP 428.",
							 &omnitask_fhir_require_if_match,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * omnitask.fhir_base_url() -> text: the base URL without a trailing slash
 * ("" when unset).
 */
Datum
omnitask_fhir_base_url_fn(PG_FUNCTION_ARGS)
{
	const char *url = omnitask_fhir_base_url ? omnitask_fhir_base_url : "";
	int			len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	PG_RETURN_TEXT_P(cstring_to_text_with_len(url, len));
}

/*
 * omnitask.fhir_require_if_match() -> boolean.
 */
Datum
omnitask_fhir_require_if_match_fn(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(omnitask_fhir_require_if_match);
}

/*
 * omnitask.fhir_respond(status integer, headers jsonb) -> void: sets
 * PostgREST's response.status and response.headers for the rest of the
 * transaction, as set_config(..., true) does (NULL resets a setting).  In C
 * because every write answers through it: as an SQL function of two
 * set_config() calls it could not be inlined and was parsed and planned
 * again in every transaction.
 */
Datum
omnitask_fhir_respond(PG_FUNCTION_ARGS)
{
	GucContext	context = superuser() ? PGC_SUSET : PGC_USERSET;
	char	   *status = PG_ARGISNULL(0) ? NULL : psprintf("%d", PG_GETARG_INT32(0));
	char	   *headers = NULL;

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(1);

		headers = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	(void) set_config_option("response.status", status, context, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("response.headers", headers, context, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_VOID();
}
