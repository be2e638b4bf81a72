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
#include "catalog.h"
#include "executor/spi.h"
#include "audit.h"
#include "fhir_tables.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "lib/stringinfo.h"
#include "fhir_validate.h"
#include "search.h"
#include "search_elements.h"
#include "pg_compat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/plancache.h"
#include "utils/portal.h"
#include "utils/resowner.h"

PG_FUNCTION_INFO_V1(omnitask_search_tasks);
PG_FUNCTION_INFO_V1(omnitask_search_tasks_query);
PG_FUNCTION_INFO_V1(omnitask_search_parameters);

#define MAX_CACHED_PLANS	64		/* kept plan sets per backend (LRU) */
#define MAX_INCLUDED		1000	/* most tasks _revinclude adds to a page */
#define ESTIMATE_MAX		1000	/* _total=estimate counts up to this many */
#define WALK_FACTOR			20		/* a walk reads this many rows per row wanted */
#define WALK_RETRY_FACTOR	4		/* a second walk reads at most this many first walks */
#define DATED_MAX			10000	/* a date range read first has at most this many rows */

/*
 * A choice the engine makes itself (auto) that a setting may force either
 * way, for tests and diagnosis; every value gives the same answer.
 * omnitask.search_token_plan: how a page with a positive search_tokens
 * condition is found (filter or walk); omnitask.search_ids_first: whether
 * a page selects ids only and fetches its documents afterwards (auto: when
 * omnitask.task is distributed, or a date range decides the page).
 */
typedef enum SearchChoice
{
	CHOICE_AUTO,
	CHOICE_ONE,					/* the first forced value the setting names */
	CHOICE_OTHER				/* the second */
} SearchChoice;

#define TOKEN_PLAN_AUTO		CHOICE_AUTO
#define TOKEN_PLAN_FILTER	CHOICE_ONE
#define TOKEN_PLAN_WALK		CHOICE_OTHER
#define IDS_FIRST_AUTO		CHOICE_AUTO
#define IDS_FIRST_ON		CHOICE_ONE
#define IDS_FIRST_OFF		CHOICE_OTHER

static int	search_token_plan = TOKEN_PLAN_AUTO;
static int	search_ids_first = IDS_FIRST_AUTO;

/* One task of the Bundle, read while connected to SPI. */
typedef struct SearchRow
{
	char	   *id;
	Jsonb	   *res;
} SearchRow;

/* The queries of one search, each prepared on first use. */
typedef enum SearchPlanKind
{
	SP_PAGE,					/* the page (a token condition filtered first) */
	SP_WALK,					/* the page, walking the order's index */
	SP_TOTAL,					/* count(*) */
	SP_BOUNDED,					/* count(*) up to a bound */
	SP_DATED,					/* the page: the date range's rows, then the tokens */
	SP_DATED_COUNT,				/* the date range's rows, counted up to a bound */
	SP_DAYS,					/* the page: a date range day by day (search_days_source) */
	SP_NKINDS
} SearchPlanKind;

/*
 * One kept plan set: the queries of a WHERE/ORDER BY.  plans[] is ordered
 * from least to most recently used.
 */
typedef struct SearchPlan
{
	char	   *key;			/* rest | tokens | order | ids first | statuses | argument types */
	bool		ids_first;		/* the page selects ids only (Citus) */
	Oid			days_index;		/* the date range's day index (days_in_order), or 0 */
	Oid			days_index_alt; /* with a code's key, the column's own day index, or 0 */
	SPIPlanPtr	plan[SP_NKINDS];	/* NULL until used */
} SearchPlan;

static SearchPlan plans[MAX_CACHED_PLANS];
static int	nplans = 0;

static void collect_rows(SPITupleTable *tt, uint64 count, SearchRow *rows, int *n);

/*
 * Defines the setting name of a SearchChoice: auto, one or other (the
 * names of its forced values).  The values' table lives as long as the
 * setting, in TopMemoryContext.
 */
