/*-------------------------------------------------------------------------
 *
 * search.h
 *	  FHIR search on Task: the parsed query (search_query.c) and the engine
 *	  that runs it and builds the searchset Bundle (search.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEARCH_H
#define SEARCH_H

#include "lib/stringinfo.h"
#include "pg_compat.h"
#include "utils/jsonb.h"

#define SEARCH_MAX_ARGS		64		/* most values one query may pass */

/* What the Bundle carries for the total (_total, _summary=count). */
typedef enum SearchTotal
{
	SEARCH_TOTAL_ACCURATE,		/* count the matches */
	SEARCH_TOTAL_ESTIMATE,		/* count up to a bound: exact below it, absent above */
	SEARCH_TOTAL_NONE,			/* no count: one row more says "next" */
	SEARCH_TOTAL_ONLY			/* _summary=count: the count, no entries */
} SearchTotal;

/*
 * A token parameter read by a key column of its own (search_query.c,
 * coding_key_arg): the column (NULL: none), the key's argument, the
 * token's condition, and whether the key alone decides (else the
 * condition too).
 */
typedef struct SearchKey
{
	const struct SearchKeyColumn *column;
	int			arg;			/* $n of the key */
	char	   *cond;			/* the token's condition */
	bool		exact;
} SearchKey;

/*
 * A search ready to run: a WHERE clause over omnitask.task t made of fixed
 * fragments, whose values are the arguments $1 ... $nargs; the ORDER BY;
 * the paging; and the query as the self link repeats it.
 */
typedef struct SearchQuery
{
	StringInfoData where;
	StringInfoData order;
	StringInfoData link;		/* "a=b&c=d" without _count and _offset */
	Datum		args[SEARCH_MAX_ARGS];
	Oid			argtypes[SEARCH_MAX_ARGS + 3];	/* + LIMIT, OFFSET, walk rows */
	int			nargs;
	int32		count;
	int32		offset;
	SearchTotal total;
	int			revinclude;		/* _revinclude=Task:part-of: 0, 1, 2 = :iterate */
	bool		tokens_first;	/* a search_tokens condition: filter, then order */
	StringInfoData rest;		/* where without the positive token conditions */
	StringInfoData tokens;		/* the positive token conditions ("true AND ...") */
	bool		common_tokens;	/* one of them is a coding (code, performer, ...) */
	bool		walk_order;		/* an index gives the ORDER BY: a walk can stop early */
	bool		date_walk;		/* a date range among them (walked first too) */
	bool		rare_tokens;	/* an identifier, a reference or a patient among them */
	bool		one_day;		/* one day of a column with a day index */
	bool		custom_plans;	/* a date range: planned for its values (search.c) */
	StringInfoData dates;		/* the date ranges among them ("true AND ...") */
	StringInfoData undated;		/* the others ("true AND ...") */
	int			nundated;		/* how many conditions undated holds */
	int			split_n;		/* a status list read per status: its size, or 0 */
	const char **split_codes;	/* its statuses */
	const char *split_column;	/* its column, equality operator and type */
	const char *split_operator;
	const char *split_type;
	SearchKey	key;			/* business-status=system|code read by its key */
	struct SearchElements *elements;	/* _elements, _summary=true|text|data, or NULL */
	/* a date range read day by day in the page's order (search_days_source) */
	int			days_n;			/* its days, or 0 */
	const char *days_column;	/* its column ("t.authored_on") */
	const char *days_index;		/* the column's day index (with a code's key, the key's) */
	const char *days_index_alt; /* with a code's key, the column's (a branch of later days may read it) */
	int			days_arg;		/* $n of its whole days (date[]), or 0 */
	int			days_first;		/* $n of the first day when the range starts within it (date), or 0 */
	int			days_lo;		/* then $n of that start */
	int			days_last;		/* $n of the last day when the range ends within it (date), or 0 */
	int			days_hi;		/* $n of that end (the first day's too when it is the last) */
	char	   *days_tail;		/* open range: the literal day after which one branch reads the rest */
	bool		days_keyed;		/* each day read by a code's key (search_days_source) */
	SearchKey	days_key;		/* a code unkeyed (search_unkey) that a range's days
								 * may read by its key */
	/* while parsing: the range of the date parameters without a modifier */
	const char *range_column;	/* their column, or NULL */
	int64		range_lo;		/* the intersection of their ranges [lo, hi), */
	int64		range_hi;		/* timestamptz, DT_NOBEGIN/DT_NOEND when open */
	bool		range_any;		/* one of them is not one range of range_column */
} SearchQuery;

/* search_query.c */
extern void search_append_escaped(StringInfo buf, const char *s);
extern Jsonb *search_parameters_jsonb(void);
extern void search_parse_query(const char *query, bool lenient, bool bounded,
							   SearchQuery *q);
extern void search_unkey(SearchQuery *q);
extern const char *search_key_plan_name(const SearchQuery *q);
pg_noreturn extern void search_bad_value(const char *param, const char *value,
										 int len, const char *hint);

/* search_period.c */
extern char *search_page_source(SearchQuery *q, const char *cond, const char *limit);
extern char *search_days_source(SearchQuery *q, const char *cond, const char *limit);
extern int32 search_utc_day(int64 t);
extern void search_period_condition(int prefix, int lo, int hi, StringInfo cond);

/* search.c */
extern void search_init(void);
extern Datum search_run(SearchQuery *q, const char *audit_query);

#endif							/* SEARCH_H */
