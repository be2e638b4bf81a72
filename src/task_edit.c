/*-------------------------------------------------------------------------
 *
 * task_edit.c
 *	  The targeted edits of a stored Task, built by copying what they keep:
 *	  omnitask.task_with_status().
 *
 * set_task_status() used to build the new version as
 * (resource - 'statusReason') || {"status": ...}: two passes that unpack
 * every element of the document and encode it again (pushJsonbValue),
 * about 140k instructions for a 1.3 kB Task, to change one or two of its
 * root elements.  Here the root pairs kept are copied as stored bytes
 * (jsonb_object_splice()) next to the new ones, and the stored version is
 * read through task_old_version(), so the BEFORE trigger and the
 * identifier claims of the same update find it expanded already.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fhir_outcome.h"
#include "fmgr.h"
#include "jsonb_splice.h"
#include "task_old_version.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(omnitask_task_with_status);

/* Pushes one string value of a text datum (fhir_push_string() takes C strings). */
static void
push_text(JsonbParseState **ps, JsonbIteratorToken tok, text *t)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = VARDATA_ANY(t);
	v.val.string.len = VARSIZE_ANY_EXHDR(t);
	pushJsonbValue(ps, tok, &v);
}

/*
 * omnitask.task_with_status(resource jsonb, status text, reason text)
 * -> jsonb: resource without statusReason, with status set to status and,
 * when reason is not NULL, statusReason set to {"text": reason} -- the same
 * document as (resource - 'statusReason') || jsonb_build_object('status',
 * status[, 'statusReason', jsonb_build_object('text', reason)]).  NULL when
 * resource or status is NULL.  set_task_status() builds the new version
 * with it.
 */
Datum
omnitask_task_with_status(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	Jsonb	   *change;
	JsonbParseState *ps = NULL;
	JsonbPairs	kept,
				added;
	bool	   *keep;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	doc = task_old_version(PG_GETARG_DATUM(0));
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a FHIR resource must be a JSON object"),
				 errdetail("task_with_status() was given a JSON %s.",
						   JB_ROOT_IS_SCALAR(doc) ? "scalar" : "array"),
				 errhint("Pass the Task as stored in omnitask.task.resource.")));

	/* the new pairs, in jsonb key order: status, then statusReason */
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_string(&ps, WJB_KEY, "status");
	push_text(&ps, WJB_VALUE, PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
	{
		fhir_push_string(&ps, WJB_KEY, "statusReason");
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		fhir_push_string(&ps, WJB_KEY, "text");
		push_text(&ps, WJB_VALUE, PG_GETARG_TEXT_PP(2));
		pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	}
	change = JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));

	/* every other pair of the stored version, as stored */
	jsonb_pairs_init(&kept, &doc->root);
	keep = palloc(sizeof(bool) * Max(kept.npairs, 1));
	for (i = 0; i < kept.npairs; i++)
	{
		const char *k;
		int			len;

		jsonb_pairs_key(&kept, i, &k, &len);
		keep[i] = !((len == 6 && memcmp(k, "status", 6) == 0) ||
					(len == 12 && memcmp(k, "statusReason", 12) == 0));
	}
	jsonb_pairs_init(&added, &change->root);
	PG_RETURN_JSONB_P(jsonb_object_splice(&kept, keep, &added, NULL));
}