static void
define_choice(const char *name, const char *one, const char *other, const char *desc,
			  const char *long_desc, int *var)
{
	struct config_enum_entry *options = MemoryContextAllocZero(TopMemoryContext,
															   sizeof(struct config_enum_entry) * 4);

	options[0].name = "auto";
	options[0].val = CHOICE_AUTO;
	options[1].name = one;
	options[1].val = CHOICE_ONE;
	options[2].name = other;
	options[2].val = CHOICE_OTHER;
	DefineCustomEnumVariable(name, desc, long_desc, var, CHOICE_AUTO, options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/* Defines omnitask.search_token_plan and omnitask.search_ids_first. */
void
search_init(void)
{
	define_choice("omnitask.search_ids_first", "on", "off",
				  "Sets whether a search page selects ids first and then fetches their documents: auto (when omnitask.task is distributed by Citus), on or off.",
				  "Both give the same answer.",
				  &search_ids_first);
	define_choice("omnitask.search_token_plan", "filter", "walk",
				  "Sets how a search with a token condition finds its page: auto, filter (the tokens' index first, then the order) or walk (the order's index, stopping early).",
				  "Both give the same answer; auto chooses by the parameter and the total.",
				  &search_token_plan);
}

/*
 * The kept plan set for a query.  A hit becomes the most recently used;
 * when the cache is full, the least recently used set is freed, so a
 * backend keeps at most MAX_CACHED_PLANS sets however many combinations
 * its callers use.
 */
static SearchPlan *
get_plans(SearchQuery *q)
{
	StringInfoData key;
	SearchPlan *sp;
	bool		distributed = omnitask_task_is_distributed();
	bool		ids_first = search_ids_first == IDS_FIRST_AUTO ? distributed || q->date_walk :
		search_ids_first == IDS_FIRST_ON;
	int			i,
				k;

	/* a status list's or a date range's branches are for one node (not tried on Citus) */
	if (distributed)
	{
		q->split_n = 0;
		q->days_n = 0;
	}
	/* a business status by its key: on one node, and unless a plan is forced */
	if (distributed || search_token_plan != TOKEN_PLAN_AUTO)
		search_unkey(q);
	/* so a code's key over a range's days (the forced plans are the reference) */
	if (q->days_keyed && search_token_plan != TOKEN_PLAN_AUTO)
		q->days_n = 0;

	initStringInfo(&key);
	appendStringInfo(&key, "%s|%s|%s|%d|", q->rest.data, q->tokens.data, q->order.data, (int) ids_first);
	/* a status list's branches: one per status (search_page_source) */
	for (i = 0; i < q->split_n; i++)
		appendStringInfo(&key, "%s,", q->split_codes[i]);
	appendStringInfo(&key, "|%d%s|", q->key.arg, q->key.cond ? q->key.cond : "");
	/* a date range's days (search_days_source) */
	if (q->days_n > 0)
		appendStringInfo(&key, "%s,%d,%d,%d,%d,%d,%s,%d|", q->days_column, q->days_arg, q->days_first,
						 q->days_lo, q->days_last, q->days_hi, q->days_tail ? q->days_tail : "",
						 (int) q->days_keyed);
	for (i = 0; i < q->nargs; i++)
		appendStringInfo(&key, "%u,", q->argtypes[i]);
	for (i = 0; i < nplans; i++)
		if (strcmp(plans[i].key, key.data) == 0)
		{
			SearchPlan	hit = plans[i];

			memmove(&plans[i], &plans[i + 1], sizeof(SearchPlan) * (nplans - i - 1));
			plans[nplans - 1] = hit;
			return &plans[nplans - 1];
		}
	if (nplans == MAX_CACHED_PLANS)
	{
		/* forget the least recently used */
		for (k = 0; k < SP_NKINDS; k++)
			if (plans[0].plan[k])
				SPI_freeplan(plans[0].plan[k]);
		pfree(plans[0].key);
		memmove(&plans[0], &plans[1], sizeof(SearchPlan) * (MAX_CACHED_PLANS - 1));
		nplans--;
	}
	sp = &plans[nplans];
	memset(sp, 0, sizeof(SearchPlan));
	sp->key = MemoryContextStrdup(TopMemoryContext, key.data);
	sp->ids_first = ids_first;
	nplans++;
	return sp;
}

/*
 * How a kept query of a search is planned at each call (SPI_prepare_cursor's
 * options).  PostgreSQL's default re-planned every call: the page's LIMIT
 * and OFFSET are parameters, which a generic plan estimates as 10% of the
 * rows, so its cost never beat a custom plan's and every call paid the
 * planner, most of a cheap search's time.  At 1M tasks (load 6-7, median
 * of 15 calls, generic against custom): a status list 0.24 against
 * 0.52-0.59 ms, priority 0.06-0.09 against 0.15-0.18, an owner 0.11-0.12
 * against 0.18-0.25, a code 0.08 against 0.16, an identifier 0.02 against
 * 0.08, one day of authored-on 0.05 against 0.10 (superuser and admin).
 *
 * A generic plan is kept where the values cannot change the best plan:
 * equalities of columns read in the page's order by an index (owner,
 * requester, priority, intent, one day; a status list's statuses are
 * literals of the text, search_page_source), the tokens and the patient,
 * which keep no statistics (so a custom plan takes the same default
 * estimates as the generic one), :missing (no value).  A date range is
 * planned for its values (custom_plans): "changed in the last minute" and
 * "changed this year" want different plans (the range's index, or the
 * page's order and a filter), and a generic plan would estimate either
 * as a third of the table; PostgreSQL's own choice between the two
 * (plan_cache_mode = auto) compares the generic plan with the average of
 * the custom ones, so a run of wide ranges could fix a plan that is wrong
 * for a narrow one.  On Citus the coordinator plans (and prunes shards by
 * the values): its default is kept.
 */
static int
plan_options(SearchQuery *q, SearchPlanKind kind)
{
	if (omnitask_task_is_distributed())
		return 0;
	/*
	 * A range's whole days: the same plan whatever they are
	 * (days_in_order).  A range that starts or ends within a day is
	 * planned for its bounds: the edge day's branch reads the day index in
	 * the page's order and tests the bound on each entry, which is right
	 * when the bound keeps much of the day, but read every write of the
	 * day (75 ms for a day of a million writes) for "changed since" a
	 * minute ago, whose few rows the column's own index gives at once.
	 * Planned for the bound's value, the branch takes the better of the
	 * two.
	 */
	if (kind == SP_DAYS)
		return q->days_first || q->days_last ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
	return q->custom_plans ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
}

/*
 * One query of a search, prepared and kept on first use.  The page's LIMIT
 * and OFFSET are the arguments after the search's own, then the walk's
 * number of rows; the bounded count's bound is the first after them.
 *
 * On Citus (ids_first) the page selects ids only and search_run fetches
 * the documents of the page afterwards (fetch_page), so that the rows every
 * shard sends to be merged carry ids and sort keys, not documents: a page
 * of 50 over 8 shards moved 193 kB with documents, 17 kB without.  On one
 * node the page selects the documents too: the rows it reads are at hand,
 * and a second query for them cost more than it saved (README, Search);
 * but not with a date range (auto): the indexes of the dates and of the
 * default order hold every sort key, so the walk and the filter read them
 * alone (index-only scans: the 5,000 tasks modified today sorted in about
 * a millisecond at 1M, against 6-30 ms reading their rows).
 *
 * A positive search_tokens condition has no statistics (PHI), so the
 * planner takes its default selectivity.  Two plans answer it:
 *
 * - SP_PAGE filters first (OFFSET 0 keeps the subquery apart): a bitmap
 *   scan of the GIN index, then a top-N sort of what matched.  Its cost
 *   grows with the number of matches: sub-millisecond for an identifier,
 *   seconds for a code that a sixth of a million tasks share.
 * - SP_WALK reads the first rows in the page's order that meet the other
 *   conditions (an index gives that order: SearchQuery.walk_order), at most
 *   $k of them, and keeps those with the tokens.  Its cost grows with $k
 *   only.  The matches among the first $k rows in order are the first
 *   matches in order (ORDER BY ends with the id, so the order is total),
 *   so when at least the rows asked for are found they are the page; when
 *   fewer are, search_run runs SP_PAGE instead.  The answer is the same
 *   either way.
 */
static SPIPlanPtr
plan_of(SearchPlan *sp, SearchPlanKind kind, SearchQuery *q)
{
	const char *sql;
	const char *columns = sp->ids_first ? "" : ", t.resource";
	int			nargs = q->nargs + 2;
	SPIPlanPtr	p;

	if (sp->plan[kind])
		return sp->plan[kind];
	q->argtypes[q->nargs] = INT4OID;
	q->argtypes[q->nargs + 1] = INT4OID;
	q->argtypes[q->nargs + 2] = INT4OID;
	switch (kind)
	{
		case SP_PAGE:
			if ((q->split_n > 0 || q->key.arg > 0) && !q->tokens_first)
			{
				/*
				 * a status list or a business status: merged
				 * (search_page_source); q->rest is q->where without the
				 * business status's condition (no condition is positive)
				 */
				sql = psprintf("SELECT t.id%s FROM %s ORDER BY %s LIMIT $%d OFFSET $%d", columns,
							   search_page_source(q, q->rest.data,
												  psprintf("($%d::int8 + $%d)", q->nargs + 1, q->nargs + 2)),
							   q->order.data, q->nargs + 1, q->nargs + 2);
				break;
			}
			sql = psprintf(q->tokens_first ?
						   "SELECT t.id%s FROM (SELECT * FROM omnitask.task t WHERE %s OFFSET 0) t "
						   "ORDER BY %s LIMIT $%d OFFSET $%d" :
						   "SELECT t.id%s FROM omnitask.task t WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d",
						   columns, q->where.data, q->order.data, q->nargs + 1, q->nargs + 2);
			break;
		case SP_WALK:
			sql = psprintf("SELECT t.id%s FROM %s WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d",
						   columns, search_page_source(q, q->rest.data, psprintf("$%d", q->nargs + 3)),
						   q->tokens.data, q->order.data, q->nargs + 1, q->nargs + 2);
			nargs = q->nargs + 3;
			break;
		case SP_DATED:
			/* OFFSET 0 keeps the tokens out of the range's scan */
			sql = psprintf("SELECT t.id%s FROM (SELECT * FROM omnitask.task t WHERE %s AND %s OFFSET 0) t "
						   "WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d", columns, q->rest.data,
						   q->dates.data, q->undated.data, q->order.data, q->nargs + 1, q->nargs + 2);
			break;
		case SP_DATED_COUNT:
			sql = psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM omnitask.task t WHERE %s AND %s LIMIT $%d) t",
						   q->rest.data, q->dates.data, q->nargs + 1);
			nargs = q->nargs + 1;
			break;
		case SP_DAYS:
			/* q->rest is q->where without the range, which the days are */
			sql = psprintf("SELECT t.id%s FROM %s ORDER BY %s LIMIT $%d OFFSET $%d", columns,
						   search_days_source(q, q->rest.data,
											  psprintf("($%d::int8 + $%d)", q->nargs + 1, q->nargs + 2)),
						   q->order.data, q->nargs + 1, q->nargs + 2);
			break;
		case SP_TOTAL:
			sql = psprintf("SELECT pg_catalog.count(*) FROM omnitask.task t WHERE %s", q->where.data);
			nargs = q->nargs;
			break;
		default:
			sql = psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM omnitask.task t WHERE %s LIMIT $%d) t",
						   q->where.data, q->nargs + 1);
			nargs = q->nargs + 1;
			break;
	}
	if ((p = SPI_prepare_cursor(sql, nargs, q->argtypes, plan_options(q, kind))) == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	sp->plan[kind] = p;
	return p;
}

