/*-------------------------------------------------------------------------
 *
 * search.c
 *	  omnitask.search_tasks(): FHIR search on Task as a searchset Bundle.
 *
 * Every parameter is checked (a bad one raises 22023 naming it, never
 * ignored); the query is assembled from fixed fragments only, with the
 * values passed as parameters; its plan is kept per combination of filters
 * and sort keys, at most MAX_CACHED_PLANS of them, least recently used
 * forgotten first; and the Bundle is built in one pass, each stored resource
 * copied in once, so that a page of 50 Tasks costs little more than
 * reading them.  The queries run as the caller, so row-level security
 * scopes both the page and the total.
 *
 * Every parameter is bounded, so that one caller cannot make a backend
 * keep unbounded memory or burn CPU: a code list is at most
 * MAX_LIST_BYTES long and is deduplicated (so the array compared with
 * every row has at most one element per code), and _sort names each of
 * its five keys at most once (so each kept plan's text is short and the
 * number of distinct plans is finite).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "audit.h"
#include "fhir_tables.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "fhir_validate.h"
#include "pg_compat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(omnitask_search_tasks);

#define SEARCH_NPARAMS		6
#define MAX_CACHED_PLANS	64		/* kept plan pairs per backend (LRU) */
#define MAX_LIST_BYTES		1024	/* longest status / priority list */

/*
 * One kept plan pair: the page and the total for a WHERE/ORDER BY.
 * plans[] is ordered from least to most recently used.
 */
typedef struct SearchPlan
{
	char	   *key;			/* where clause + "|" + order by */
	SPIPlanPtr	page;
	SPIPlanPtr	total;
} SearchPlan;

static SearchPlan plans[MAX_CACHED_PLANS];
static int	nplans = 0;

/* Raises 22023 for a parameter that cannot be used. */
pg_noreturn static void
bad_param(const char *param, const char *value, int len, const char *hint);

static void
bad_param(const char *param, const char *value, int len, const char *hint)
{
	/* the value as an SQL literal, cut at 64 characters */
	char	   *cut = pnstrdup(value, pg_mbcharcliplen(value, len, 64));

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid search parameter %s: %s", param, quote_literal_cstr(cut)),
			 errhint("%s", hint)));
}

/* The id of "Type/{id}" or "{id}", or an error naming the parameter. */
static char *
reference_param(const char *param, const char *value, const char *type)
{
	const char *id = value;
	size_t		tlen = strlen(type);
	const char *why;

	if (strncmp(value, type, tlen) == 0 && value[tlen] == '/')
		id = value + tlen + 1;
	if (!fhir_check_string(FP_ID, id, strlen(id), &why))
		bad_param(param, value, strlen(value),
				  psprintf("%s takes %s/{id} or {id}.", param, type));
	return pstrdup(id);
}

/*
 * A comma list of codes checked against the allowed ones, as a text[]
 * Datum with each code once (a code listed twice means the same as once).
 * A list longer than MAX_LIST_BYTES is refused: every code listed once is
 * far shorter.
 */