/* Runs a kept SELECT, erroring out if it fails. */
static void
run_plan(SPIPlanPtr plan, Datum *args)
{
	int			ret;

	if ((ret = SPI_execute_plan(plan, args, NULL, true, 0)) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
}

/* The first column of the only row of the last query, a count. */
static int64
result_count(void)
{
	bool		isnull;

	if (SPI_processed != 1)
		elog(ERROR, "a count returned " UINT64_FORMAT " rows", SPI_processed);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Whether the page of a positive token condition is looked for by walking
 * first (see plan_of).  The walk wins when the tokens are common: the page
 * is found after about wanted / share rows, however many match.  It loses
 * (and costs its $k rows on top of the filter) when they are rare.  The
 * tokens keep no statistics, so auto decides by what is known without
 * them: the parameter (a code of a vocabulary -- code, performer,
 * business-status -- is shared by many tasks; an identifier or a reference
 * names one case, and is filtered first), and the total when it was
 * counted (at most $k matches: the filter sorts no more than the walk
 * would read).  Counting the matches first, bounded, would cost a scan of
 * the common token's whole GIN posting tree before either plan starts;
 * per-token counts kept up to date would make every write of a common
 * code update one hot row.  A date range is walked first too
 * (search_query.c, param_condition): its rows may all lie at the end of
 * the order, and then the walk costs its $k rows before the filter.
 */
static bool
walk_first(SearchQuery *q, int64 total, int32 walk_rows)
{
	if (!q->tokens_first || !q->walk_order || search_token_plan == TOKEN_PLAN_FILTER)
		return false;
	if (search_token_plan == TOKEN_PLAN_WALK)
		return true;
	return (q->common_tokens || (q->date_walk && !q->rare_tokens)) && (total < 0 || total > walk_rows);
}

/*
 * Whether the matches of a date range are counted (up to walk_rows + 1)
 * before its page is looked for: a range has statistics, but where its
 * rows lie in the page's order is unknown.  Few matches ("changed since"
 * a minute ago) are sorted at once from the range's index; many are walked
 * first (search_query.c, param_condition).  Counting up to the bound reads
 * at most that many entries of the range's index.  Not with a token of a
 * vocabulary, whose count would read its whole GIN entry (estimate_omitted).
 */
static bool
date_counted_first(SearchQuery *q, int32 walk_rows)
{
	return q->date_walk && !q->common_tokens && search_token_plan == TOKEN_PLAN_AUTO &&
		walk_first(q, -1, walk_rows);
}

/*
 * Whether a date range with a code of a vocabulary is counted first (up
 * to DATED_MAX rows), to read the range's rows and test the tokens on them
 * when they are few (run_page).  The range has statistics and an index;
 * the code has neither statistics nor a bound: with both conditions the
 * filter's plan intersected the range's bitmap with the code's GIN
 * bitmap, and "the care-coordination tasks authored today" built a bitmap
 * of the code's 222,000 tasks to keep none of them (64 ms at 1M, the day
 * holding 5,000 tasks).  Not with an identifier or a reference (its GIN
 * entry is small, the filter reads it at once), nor on Citus (a subquery
 * with OFFSET is planned on the coordinator: the range's rows would travel).
 */
static bool
dated_first(SearchQuery *q)
{
	return q->date_walk && q->common_tokens && !q->rare_tokens &&
		search_token_plan == TOKEN_PLAN_AUTO && !omnitask_task_is_distributed();
}

/*
 * Whether _total=estimate gives no total: when a code of a vocabulary
 * decides the page, counting even the first ESTIMATE_MAX matches would
 * read the token's whole GIN entry (a bitmap scan builds its bitmap
 * before the first row: 0.6 s for a code of 222,000 tasks), a hundred
 * times what its page costs.  The setting does not change it, so that the
 * answer does not depend on the plan.
 */
static bool
estimate_omitted(SearchQuery *q)
{
	/* a business status or code read by its key is such a code (search_unkey) */
	return (q->tokens_first && q->walk_order && q->common_tokens) || q->key.arg > 0;
}

/* The ids the last query returned, as a text[] Datum, and their number. */
static Datum
result_ids(int *n)
{
	Datum	   *items = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	bool		isnull;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		items[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
	*n = (int) SPI_processed;
	return PointerGetDatum(construct_array(items, *n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* qsort/bsearch comparator of SearchRows by id. */
static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const SearchRow *) a)->id, ((const SearchRow *) b)->id);
}

/*
 * The documents of the first n of the page's ids (a text[]), appended to
 * rows[*nrows] in the page's order.  The same snapshot as the page's query (read-only
 * SPI), so every id is found.
 */
static void
fetch_page(Datum ids, int n, SearchRow *rows, int *nrows)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtype = TEXTARRAYOID;
	ArrayType  *arr = DatumGetArrayTypeP(ids);
	Datum	   *items;
	SearchRow  *fetched;
	int			nfetched = 0,
				nitems,
				i;

	if (n == 0)
		return;
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT t.id, t.resource FROM omnitask.task t WHERE t.id = ANY ($1)",
									1, &argtype);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	run_plan(plan, &ids);
	fetched = palloc(sizeof(SearchRow) * Max(SPI_processed, 1));
	collect_rows(SPI_tuptable, SPI_processed, fetched, &nfetched);
	qsort(fetched, nfetched, sizeof(SearchRow), row_cmp);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &items, NULL, &nitems);
	for (i = 0; i < Min(n, nitems); i++)
	{
		SearchRow	key;
		SearchRow  *hit;

		key.id = TextDatumGetCString(items[i]);
		hit = bsearch(&key, fetched, nfetched, sizeof(SearchRow), row_cmp);
		if (hit == NULL)
			elog(ERROR, "task \"%s\" of a search page was not found", key.id);
		rows[(*nrows)++] = *hit;
	}
}

/* Pushes {"relation": rel, "url": "Task?{link}_count=&_offset="}. */
static void
push_link(JsonbParseState **ps, const char *rel, SearchQuery *q, int32 offset)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(ps, "relation", rel);
	fhir_push_pair(ps, "url", psprintf("Task?%s%s_count=%d&_offset=%d", q->link.data,
									   q->link.len ? "&" : "", q->count, offset));
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/* Pushes one entry {"fullUrl", "resource", "search": {"mode": mode}}. */
static void
push_entry(JsonbParseState **ps, const char *id, Jsonb *res, const char *mode)
{
	JsonbValue	v;

	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(ps, "fullUrl", psprintf("Task/%s", id));
	fhir_push_string(ps, WJB_KEY, "resource");
	v.type = jbvBinary;
	v.val.binary.data = &res->root;
	v.val.binary.len = VARSIZE(res) - VARHDRSZ;
	pushJsonbValue(ps, WJB_VALUE, &v);
	fhir_push_string(ps, WJB_KEY, "search");
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(ps, "mode", mode);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/* The rows of an SPI result, as SearchRows appended to rows[*n]. */
static void
collect_rows(SPITupleTable *tt, uint64 count, SearchRow *rows, int *n)
{
	uint64		i;
	bool		isnull;

	for (i = 0; i < count; i++)
	{
		rows[*n].id = TextDatumGetCString(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		rows[*n].res = DatumGetJsonbP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		(*n)++;
	}
}

/* A text[] Datum of "prefix" || rows[from..n).id. */
static Datum
row_ids(const SearchRow *rows, int from, int n, const char *prefix)
{
	Datum	   *items = palloc(sizeof(Datum) * Max(n - from, 1));
	int			i;

	for (i = from; i < n; i++)
		items[i - from] = CStringGetTextDatum(psprintf("%s%s", prefix, rows[i].id));
	return PointerGetDatum(construct_array(items, n - from, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * _revinclude=Task:part-of: appends to rows[] (after the page's) the tasks
 * whose partOf names a task already in the Bundle, as the caller may see
 * them; with iterate, level after level until none is new.  At most
 * MAX_INCLUDED tasks are added.
 */
static void
include_part_of(SearchRow *rows, int *n, bool iterate)
{
	static SPIPlanPtr plan = NULL;
	static const Oid argtypes[3] = {TEXTARRAYOID, TEXTARRAYOID, INT4OID};
	int			npage = *n;
	int			from = 0;
	int			ret;

	if (plan == NULL)
	{
		/* tokens first, as for a page (see get_plans) */
		SPIPlanPtr	p = SPI_prepare("SELECT t.id, t.resource FROM (SELECT * FROM omnitask.task t "
									"WHERE t.search_tokens && $1 OFFSET 0) t WHERE t.id <> ALL ($2) "
									"ORDER BY t.id LIMIT $3", 3, (Oid *) argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	while (from < *n && *n - npage < MAX_INCLUDED)
	{
		Datum		args[3];
		int			level_end = *n;

		/* search_tokens' part-of tokens (an id needs neither escape nor hash) */
		args[0] = row_ids(rows, from, *n, "part-of:Task/");
		args[1] = row_ids(rows, 0, *n, "");
		args[2] = Int32GetDatum(MAX_INCLUDED - (*n - npage));
		if ((ret = SPI_execute_plan(plan, args, NULL, true, 0)) != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
		collect_rows(SPI_tuptable, SPI_processed, rows, n);
		if (!iterate)
			break;
		from = level_end;
	}
}

/* Whether a plan tree sorts its rows anywhere (a Sort node). */
static bool
plan_sorts(Plan *plan)
{
	if (plan == NULL)
		return false;
	if (IsA(plan, Sort))
		return true;
	if (IsA(plan, SubqueryScan) && plan_sorts(((SubqueryScan *) plan)->subplan))
		return true;
	return plan_sorts(plan->lefttree) || plan_sorts(plan->righttree);
}

/*
 * Runs the walk of at most walk_rows rows in order (SP_WALK); true when it
 * found the page: all the rows asked for, or all the matches there are.
 *
 * A walk pays only when an index gives the order, so that it stops at the
 * page.  sort_terms() tells when one can, but the planner decides: when the
 * other conditions leave few rows, or no index gives the order with them
 * (before PostgreSQL 17 a btree scan for col = ANY (array) is unordered),
 * the plan sorts every row they match before the first comes out, and the
 * walk reads all of them only to find too few.  Such a walk is not run
 * (*sorts is set): the filter reads those rows anyway, through the best
 * index for the tokens and the other conditions together.  "My tasks at a
 * stage" (one owner's 630 tasks, a business-status) at 1M: 15.6 million
 * instructions with the walk, 3.2 million with the filter alone.  The plan
 * looked at is the one the cursor runs (custom or generic, as the plan
 * cache chose), before any row is read.  With ids first (Citus) the plan is
 * Citus's, which does not show the shards' sorts: the walk runs as it did
 * before, without a cursor.
 */
static bool
walk_page(SearchPlan *sp, SearchQuery *q, Datum *args, int32 limit, int64 total, int64 walk_rows,
		  bool *sorts)
{
	Portal		portal;
	ListCell   *lc;

	args[q->nargs + 2] = Int32GetDatum((int32) walk_rows);
	*sorts = false;
	if (sp->ids_first)
		run_plan(plan_of(sp, SP_WALK, q), args);
	else
	{
		portal = SPI_cursor_open(NULL, plan_of(sp, SP_WALK, q), args, NULL, true);
		foreach(lc, portal->stmts)
		{
			PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);

			*sorts |= plan_sorts(stmt->planTree);
		}
		if (*sorts && search_token_plan == TOKEN_PLAN_AUTO)
		{
			SPI_cursor_close(portal);
			elog(DEBUG1, "search page: no walk (its plan sorts every row)");
			return false;
		}
		SPI_cursor_fetch(portal, true, FETCH_ALL);
		SPI_cursor_close(portal);
	}
	elog(DEBUG1, "search page: a walk of at most " INT64_FORMAT " rows found " UINT64_FORMAT " of %d",
		 walk_rows, SPI_processed, limit);
	return SPI_processed == (uint64) limit ||
		(total >= 0 && (int64) q->offset + (int64) SPI_processed >= total);
}

/*
 * The rows a second walk reads at most after a first walk of walk_rows
 * rows found found of the offset + limit matches wanted, or 0 when it is
 * not worth it and the filter should run instead.
 *
 * A first walk that found some but not all of them has measured the
 * matches' share of the rows in order: about walk_rows * wanted / found
 * rows hold the page.  Twice that leaves room for an uneven spread; when
 * it is within WALK_RETRY_FACTOR first walks, a second walk, which stops
 * as soon as it has the page, costs less than the filter, which reads and
 * sorts every match.  The case it serves: the practitioner, whose policy
 * scopes the walk to the few hundred tasks it owns (the policy's
 * qualification leaves the tokens' GIN index unusable: && is not
 * leakproof), with a code on a tenth of them: the first walk found 20 of
 * the 21 rows asked for (one more than the page, to know whether there is
 * a next), and the filter then read and sorted all 740 tasks again.  When
 * the first walk found none, the share is too small to measure: filter.
 */
static int64
retry_walk_rows(SearchQuery *q, int32 limit, int64 walk_rows, uint64 found)
{
	int64		wanted = (int64) q->offset + limit;
	int64		rows;

	if (found == 0 || search_token_plan != TOKEN_PLAN_AUTO)
		return 0;
	rows = walk_rows * 2 * wanted / ((int64) q->offset + (int64) found);
	return rows <= walk_rows * WALK_RETRY_FACTOR ? Min(rows, PG_INT32_MAX) : 0;
}

/*
 * Whether the rows of the conditions other than the tokens are counted
 * first (up to DATED_MAX + 1) and, when they are at most that many, all of
 * them walked (run_page): so with one day of authored-on (search_query.c,
 * day_condition) and a code of a vocabulary.  In the default order
 * task_authored_day_idx reads the day's rows in the page's order, and the
 * walk tests the code on each and stops at the page; in another order they
 * are sorted first (at most DATED_MAX of them).  Either way the cost
 * follows the day's rows, never the code's: "a code authored today" where
 * the code is rare among the day's tasks found nothing in a walk of
 * WALK_FACTOR rows per row wanted, and the filter then read the code's
 * whole GIN entry (a bitmap of 222,000 tasks: 174 ms at 1M for an empty
 * page).  The count makes the walk's answer complete whatever it finds (it
 * reads every row of the other conditions, in the same snapshot) and
 * bounds it whatever its plan.  Not with an identifier, a reference or a
 * patient (a small GIN entry: the filter reads it first), nor with a date
 * range among the tokens (the count would not be of the walk's rows), nor
 * on Citus, where the walk's subquery is merged on the coordinator.
 */
static bool
day_counted_first(SearchQuery *q)
{
	return q->one_day && q->common_tokens && !q->rare_tokens && !q->date_walk &&
		search_token_plan == TOKEN_PLAN_AUTO && !omnitask_task_is_distributed();
}

/*
 * The scans of index (an oid) in a plan tree, and in *rows the most rows
 * the planner expects one of them to return.
 */
static int
index_scans(Plan *plan, Oid index, double *rows)
{
	ListCell   *lc;
	int			n = 0;

	if (plan == NULL)
		return 0;
	if ((IsA(plan, IndexScan) && ((IndexScan *) plan)->indexid == index) ||
		(IsA(plan, IndexOnlyScan) && ((IndexOnlyScan *) plan)->indexid == index))
	{
		n++;
		*rows = Max(*rows, plan->plan_rows);
	}
	else if (IsA(plan, MergeAppend))
		foreach(lc, ((MergeAppend *) plan)->mergeplans)
			n += index_scans(lfirst(lc), index, rows);
	else if (IsA(plan, Append))
		foreach(lc, ((Append *) plan)->appendplans)
			n += index_scans(lfirst(lc), index, rows);
	else if (IsA(plan, SubqueryScan))
		n += index_scans(((SubqueryScan *) plan)->subplan, index, rows);
	return n + index_scans(plan->lefttree, index, rows) + index_scans(plan->righttree, index, rows);
}

/*
 * Whether a date range's page is read day by day (SP_DAYS): when the plan
 * of its days, as planned for the caller, reads every branch from the day
 * index (search_days_source) and expects a day to hold a page (limit
 * rows).  It does for a superuser and for a policy that keeps every row.
 * A policy that keeps a few hundred tasks of a million (a practitioner's:
 * owner_id = the caller) leaves a few of a day's 5,000 tasks: each day
 * would be read to its end (or, when the owner's index is the best for a
 * day, the caller's tasks read again for each day), where the range's
 * plans read the caller's tasks once (run_page).  modified=ge today as
 * the practitioner: 5.4 ms day by day, 0.9 ms by the range's plans.  The
 * plan is generic (plan_options), so the check costs no planning after
 * the first call, only its lookup in the plan cache.  With a code's key
 * (q->days_keyed) the days are read from the key's index, but the branch
 * of the days after today that reads the tasks of many keys may take the
 * column's own day index (there are normally none): either counts.  When
 * the key alone decides (code=c), a day's branch reads only matches, so a
 * day with few of them costs few rows and the check of a page per day is
 * not needed; for system|c and |c the token is tested on the key's rows,
 * which may all fail it, and the check stays.
 */
static bool
days_in_order(SearchPlan *sp, SearchQuery *q, int32 limit)
{
	SPIPlanPtr	plan = plan_of(sp, SP_DAYS, q);
	CachedPlan *cplan = SPI_plan_get_cached_plan(plan);
	ListCell   *lc;
	int			n = 0;
	int			want;
	double		rows = 0;
	Oid			index,
				alt;

	if (cplan == NULL)
		elog(ERROR, "SPI_plan_get_cached_plan failed");
	/* one scan per branch (search_days_source) */
	want = ((q->days_arg != 0) + (q->days_first != 0) + (q->days_last != 0) + (q->days_tail != NULL)) *
		(q->days_keyed ? 2 : 1);
	/*
	 * The index's Oid as last looked up for this plan set; looked up again
	 * when the plan does not read it (a REINDEX CONCURRENTLY or a new index
	 * gives it another Oid), so that only a fallback pays the lookup.
	 */
	for (;;)
	{
		foreach(lc, cplan->stmt_list)
		{
			PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);

			n += index_scans(stmt->planTree, sp->days_index, &rows) +
				index_scans(stmt->planTree, sp->days_index_alt, &rows);
		}
		if (n >= want)
			break;
		index = get_relname_relid(q->days_index, omnitask_namespace_oid());
		alt = q->days_index_alt ? get_relname_relid(q->days_index_alt, omnitask_namespace_oid()) : InvalidOid;
		if (index == sp->days_index && alt == sp->days_index_alt)
			break;
		sp->days_index = index;
		sp->days_index_alt = alt;
		n = 0;
		rows = 0;
	}
	ReleaseCachedPlan(cplan, CurrentResourceOwner);
	/* a code's key alone decides: a day's branch reads no row that is not a match */
	if (q->days_keyed && q->days_key.exact)
		rows = Max(rows, limit);
	if (n < want || rows < limit)
		elog(DEBUG1, "search page: the date range's days not read in order (%s)",
			 n < want ? "another index serves the caller" : "a day holds less than a page");
	return n >= want && rows >= limit;
}

/*
 * Runs the page's query, leaving its rows in SPI_tuptable: one day's rows
 * walked to their end when day_counted_first() says so and the day holds
 * at most DATED_MAX rows; a date range's
 * rows, then the tokens, when dated_first() says so and the range holds at
 * most DATED_MAX rows (SP_DATED); else the walk of the
 * order's index first when walk_first() says so and it finds the page (a
 * second, longer walk when the first measured a share that makes it
 * worth it), else SP_PAGE.  args holds the search's values, then LIMIT and
 * OFFSET, and room for the walk's number of rows.  total is the count, or
 * -1 if not known.
 */
static void
run_page(SearchPlan *sp, SearchQuery *q, Datum *args, int32 limit, int64 total)
{
	int64		walk_rows = Min(((int64) q->offset + limit) * WALK_FACTOR, PG_INT32_MAX - 1);

	if (q->days_n > 0 && days_in_order(sp, q, limit))
	{
		elog(DEBUG1, "search page: the date range's %d day(s), each in order%s", q->days_n,
			 q->days_keyed ? " by the code's key" : "");
		run_plan(plan_of(sp, SP_DAYS, q), args);
		return;
	}
	if (day_counted_first(q) || dated_first(q))
	{
		/* the rows, counted up to one more than they may be */
		int64		rows;

		args[q->nargs] = Int32GetDatum(DATED_MAX + 1);
		run_plan(plan_of(sp, SP_DATED_COUNT, q), args);
		rows = result_count();
		args[q->nargs] = Int32GetDatum(limit);
		if (rows <= DATED_MAX && !q->date_walk)
		{
			/* one day (day_counted_first): a walk of all of them is the page */
			elog(DEBUG1, "search page: a walk of the day's " INT64_FORMAT " rows", rows);
			args[q->nargs + 2] = Int32GetDatum((int32) Max(rows, 1));
			run_plan(plan_of(sp, SP_WALK, q), args);
			return;
		}
		if (rows <= DATED_MAX)
		{
			elog(DEBUG1, "search page: the date range's " INT64_FORMAT " rows, then the tokens", rows);
			run_plan(plan_of(sp, SP_DATED, q), args);
			return;
		}
	}
	if (total < 0 && date_counted_first(q, (int32) walk_rows))
	{
		/* the range's matches, counted up to one more than the walk reads */
		int64		matches;

		args[q->nargs] = Int32GetDatum((int32) walk_rows + 1);
		run_plan(plan_of(sp, SP_BOUNDED, q), args);
		matches = result_count();
		if (matches <= walk_rows)
			total = matches;
		args[q->nargs] = Int32GetDatum(limit);
	}
	if (walk_first(q, total, (int32) walk_rows))
	{
		int64		retry;
		bool		sorts;

		if (walk_page(sp, q, args, limit, total, walk_rows, &sorts))
			return;
		retry = sorts ? 0 : retry_walk_rows(q, limit, walk_rows, SPI_processed);
		if (retry > 0 && walk_page(sp, q, args, limit, total, retry, &sorts))
			return;
	}
	elog(DEBUG1, "search page: %s", q->key.arg == 0 || q->tokens_first ? "the filter" :
		 search_key_plan_name(q));
	run_plan(plan_of(sp, SP_PAGE, q), args);
}

/*
 * Runs a parsed search as the caller and returns its searchset Bundle:
 * the total (unless _total=none, or _total=estimate beyond ESTIMATE_MAX or
 * with a vocabulary's code),
 * self and next links, and the page (none for _summary=count) with the
 * tasks _revinclude adds.  Without the total one row more than the page is
 * read, to know whether there is a next page.
 */
Datum
search_run(SearchQuery *q, const char *audit_query)
{
	SearchPlan *sp;
	JsonbParseState *ps = NULL;
	JsonbValue	v;
	Jsonb	   *result;
	MemoryContext outer = CurrentMemoryContext;
	Datum		args[SEARCH_MAX_ARGS + 3];
	int64		total = -1;
	int32		limit;
	SearchRow  *rows = NULL;
	int			nrows = 0,
				nmatch = 0,
				nids,
				i;
	bool		more;
	int			ret;
	OmniAuditRead ar;			/* read audit: the ids returned */

	memcpy(args, q->args, sizeof(Datum) * q->nargs);
	omnitask_audit_begin(&ar, "search", audit_query);
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	sp = get_plans(q);
	if (q->total == SEARCH_TOTAL_ACCURATE || q->total == SEARCH_TOTAL_ONLY)
	{
		run_plan(plan_of(sp, SP_TOTAL, q), args);
		total = result_count();
	}
	else if (q->total == SEARCH_TOTAL_ESTIMATE && !estimate_omitted(q))
	{
		/* exact up to ESTIMATE_MAX, absent beyond: a bounded cost */
		args[q->nargs] = Int32GetDatum(ESTIMATE_MAX + 1);
		run_plan(plan_of(sp, SP_BOUNDED, q), args);
		total = result_count();
		if (total > ESTIMATE_MAX)
			total = -1;
	}
	if (q->total != SEARCH_TOTAL_ONLY)
	{
		limit = total < 0 ? q->count + 1 : q->count;
		args[q->nargs] = Int32GetDatum(limit);
		args[q->nargs + 1] = Int32GetDatum(q->offset);
		run_page(sp, q, args, limit, total);
		more = total < 0 ? SPI_processed > (uint64) q->count : (int64) q->offset + q->count < total;
		rows = palloc(sizeof(SearchRow) * (q->count + 1 + (q->revinclude ? MAX_INCLUDED : 0)));
		if (sp->ids_first)
		{
			Datum		ids = result_ids(&nids);

			fetch_page(ids, Min(nids, q->count), rows, &nrows);
		}
		else
			collect_rows(SPI_tuptable, Min(SPI_processed, (uint64) q->count), rows, &nrows);
		nmatch = nrows;
		if (q->revinclude && nrows > 0)
			include_part_of(rows, &nrows, q->revinclude == 2);
	}
	else
		more = false;

	/* the Bundle, built in the caller's memory in one pass */
	MemoryContextSwitchTo(outer);
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(&ps, "resourceType", "Bundle");
	fhir_push_pair(&ps, "type", "searchset");
	if (total >= 0)
	{
		fhir_push_string(&ps, WJB_KEY, "total");
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(total);
		pushJsonbValue(&ps, WJB_VALUE, &v);
	}
	fhir_push_string(&ps, WJB_KEY, "link");
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	push_link(&ps, "self", q, q->offset);
	if (more)
		push_link(&ps, "next", q, q->offset + q->count);
	pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	if (nrows > 0)
	{
		fhir_push_string(&ps, WJB_KEY, "entry");
		pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
		for (i = 0; i < nrows; i++)
		{
			CHECK_FOR_INTERRUPTS();
			omnitask_audit_add_task(&ar, rows[i].id, rows[i].res);
			push_entry(&ps, rows[i].id,
					   q->elements ? search_elements_apply(q->elements, rows[i].res) : rows[i].res,
					   i < nmatch ? "match" : "include");
		}
		pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	}
	result = JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
	SPI_finish();
	omnitask_audit_end(&ar, "ok");
	PG_RETURN_JSONB_P(result);
}

/* The audit text of a search: its self link's query. */
static const char *
audit_text(SearchQuery *q)
{
	if (!omnitask_audit_on())
		return NULL;
	return psprintf("%s%s_count=%d&_offset=%d", q->link.data, q->link.len ? "&" : "",
					q->count, q->offset);
}

/*
 * search_tasks_query(query text, lenient boolean) -> jsonb: the FHIR query
 * string as it arrives, a searchset Bundle of the tasks the caller may see.
 */
Datum
omnitask_search_tasks_query(PG_FUNCTION_ARGS)
{
	SearchQuery q;

	search_parse_query(PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
					   !PG_ARGISNULL(1) && PG_GETARG_BOOL(1), true, &q);
	return search_run(&q, audit_text(&q));
}

/* Appends "&name=value" to buf, value escaped, when the argument is given. */
static void
append_arg(StringInfo buf, const char *name, FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return;
	appendStringInfo(buf, "&%s=", name);
	search_append_escaped(buf, text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* Refuses a NULL or out-of-range _count/_offset of the named form. */
static int32
int_arg(FunctionCallInfo fcinfo, int argno, const char *name, int32 min, int32 max,
		const char *hint)
{
	char	   *text;

	if (!PG_ARGISNULL(argno) && PG_GETARG_INT32(argno) >= min && PG_GETARG_INT32(argno) <= max)
		return PG_GETARG_INT32(argno);
	text = PG_ARGISNULL(argno) ? "NULL" : psprintf("%d", PG_GETARG_INT32(argno));
	search_bad_value(name, text, strlen(text), hint);
}

/*
 * search_tasks(owner, status, priority, patient, _count, _offset, _sort)
 * -> jsonb: the named-argument form, the same search as the query
 * owner=&patient=&status=&priority=&_sort=&_count=&_offset=.
 */
Datum
omnitask_search_tasks(PG_FUNCTION_ARGS)
{
	StringInfoData query;
	SearchQuery q;
	int32		count = int_arg(fcinfo, 4, "_count", 1, 1000, "_count takes 1 to 1000.");
	int32		offset = int_arg(fcinfo, 5, "_offset", 0, PG_INT32_MAX, "_offset takes 0 or more.");

	initStringInfo(&query);
	append_arg(&query, "owner", fcinfo, 0);
	append_arg(&query, "patient", fcinfo, 3);
	append_arg(&query, "status", fcinfo, 1);
	append_arg(&query, "priority", fcinfo, 2);
	append_arg(&query, "_sort", fcinfo, 6);
	appendStringInfo(&query, "&_count=%d&_offset=%d", count, offset);
	search_parse_query(query.data + 1, false, false, &q);
	return search_run(&q, audit_text(&q));
}

/*
 * search_parameters() -> jsonb: the parameters search_tasks_query takes,
 * as the CapabilityStatement's searchParam lists them.
 */
Datum
omnitask_search_parameters(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(search_parameters_jsonb());
}