static Datum
code_list_param(const char *param, const char *value, const char *const *allowed,
				int nallowed, const char *hint)
{
	Datum	   *items = palloc(sizeof(Datum) * nallowed);
	bool	   *seen = palloc0(sizeof(bool) * nallowed);
	int			n = 0;
	const char *p = value;

	if (strlen(value) > MAX_LIST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid search parameter %s: the list is longer than %d bytes",
						param, MAX_LIST_BYTES),
				 errhint("%s", hint)));

	for (;;)
	{
		const char *comma = strchr(p, ',');
		int			len = comma ? comma - p : (int) strlen(p);
		int			i;

		for (i = 0; i < nallowed; i++)
			if ((int) strlen(allowed[i]) == len && memcmp(allowed[i], p, len) == 0)
				break;
		if (i == nallowed)
			bad_param(param, p, len, hint);
		if (!seen[i])
			items[n++] = PointerGetDatum(cstring_to_text_with_len(p, len));
		seen[i] = true;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return PointerGetDatum(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Appends ORDER BY terms for a _sort list (or the default order). */
static void
sort_param(const char *sort, StringInfo order)
{
	static const char *const keys[] = {"priority", "due", "authored-on", "modified", "status"};
	static const char *const cols[] = {"t.priority", "t.due_at", "t.authored_on", "t.last_modified", "t.status"};
	const char *p = sort ? sort : "-priority,due,authored-on";
	bool		seen[lengthof(keys)] = {false};

	for (;;)
	{
		const char *comma = strchr(p, ',');
		int			len = comma ? comma - p : (int) strlen(p);
		bool		desc = (len > 0 && p[0] == '-');
		const char *k = desc ? p + 1 : p;
		int			klen = desc ? len - 1 : len;
		int			i;

		for (i = 0; i < (int) lengthof(keys); i++)
			if ((int) strlen(keys[i]) == klen && memcmp(keys[i], k, klen) == 0)
				break;
		if (i == (int) lengthof(keys))
			bad_param("_sort", p, len,
					  "_sort takes a comma-separated list of priority, due, authored-on, modified, status, each optionally prefixed with -.");
		if (seen[i])
			bad_param("_sort", p, len,
					  psprintf("_sort names each key at most once; \"%s\" is listed twice.", keys[i]));
		seen[i] = true;
		/* only due_at can be NULL: the other keys match the indexes' order */
		appendStringInfo(order, "%s %s%s, ", cols[i], desc ? "DESC" : "ASC",
						 i == 1 ? " NULLS LAST" : "");
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	appendStringInfoString(order, "t.id");
}

/*
 * The kept plans for a WHERE clause and ORDER BY, prepared on first use.
 * A hit becomes the most recently used; when the cache is full, the least
 * recently used pair is freed, so a backend keeps at most
 * MAX_CACHED_PLANS pairs however many combinations its callers use.
 */
static SearchPlan *
get_plans(const char *where, const char *order)
{
	static const Oid argtypes[SEARCH_NPARAMS] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INT4OID, INT4OID};
	char	   *key = psprintf("%s|%s", where, order);
	SearchPlan *sp;
	int			i;

	for (i = 0; i < nplans; i++)
		if (strcmp(plans[i].key, key) == 0)
		{
			SearchPlan	hit = plans[i];

			memmove(&plans[i], &plans[i + 1], sizeof(SearchPlan) * (nplans - i - 1));
			plans[nplans - 1] = hit;
			return &plans[nplans - 1];
		}
	if (nplans == MAX_CACHED_PLANS)
	{
		/* forget the least recently used */
		SPI_freeplan(plans[0].page);
		SPI_freeplan(plans[0].total);
		pfree(plans[0].key);
		memmove(&plans[0], &plans[1], sizeof(SearchPlan) * (MAX_CACHED_PLANS - 1));
		nplans--;
	}
	sp = &plans[nplans];
	sp->page = SPI_prepare(psprintf("SELECT t.id, t.resource FROM omnitask.task t WHERE %s "
									"ORDER BY %s LIMIT $5 OFFSET $6", where, order),
						   SEARCH_NPARAMS, (Oid *) argtypes);
	sp->total = SPI_prepare(psprintf("SELECT pg_catalog.count(*) FROM omnitask.task t WHERE %s", where),
							SEARCH_NPARAMS, (Oid *) argtypes);
	if (sp->page == NULL || sp->total == NULL)
		elog(ERROR, "search_tasks: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(sp->page);
	SPI_keepplan(sp->total);
	sp->key = MemoryContextStrdup(TopMemoryContext, key);
	nplans++;
	return sp;
}

/* Pushes {"relation": rel, "url": url} as an array element. */
static void
push_link(JsonbParseState **ps, const char *rel, const char *url)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(ps, "relation", rel);
	fhir_push_pair(ps, "url", url);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/*
 * search_tasks(owner, status, priority, patient, _count, _offset, _sort)
 * -> jsonb: a FHIR searchset Bundle of the tasks the caller may see.
 */
Datum
omnitask_search_tasks(PG_FUNCTION_ARGS)
{
	static const char *const priorities[] = {"routine", "urgent", "asap", "stat"};
	const FhirValueSet *statuses = &fhir_valuesets[FHIR_VS_TASK_STATUS];
	StringInfoData where,
				order,
				query;
	Datum		values[SEARCH_NPARAMS];
	char		nulls[SEARCH_NPARAMS] = {'n', 'n', 'n', 'n', ' ', ' '};
	int32		count,
				offset;
	int64		total;
	SearchPlan *sp;
	JsonbParseState *ps = NULL;
	JsonbValue	v;
	JsonbValue *root;
	Jsonb	   *result;
	MemoryContext outer = CurrentMemoryContext;
	uint64		i;
	bool		isnull;
	OmniAuditRead ar;			/* read audit: the ids returned */

	initStringInfo(&where);
	initStringInfo(&order);
	initStringInfo(&query);
	appendStringInfoString(&where, "true");

	if (!PG_ARGISNULL(0))
	{
		values[0] = CStringGetTextDatum(reference_param("owner", text_to_cstring(PG_GETARG_TEXT_PP(0)),
														"Practitioner"));
		nulls[0] = ' ';
		appendStringInfoString(&where, " AND t.owner_id = $1");
		appendStringInfo(&query, "&owner=Practitioner/%s", TextDatumGetCString(values[0]));
	}
	if (!PG_ARGISNULL(3))
	{
		values[1] = CStringGetTextDatum(reference_param("patient", text_to_cstring(PG_GETARG_TEXT_PP(3)),
														"Patient"));
		nulls[1] = ' ';
		appendStringInfoString(&where, " AND t.patient_id = $2");
		appendStringInfo(&query, "&patient=Patient/%s", TextDatumGetCString(values[1]));
	}
	if (!PG_ARGISNULL(1))
	{
		char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(1));
		StringInfoData hint;

		initStringInfo(&hint);
		appendStringInfoString(&hint, "status takes a comma-separated list of ");
		for (i = 0; i < (uint64) statuses->ncodes; i++)
			appendStringInfo(&hint, "%s%s", i ? ", " : "", statuses->codes[i]);
		appendStringInfoChar(&hint, '.');
		values[2] = code_list_param("status", s, statuses->codes, statuses->ncodes, hint.data);
		nulls[2] = ' ';
		appendStringInfoString(&where, " AND t.status = ANY ($3::omnitask.task_status[])");
		appendStringInfo(&query, "&status=%s", s);
	}
	if (!PG_ARGISNULL(2))
	{
		char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(2));

		values[3] = code_list_param("priority", s, priorities, lengthof(priorities),
									"priority takes a comma-separated list of routine, urgent, asap, stat.");
		nulls[3] = ' ';
		appendStringInfoString(&where, " AND t.priority = ANY ($4::omnitask.task_priority[])");
		appendStringInfo(&query, "&priority=%s", s);
	}
	if (PG_ARGISNULL(4) || PG_GETARG_INT32(4) < 1 || PG_GETARG_INT32(4) > 1000)
		bad_param("_count", PG_ARGISNULL(4) ? "NULL" : psprintf("%d", PG_GETARG_INT32(4)),
				  PG_ARGISNULL(4) ? 4 : strlen(psprintf("%d", PG_GETARG_INT32(4))),
				  "_count takes 1 to 1000.");
	if (PG_ARGISNULL(5) || PG_GETARG_INT32(5) < 0)
		bad_param("_offset", PG_ARGISNULL(5) ? "NULL" : psprintf("%d", PG_GETARG_INT32(5)),
				  PG_ARGISNULL(5) ? 4 : strlen(psprintf("%d", PG_GETARG_INT32(5))),
				  "_offset takes 0 or more.");
	count = PG_GETARG_INT32(4);
	offset = PG_GETARG_INT32(5);
	sort_param(PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6)), &order);
	if (!PG_ARGISNULL(6))
		appendStringInfo(&query, "&_sort=%s", text_to_cstring(PG_GETARG_TEXT_PP(6)));
	values[4] = Int32GetDatum(count);
	values[5] = Int32GetDatum(offset);

	omnitask_audit_begin(&ar, "search", omnitask_audit_on() ?
						 psprintf("%s%s_count=%d&_offset=%d", query.len ? query.data + 1 : "",
								  query.len ? "&" : "", count, offset) : NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sp = get_plans(where.data, order.data);
	if (SPI_execute_plan(sp->total, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "search_tasks: counting failed");
	total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (SPI_execute_plan(sp->page, values, nulls, true, count) != SPI_OK_SELECT)
		elog(ERROR, "search_tasks: the search failed");

	/* the Bundle, built in the caller's memory in one pass */
	MemoryContextSwitchTo(outer);
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(&ps, "resourceType", "Bundle");
	fhir_push_pair(&ps, "type", "searchset");
	fhir_push_string(&ps, WJB_KEY, "total");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(total);
	pushJsonbValue(&ps, WJB_VALUE, &v);
	fhir_push_string(&ps, WJB_KEY, "link");
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	push_link(&ps, "self", psprintf("Task?%s_count=%d&_offset=%d",
									query.len ? psprintf("%s&", query.data + 1) : "",
									count, offset));
	if ((int64) offset + count < total)
		push_link(&ps, "next", psprintf("Task?%s_count=%d&_offset=%d",
										query.len ? psprintf("%s&", query.data + 1) : "",
										count, offset + count));
	pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	if (SPI_processed > 0)
	{
		fhir_push_string(&ps, WJB_KEY, "entry");
		pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			char	   *id = TextDatumGetCString(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			Jsonb	   *res = DatumGetJsonbP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

			CHECK_FOR_INTERRUPTS();
			omnitask_audit_add_task(&ar, id, res);
			pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
			fhir_push_pair(&ps, "fullUrl", psprintf("Task/%s", id));
			fhir_push_string(&ps, WJB_KEY, "resource");
			v.type = jbvBinary;
			v.val.binary.data = &res->root;
			v.val.binary.len = VARSIZE(res) - VARHDRSZ;
			pushJsonbValue(&ps, WJB_VALUE, &v);
			fhir_push_string(&ps, WJB_KEY, "search");
			pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
			fhir_push_pair(&ps, "mode", "match");
			pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
			pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	}
	root = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	result = JsonbValueToJsonb(root);
	SPI_finish();
	omnitask_audit_end(&ar, "ok");
	PG_RETURN_JSONB_P(result);
}
