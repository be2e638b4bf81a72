/*-------------------------------------------------------------------------
 *
 * search_query.c
 *	  The FHIR query string of a Task search, as it arrives
 *	  ("owner:missing=true&status=ready&_count=20"), parsed into a
 *	  SearchQuery: URL-decoding, comma = OR, repetition = AND, modifiers
 *	  :missing and :not, token system|code, date prefixes with the implicit
 *	  range of the value's precision, and the result parameters _sort,
 *	  _count, _offset, _total and _summary=count.
 *
 * The WHERE clause is assembled from the fixed fragments of the parameter
 * table below only; every value the caller wrote reaches the query as an
 * argument ($n), never as SQL text.  An unrecognized parameter raises
 * 22023 naming it (all of them), unless the caller asked for lenient
 * handling, which drops it from the search and from the self link.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fhir_outcome.h"
#include "fhir_tables.h"
#include "fhir_types.h"
#include "mb/pg_wchar.h"
#include "pg_compat.h"
#include "search.h"
#include "search_elements.h"
#include "task_columns.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define MAX_QUERY_BYTES		16384	/* longest query string */
#define MAX_LIST_BYTES		1024	/* longest value of one parameter */
#define MAX_COUNT			1000	/* largest _count */
#define MAX_RANGE_DAYS		62		/* longest date range read day by day */

/* How a parameter's values are compared with the row. */
typedef enum SearchParamKind
{
	PK_CODE,					/* a code column (enum or id): col = ANY($n) */
	PK_REF,						/* a reference column */
	PK_DATE,					/* a timestamptz column */
	PK_PERIOD,					/* executionPeriod, a range (search_period.c) */
	PK_CODING,					/* codings or identifiers: t.search_tokens */
	PK_JSONREF					/* references in the resource: t.search_tokens */
} SearchParamKind;

/* One search parameter of Task and the fragments it is made of. */
typedef struct SearchParamDef
{
	const char *name;
	SearchParamKind	kind;
	const char *column;			/* the column compared */
	const char *array_type;		/* PK_CODE: the SQL type of the list */
	const char *system;			/* PK_CODE: the implicit code system */
	int			valueset;		/* PK_CODE: allowed codes, or -1 for ids */
	const char *ref_type;		/* PK_REF: the one type, or NULL for any */
	const char *missing;		/* SQL true when the element is absent */
	const char *hint;
	const char *json_base;		/* PK_CODING, PK_JSONREF: jsonpath of the items */
	const char *json_code;		/* PK_CODING: "code" (Coding) or "value" (Identifier) */
} SearchParamDef;

static const char *const priorities[] = {"routine", "urgent", "asap", "stat"};

#define VS_PRIORITY		(-2)	/* the four priorities above */

static const SearchParamDef params[] = {
	{"_id", PK_CODE, "t.id", "text[]", NULL, -1, NULL, "false",
	"_id takes a comma-separated list of Task ids.", NULL, NULL},
	{"_lastUpdated", PK_DATE, "t.last_updated", NULL, NULL, 0, NULL, "false",
	"_lastUpdated takes a date, dateTime or instant, optionally prefixed with eq, ne, lt, gt, le, ge, sa or eb.", NULL, NULL},
	{"authored-on", PK_DATE, "t.authored_on", NULL, NULL, 0, NULL, "NOT (t.resource ? 'authoredOn')",
	"authored-on takes a date, dateTime or instant, optionally prefixed with eq, ne, lt, gt, le, ge, sa or eb.", NULL, NULL},
	{"based-on", PK_JSONREF, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{based-on}')",
	"based-on takes a comma-separated list of {type}/{id}.", "$.basedOn[*]", NULL},
	{"business-status", PK_CODING, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{business-status}')",
	"business-status takes a comma-separated list of code, system|code, system| or |code.",
	"$.businessStatus.coding[*]", "code"},
	{"code", PK_CODING, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{code}')",
	"code takes a comma-separated list of code, system|code, system| or |code.", "$.code.coding[*]", "code"},
	{"due-date", PK_DATE, "t.due_at", NULL, NULL, 0, NULL, "t.due_at IS NULL",
	"due-date takes a date, dateTime or instant, optionally prefixed with eq, ne, lt, gt, le, ge, sa or eb.", NULL, NULL},
	{"encounter", PK_JSONREF, NULL, NULL, NULL, 0, "Encounter", "NOT (t.search_tokens @> '{encounter}')",
	"encounter takes a comma-separated list of Encounter/{id} or {id}.", "$.encounter", NULL},
	{"focus", PK_JSONREF, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{focus}')",
	"focus takes a comma-separated list of {type}/{id}.", "$.focus", NULL},
	{"group-identifier", PK_CODING, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{group-identifier}')",
	"group-identifier takes a comma-separated list of value, system|value, system| or |value.",
	"$.groupIdentifier", "value"},
	{"identifier", PK_CODING, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{identifier}')",
	"identifier takes a comma-separated list of value, system|value, system| or |value.",
	"$.identifier[*]", "value"},
	{"intent", PK_CODE, "t.intent", "omnitask.task_intent[]", "http://hl7.org/fhir/task-intent",
	FHIR_VS_TASK_INTENT, NULL, "false", NULL, NULL, NULL},
	{"modified", PK_DATE, "t.last_modified", NULL, NULL, 0, NULL, "false",
	"modified takes a date, dateTime or instant, optionally prefixed with eq, ne, lt, gt, le, ge, sa or eb.", NULL, NULL},
	{"owner", PK_REF, "t.owner_id", NULL, NULL, 0, "Practitioner", "t.owner_id IS NULL",
	"owner takes a comma-separated list of Practitioner/{id} or {id}.", NULL, NULL},
	{"part-of", PK_JSONREF, NULL, NULL, NULL, 0, "Task", "NOT (t.search_tokens @> '{part-of}')",
	"part-of takes a comma-separated list of Task/{id} or {id}.", "$.partOf[*]", NULL},
	{"patient", PK_REF, "t.patient_id", NULL, NULL, 0, "Patient", "false",
	"patient takes a comma-separated list of Patient/{id} or {id}.", NULL, NULL},
	{"performer", PK_CODING, NULL, NULL, NULL, 0, NULL, "NOT (t.search_tokens @> '{performer}')",
	"performer takes a comma-separated list of code, system|code, system| or |code.",
	"$.performerType[*].coding[*]", "code"},
	{"period", PK_PERIOD, NULL, NULL, NULL, 0, NULL, "NOT (t.resource ? 'executionPeriod')",
	"period takes a date, dateTime or instant, optionally prefixed with eq, ne, lt, gt, le, ge, sa or eb.", NULL, NULL},
	{"priority", PK_CODE, "t.priority", "omnitask.task_priority[]", "http://hl7.org/fhir/request-priority",
	VS_PRIORITY, NULL, "NOT (t.resource ? 'priority')",
	"priority takes a comma-separated list of routine, urgent, asap, stat.", NULL, NULL},
	{"requester", PK_REF, "t.requester", NULL, NULL, 0, NULL, "t.requester IS NULL",
	"requester takes a comma-separated list of {type}/{id} or {id}.", NULL, NULL},
	{"status", PK_CODE, "t.status", "omnitask.task_status[]", "http://hl7.org/fhir/task-status",
	FHIR_VS_TASK_STATUS, NULL, "false", NULL, NULL, NULL},
	{"subject", PK_REF, "t.patient_id", NULL, NULL, 0, "Patient", "false",
	"subject takes a comma-separated list of Patient/{id} or {id}.", NULL, NULL},
};

/* The keys _sort takes and the columns they order by. */
static const char *const sort_keys[] = {"priority", "due-date", "due", "authored-on", "modified",
"status", "intent", "_lastUpdated", "_id"};
static const char *const sort_cols[] = {"t.priority", "t.due_at", "t.due_at", "t.authored_on",
"t.last_modified", "t.status", "t.intent", "t.last_updated", "t.id"};

#define DEFAULT_SORT "-priority,due-date,authored-on"
#define DEFAULT_ORDER "t.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, t.id"

/* One value of a date parameter: prefix and range. */
static const char *const date_prefixes[] = {"eq", "ne", "lt", "gt", "le", "ge", "sa", "eb"};

/*
 * Raises 22023 for a value a parameter cannot take, quoting it (cut at 64
 * characters), with the hint saying what it takes.
 */
void
search_bad_value(const char *param, const char *value, int len, const char *hint)
{
	char	   *cut = pnstrdup(value, pg_mbcharcliplen(value, len, 64));

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for search parameter \"%s\": \"%s\"", param, cut),
			 hint ? errhint("%s", hint) : 0));
}

/* The hint of a code parameter: the codes it takes. */
static const char *
code_hint(const SearchParamDef *def)
{
	const FhirValueSet *vs;
	StringInfoData buf;
	int			i;

	if (def->hint)
		return def->hint;
	vs = &fhir_valuesets[def->valueset];
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s takes a comma-separated list of ", def->name);
	for (i = 0; i < vs->ncodes; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", vs->codes[i]);
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

/*
 * The equality operator a code parameter's column is compared with: for
 * the status, the leakproof ~=~ of task_status_ops (omnitask--0.5--0.6.sql)
 * rather than the enum's "=" (enum_eq, not leakproof), so that under
 * row-level security the condition is estimated from the column's
 * statistics and may be an index condition, as without it.  The indexes
 * that read a status in order are built with that operator class.
 */
static const char *
code_eq_operator(const SearchParamDef *def)
{
	return strcmp(def->column, "t.status") == 0 ? "OPERATOR(omnitask.~=~)" : "=";
}

/* Adds an argument, returning its number ($n). */
static int
add_arg(SearchQuery *q, Datum value, Oid type)
{
	if (q->nargs == SEARCH_MAX_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search query has too many values"),
				 errdetail("A search takes at most %d values.", SEARCH_MAX_ARGS)));
	q->args[q->nargs] = value;
	q->argtypes[q->nargs] = type;
	return ++q->nargs;
}

/*
 * URL-decodes s[0..len): %XX escapes and + for a space.  The result must be
 * valid in the database encoding.
 */
static char *
url_decode(const char *s, int len)
{
	char	   *out = palloc(len + 1);
	int			n = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			char		hex[3] = {0, 0, 0};

			if (i + 2 < len)
				memcpy(hex, s + i + 1, 2);
			if (!isxdigit((unsigned char) hex[0]) || !isxdigit((unsigned char) hex[1]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid percent-encoding in search query: \"%s\"",
								pnstrdup(s + i, Min(3, len - i))),
						 errdetail("A %% must be followed by two hexadecimal digits.")));
			out[n++] = (char) strtol(hex, NULL, 16);
			i += 2;
		}
		else
			out[n++] = s[i] == '+' ? ' ' : s[i];
	}
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL || !pg_verifymbstr(out, n, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid byte sequence in search query")));
	return out;
}

/* Appends s to buf with the characters that delimit a query escaped. */
void
search_append_escaped(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		if (*s == '%' || *s == '&' || *s == '=' || *s == '+' || *s == '#' || *s == ' ')
			appendStringInfo(buf, "%%%02X", (unsigned char) *s);
		else
			appendStringInfoChar(buf, *s);
	}
}

/* True when s[0..len) can be a resource type: one or more ASCII letters. */
static bool
is_type_name(const char *s, int len)
{
	int			i;

	for (i = 0; i < len; i++)
		if (!isalpha((unsigned char) s[i]))
			return false;
	return len > 0;
}

/* The next comma-separated item of *p (advancing it), with its length. */
static const char *
next_item(const char **p, int *len)
{
	const char *item = *p;
	const char *comma;

	if (item == NULL)
		return NULL;
	comma = strchr(item, ',');
	*len = comma ? comma - item : (int) strlen(item);
	*p = comma ? comma + 1 : NULL;
	return item;
}

/*
 * The condition of a code parameter: each item "code", "system|code",
 * "|code" or "system|" (every code of the system); a code of another
 * system matches nothing.  Each code is listed once in the array compared.
 * A status list that is not negated (:not) may be read per status.
 */
static void
code_condition(const SearchParamDef *def, const char *value, bool negated, SearchQuery *q,
			   StringInfo cond)
{
	const char *const *codes;
	int			ncodes;
	Datum	   *items;
	bool	   *seen;
	int			n = 0;
	const char *p = value;
	const char *item;
	int			len;
	ArrayType  *arr;
	int			i;

	if (def->valueset == VS_PRIORITY)
	{
		codes = priorities;
		ncodes = lengthof(priorities);
	}
	else if (def->valueset >= 0)
	{
		codes = fhir_valuesets[def->valueset].codes;
		ncodes = fhir_valuesets[def->valueset].ncodes;
	}
	else
	{
		codes = NULL;
		ncodes = 0;
	}
	items = palloc(sizeof(Datum) * (codes ? (size_t) ncodes : strlen(value) + 1));
	seen = palloc0(sizeof(bool) * (ncodes + 1));
	while ((item = next_item(&p, &len)) != NULL)
	{
		const char *bar = memchr(item, '|', len);
		const char *code = bar ? bar + 1 : item;
		int			clen = bar ? len - (bar - item) - 1 : len;

		if (bar && bar > item && (def->system == NULL ||
								  (int) strlen(def->system) != bar - item ||
								  memcmp(def->system, item, bar - item) != 0))
		{
			/* another system: no code of this parameter is in it */
			if (clen == 0 && bar == item)
				search_bad_value(def->name, item, len, code_hint(def));
			continue;
		}
		if (codes == NULL)
		{
			const char *why;

			if (!fhir_check_string(FP_ID, code, clen, &why) || memchr(code, ',', clen))
				search_bad_value(def->name, item, len, code_hint(def));
			items[n++] = PointerGetDatum(cstring_to_text_with_len(code, clen));
			continue;
		}
		if (bar && clen == 0 && bar > item)
		{
			/* system|: every code */
			for (i = 0; i < ncodes; i++)
				if (!seen[i])
				{
					items[n++] = CStringGetTextDatum(codes[i]);
					seen[i] = true;
				}
			continue;
		}
		for (i = 0; i < ncodes; i++)
			if ((int) strlen(codes[i]) == clen && memcmp(codes[i], code, clen) == 0)
				break;
		if (i == ncodes)
			search_bad_value(def->name, item, len, code_hint(def));
		if (!seen[i])
			items[n++] = PointerGetDatum(cstring_to_text_with_len(code, clen));
		seen[i] = true;
	}
	if (n == 0)
	{
		appendStringInfoString(cond, "false");
		return;
	}
	arr = construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT);
	appendStringInfo(cond, "%s %s ANY ($%d::%s)", def->column, code_eq_operator(def),
					 add_arg(q, PointerGetDatum(arr), TEXTARRAYOID), def->array_type);
	/*
	 * The first status list: one branch per status (search_page_source),
	 * each naming its status as a literal of the code table, not as the
	 * caller wrote it.
	 */
	if (!negated && strcmp(def->name, "status") == 0 && q->split_n == 0 && codes)
	{
		q->split_codes = palloc(sizeof(char *) * n);
		for (i = 0; i < ncodes; i++)
			if (seen[i])
				q->split_codes[q->split_n++] = codes[i];
		q->split_column = def->column;
		q->split_operator = code_eq_operator(def);
		q->split_type = pnstrdup(def->array_type, strlen(def->array_type) - 2);	/* without [] */
	}
}

/*
 * The condition of a reference parameter: "Type/id" or "id".  A parameter
 * whose column holds the id of one type refuses other types; requester
 * (any type, stored as written) matches "Type/id" exactly and a bare id of
 * any type.  The self link names each reference with its type.  One id
 * is compared by equality: "owner_id = ANY ($1)" cannot give the page's
 * order from task_owner_worklist_idx (the planner counts a list as no
 * equality), "owner_id = $1" can (4 ms against 0.2 ms for an owner's page
 * at a million tasks).
 */
static void
ref_condition(const SearchParamDef *def, const char *value, SearchQuery *q, StringInfo cond,
			  StringInfo link)
{
	Datum	   *typed = palloc(sizeof(Datum) * (strlen(value) + 1));
	Datum	   *bare = palloc(sizeof(Datum) * (strlen(value) + 1));
	int			ntyped = 0,
				nbare = 0;
	const char *p = value;
	const char *item;
	int			len;

	while ((item = next_item(&p, &len)) != NULL)
	{
		const char *slash = memchr(item, '/', len);
		const char *id = slash ? slash + 1 : item;
		int			idlen = slash ? len - (slash - item) - 1 : len;
		const char *why;

		if (!fhir_check_string(FP_ID, id, idlen, &why) ||
			(slash && def->ref_type &&
			 ((int) strlen(def->ref_type) != slash - item ||
			  memcmp(def->ref_type, item, slash - item) != 0)) ||
			(slash && !def->ref_type && !is_type_name(item, slash - item)))
			search_bad_value(def->name, item, len, def->hint);
		if (def->ref_type)
		{
			typed[ntyped++] = PointerGetDatum(cstring_to_text_with_len(id, idlen));
			appendStringInfo(link, "%s%s/", ntyped > 1 ? "," : "", def->ref_type);
			appendBinaryStringInfo(link, id, idlen);
			continue;
		}
		if (slash)
			typed[ntyped++] = PointerGetDatum(cstring_to_text_with_len(item, len));
		else
			bare[nbare++] = PointerGetDatum(cstring_to_text_with_len(item, len));
		appendStringInfoString(link, ntyped + nbare > 1 ? "," : "");
		appendBinaryStringInfo(link, item, len);
	}
	appendStringInfoChar(cond, '(');
	/* one id: an equality, which the worklist indexes read in page order */
	if (ntyped == 1 && nbare == 0)
		appendStringInfo(cond, "%s = $%d", def->column, add_arg(q, typed[0], TEXTOID));
	else if (ntyped > 0)
		appendStringInfo(cond, "%s = ANY ($%d::text[])", def->column,
						 add_arg(q, PointerGetDatum(construct_array(typed, ntyped, TEXTOID, -1, false, TYPALIGN_INT)),
								 TEXTARRAYOID));
	if (nbare > 0)
		appendStringInfo(cond, "%spg_catalog.substring(%s, '[^/]*$') = ANY ($%d::text[])",
						 ntyped > 0 ? " OR " : "", def->column,
						 add_arg(q, PointerGetDatum(construct_array(bare, nbare, TEXTOID, -1, false, TYPALIGN_INT)),
								 TEXTARRAYOID));
	appendStringInfoChar(cond, ')');
}

/* Appends the condition of one item of a comma list to cond. */
typedef void (*ItemCondition) (const SearchParamDef *def, const char *item, int len,
							   SearchQuery *q, StringInfo cond);

/* The condition of a comma list: each item's condition, ORed. */
static void
or_items(const SearchParamDef *def, const char *value, SearchQuery *q, StringInfo cond,
		 ItemCondition item_condition)
{
	const char *p = value;
	const char *item;
	int			len;
	int			n = 0;

	appendStringInfoChar(cond, '(');
	while ((item = next_item(&p, &len)) != NULL)
	{
		if (n++)
			appendStringInfoString(cond, " OR ");
		item_condition(def, item, len, q, cond);
	}
	appendStringInfoChar(cond, ')');
}

/*
 * The search token of one item of a Coding or Identifier parameter:
 * "code", "system|code", "system|" or "|code" (one without a system).
 * When the token is a hash (a long value), the exact condition over the
 * resource -- a jsonpath, its fixed text from the parameter table, whose
 * values are the argument -- goes to recheck.
 */
static char *
coding_token(const SearchParamDef *def, const char *item, int len, SearchQuery *q, StringInfo recheck)
{
	const char *bar = memchr(item, '|', len);
	char	   *system = bar ? pnstrdup(item, bar - item) : NULL;
	char	   *code = bar ? pnstrdup(bar + 1, len - (bar - item) - 1) : pnstrdup(item, len);
	char	   *token;
	char	   *path;
	StringInfoData vars;
	const char *why;
	bool		hashed;

	if ((*code == '\0' && (system == NULL || *system == '\0')) ||
		(*code && !fhir_check_string(strcmp(def->json_code, "code") == 0 ? FP_CODE : FP_STRING,
									 code, strlen(code), &why)) ||
		(system && *system && !fhir_check_string(FP_URI, system, strlen(system), &why)))
		search_bad_value(def->name, item, len, def->hint);
	token = task_search_token(def->name, system, system ? strlen(system) : 0,
							  *code ? code : NULL, strlen(code), &hashed);
	if (!hashed)
		return token;
	if (system == NULL)
		path = psprintf("%s ? (@.%s == $c)", def->json_base, def->json_code);
	else if (*system == '\0')
		path = psprintf("%s ? (@.%s == $c && !exists(@.system))", def->json_base, def->json_code);
	else if (*code == '\0')
		path = psprintf("%s ? (@.system == $s)", def->json_base);
	else
		path = psprintf("%s ? (@.system == $s && @.%s == $c)", def->json_base, def->json_code);
	initStringInfo(&vars);
	appendStringInfoString(&vars, "{\"s\": ");
	escape_json(&vars, system ? system : "");
	appendStringInfoString(&vars, ", \"c\": ");
	escape_json(&vars, code);
	appendStringInfoChar(&vars, '}');
	appendStringInfo(recheck, "pg_catalog.jsonb_path_exists(t.resource, '%s', $%d::jsonb)", path,
					 add_arg(q, DirectFunctionCall1(jsonb_in, CStringGetDatum(vars.data)), JSONBOID));
	return token;
}

/*
 * The search token of one item of a reference parameter kept in the
 * resource: "Type/id" matches that reference exactly; a bare id is read as
 * the parameter's one type (part-of: Task, encounter: Encounter) and
 * refused where the type is open (based-on, focus).  A hashed token's
 * exact condition goes to recheck, as for codings.
 */
static char *
jsonref_token(const SearchParamDef *def, const char *item, int len, SearchQuery *q, StringInfo recheck)
{
	const char *slash = memchr(item, '/', len);
	const char *id = slash ? slash + 1 : item;
	const char *why;
	char	   *ref;
	char	   *token;
	StringInfoData vars;
	bool		hashed;

	if (!fhir_check_string(FP_ID, id, len - (id - item), &why) ||
		(slash == NULL && def->ref_type == NULL) ||
		(slash && def->ref_type && ((int) strlen(def->ref_type) != slash - item ||
									memcmp(def->ref_type, item, slash - item) != 0)) ||
		(slash && !is_type_name(item, slash - item)))
		search_bad_value(def->name, item, len, def->hint);
	ref = slash ? pnstrdup(item, len) : psprintf("%s/%.*s", def->ref_type, len, item);
	token = task_search_token(def->name, NULL, 0, ref, strlen(ref), &hashed);
	if (!hashed)
		return token;
	initStringInfo(&vars);
	appendStringInfoString(&vars, "{\"r\": ");
	escape_json(&vars, ref);
	appendStringInfoChar(&vars, '}');
	appendStringInfo(recheck, "pg_catalog.jsonb_path_exists(t.resource, '%s ? (@.reference == $r)', $%d::jsonb)",
					 def->json_base,
					 add_arg(q, DirectFunctionCall1(jsonb_in, CStringGetDatum(vars.data)), JSONBOID));
	return token;
}

/* The search token of one item of a list, with the recheck of a hashed one. */
typedef char *(*ItemToken) (const SearchParamDef *def, const char *item, int len,
							SearchQuery *q, StringInfo recheck);

/* A text[] argument of n tokens, returning its number ($n). */
static int
add_tokens_arg(SearchQuery *q, Datum *tokens, int n)
{
	return add_arg(q, PointerGetDatum(construct_array(tokens, n, TEXTOID, -1, false, TYPALIGN_INT)),
				   TEXTARRAYOID);
}

/*
 * The condition of a comma list of a parameter kept in search_tokens: the
 * row has any of the items' tokens (one GIN index condition), or, for an
 * item whose token is a hash, that hash and the exact condition.
 */
static void
token_condition(const SearchParamDef *def, const char *value, SearchQuery *q, StringInfo cond,
				ItemToken item_token)
{
	const char *p = value;
	const char *item;
	int			len;
	Datum	   *tokens = palloc(sizeof(Datum) * (strlen(value) + 1));
	int			n = 0;
	StringInfoData hashed;

	initStringInfo(&hashed);
	while ((item = next_item(&p, &len)) != NULL)
	{
		StringInfoData recheck;
		Datum		token;

		initStringInfo(&recheck);
		token = CStringGetTextDatum(item_token(def, item, len, q, &recheck));
		if (recheck.len == 0)
			tokens[n++] = token;
		else
			appendStringInfo(&hashed, " OR (t.search_tokens @> $%d AND %s)",
							 add_tokens_arg(q, &token, 1), recheck.data);
	}
	appendStringInfo(cond, "(t.search_tokens && $%d%s)", add_tokens_arg(q, tokens, n), hashed.data);
}

/*
 * The prefix (its number in date_prefixes) of one item of a date parameter
 * (a date, dateTime or instant, optionally prefixed) and the range its
 * value denotes, [*lo, *hi) as timestamptz: the range of its precision (a
 * date without a time is that day in UTC, as the date columns read it).
 */
static int
date_value(const SearchParamDef *def, const char *item, int len, TimestampTz *lo, TimestampTz *hi)
{
	int			prefix = 0;
	const char *v = item;
	int			vlen = len;
	FhirTimeRange r;
	const char *why;

	if (len >= 2 && isalpha((unsigned char) item[0]))
	{
		for (prefix = 0; prefix < (int) lengthof(date_prefixes); prefix++)
			if (memcmp(date_prefixes[prefix], item, 2) == 0)
				break;
		if (prefix == (int) lengthof(date_prefixes))
			search_bad_value(def->name, item, len, def->hint);
		v += 2;
		vlen -= 2;
	}
	if (!fhir_parse_time_range(FP_DATETIME, v, vlen, &r, &why))
		search_bad_value(def->name, item, len, def->hint);
	if (memchr(v, 'T', vlen) == NULL)
	{
		r.lo += FHIR_UNZONED_SLACK;
		r.hi -= FHIR_UNZONED_SLACK;
	}
	*lo = r.lo - FHIR_UNIX_TO_PG_EPOCH;
	*hi = r.hi - FHIR_UNIX_TO_PG_EPOCH;
	return prefix;
}

/*
 * The condition of one item of a date parameter: the column's instant is
 * compared with the range of its value (date_value): eq inside, ne
 * outside, lt/eb before it, gt/sa after it, le before its end, ge from its
 * start.
 */
static void
date_item(const SearchParamDef *def, const char *item, int len, SearchQuery *q, StringInfo cond)
{
	TimestampTz vlo,
				vhi;
	int			prefix = date_value(def, item, len, &vlo, &vhi);
	int			lo,
				hi;
	const char *c = def->column;

	lo = add_arg(q, TimestampTzGetDatum(vlo), TIMESTAMPTZOID);
	hi = add_arg(q, TimestampTzGetDatum(vhi), TIMESTAMPTZOID);
	if (def->kind == PK_PERIOD)
	{
		search_period_condition(prefix, lo, hi, cond);
		return;
	}
	switch (prefix)
	{
		case 0:					/* eq */
			appendStringInfo(cond, "(%s >= $%d AND %s < $%d)", c, lo, c, hi);
			break;
		case 1:					/* ne */
			appendStringInfo(cond, "NOT (%s >= $%d AND %s < $%d)", c, lo, c, hi);
			break;
		case 2:					/* lt */
		case 7:					/* eb */
			appendStringInfo(cond, "%s < $%d", c, lo);
			break;
		case 3:					/* gt */
		case 6:					/* sa */
			appendStringInfo(cond, "%s >= $%d", c, hi);
			break;
		case 4:					/* le */
			appendStringInfo(cond, "%s < $%d", c, hi);
			break;
		default:				/* ge */
			appendStringInfo(cond, "%s >= $%d", c, lo);
			break;
	}
}

/*
 * Appends ORDER BY terms for a _sort list (or the default order), each key
 * at most once, so that a plan's text is short and the plans are finite.
 * True when an index of omnitask.task reads the rows in that order, or in
 * an order whose ties are few (so that a LIMIT stops a walk of it early):
 * the default order (task_priority_idx; task_owner_worklist_idx for one
 * owner), or one starting with _id, authored-on, modified, _lastUpdated
 * or due-date ascending (their own indexes; due_at's NULLS LAST is its
 * ascending order only).
 */
static bool
sort_terms(const char *sort, StringInfo order)
{
	static const char *const walk_first_keys[] = {
		"t.priority DESC, t.due_at ASC NULLS LAST, t.authored_on ASC, ",	/* the default */
		"t.id ", "t.authored_on ", "t.last_modified ", "t.due_at ASC ", "t.last_updated "
	};
	const char *p = sort ? sort : DEFAULT_SORT;
	bool		seen[lengthof(sort_keys)] = {false};
	const char *item;
	int			len;
	int			k;

	while ((item = next_item(&p, &len)) != NULL)
	{
		bool		desc = (len > 0 && item[0] == '-');
		const char *k = desc ? item + 1 : item;
		int			klen = desc ? len - 1 : len;
		int			i;

		for (i = 0; i < (int) lengthof(sort_keys); i++)
			if ((int) strlen(sort_keys[i]) == klen && memcmp(sort_keys[i], k, klen) == 0)
				break;
		if (i == (int) lengthof(sort_keys))
			search_bad_value("_sort", item, len,
							 "_sort takes a comma-separated list of priority, due-date, authored-on, modified, status, intent, _lastUpdated, _id, each optionally prefixed with -.");
		/* due and due-date are one key */
		if (seen[i] || (i == 1 && seen[2]) || (i == 2 && seen[1]))
			search_bad_value("_sort", item, len,
							 psprintf("_sort names each key at most once; \"%s\" is listed twice.", sort_keys[i]));
		seen[i] = true;
		/* only due_at can be NULL: the other keys match the indexes' order */
		appendStringInfo(order, "%s %s%s, ", sort_cols[i], desc ? "DESC" : "ASC",
						 (i == 1 || i == 2) ? " NULLS LAST" : "");
	}
	appendStringInfoString(order, "t.id");
	for (k = 0; k < (int) lengthof(walk_first_keys); k++)
		if (strncmp(order->data, walk_first_keys[k], strlen(walk_first_keys[k])) == 0)
			return true;
	return false;
}

/* An integer result parameter (_count, _offset) within [min, max]. */
static int32
int_param(const char *name, const char *value, int32 min, int32 max, const char *hint)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (*value == '\0' || !isdigit((unsigned char) *value) || *end != '\0' ||
		errno != 0 || v < min || v > max)
		search_bad_value(name, value, strlen(value), hint);
	return (int32) v;
}

/*
 * Handles a result parameter (_count, _offset, _sort, _total, _summary);
 * false when name is not one.  Each may appear once.
 */
static bool
result_param(const char *name, const char *value, SearchQuery *q, const char **sort,
			 uint32 *seen)
{
	static const char *const names[] = {"_count", "_offset", "_sort", "_total", "_summary", "_elements"};
	int			i;

	for (i = 0; i < (int) lengthof(names); i++)
		if (strcmp(names[i], name) == 0)
			break;
	if (i == (int) lengthof(names))
		return false;
	if (*seen & (1 << i))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search parameter \"%s\" appears more than once", name)));
	*seen |= 1 << i;
	switch (i)
	{
		case 0:
			q->count = int_param(name, value, 1, MAX_COUNT, "_count takes 1 to 1000.");
			break;
		case 1:
			q->offset = int_param(name, value, 0, PG_INT32_MAX, "_offset takes 0 or more.");
			break;
		case 2:
			*sort = value;
			break;
		case 3:
			/* _summary=count keeps its count whatever _total says */
			if (strcmp(value, "none") == 0 || strcmp(value, "estimate") == 0)
			{
				if (q->total == SEARCH_TOTAL_ACCURATE)
					q->total = value[0] == 'n' ? SEARCH_TOTAL_NONE : SEARCH_TOTAL_ESTIMATE;
			}
			else if (strcmp(value, "accurate") != 0)
				search_bad_value(name, value, strlen(value), "_total takes none, estimate or accurate.");
			break;
		case 4:
			if (strcmp(value, "count") == 0)
				q->total = SEARCH_TOTAL_ONLY;
			else if (strcmp(value, "false") != 0)
				q->elements = search_elements_param(name, value, q->elements);
			break;
		default:
			q->elements = search_elements_param(name, value, q->elements);
			break;
	}
	return true;
}

/*
 * A derived column that keeps, per task, the key of its one coding of a
 * parameter (task_columns.c, key_column_datum), and what the key
 * mechanism needs to know of it: search_page_source reads the key's rows
 * and the many-codings rows from its index in the page's order.
 */
typedef struct SearchKeyColumn
{
	const char *param;			/* the search parameter */
	const char *column;			/* the key column */
	bool		needs_system;	/* the key is system|code (else c's, of any system) */
	bool		needs_day;		/* its index reads one day of authored-on after the key */
	const char *plan_name;		/* the plan, as run_page's DEBUG message names it */
	const char *day_index;		/* that index (days of a range read by the key), or NULL */
	const char *day_column;		/* the column of its days */
} SearchKeyColumn;

static const SearchKeyColumn key_columns[] = {
	/* task_business_status_token_idx (omnitask--0.6--0.7.sql) */
	{"business-status", "t.business_status_token", true, false, "the business status's key, in order", NULL, NULL},
	/* task_code_token_day_idx (omnitask--0.7--0.8.sql) */
	{"code", "t.code_token", false, true, "the code's key and day, in order", "task_code_token_day_idx",
	"t.authored_on"},
};

/*
 * The argument ($n) of the key column a business-status or code value is
 * read by, or 0: one item with a key (task_coding_key; a long one is kept
 * as a hash and has none): business-status system|code; code c, system|c
 * or |c (the key is c's, of any system: q->key.exact only for c alone,
 * else the token's condition is tested on the key's rows too).  Only the
 * first such parameter of a query (search_page_source reads one key).  The
 * value was checked by coding_token already, and is split as it splits
 * it.  A code's key serves one day of authored-on only
 * (task_code_token_day_idx): search_parse_query files it as a token
 * condition otherwise (search_unkey).
 */
static int
coding_key_arg(const SearchParamDef *def, const char *value, SearchQuery *q)
{
	const char *bar = strchr(value, '|');
	const char *code = bar ? bar + 1 : value;
	const SearchKeyColumn *kc = NULL;
	char	   *key;
	int			arg;
	int			i;

	for (i = 0; i < (int) lengthof(key_columns); i++)
		if (strcmp(key_columns[i].param, def->name) == 0)
			kc = &key_columns[i];
	if (kc == NULL || q->key.cond != NULL || strchr(value, ',') != NULL ||
		(kc->needs_system && bar == NULL))
		return 0;
	key = task_coding_key(def->name, value, bar ? bar - value : 0, code, strlen(code));
	if (key == NULL)
		return 0;
	arg = add_arg(q, CStringGetTextDatum(key), TEXTOID);
	q->key.column = kc;
	q->key.exact = kc->needs_system || bar == NULL;
	return arg;
}

/* The DEBUG name of the plan that reads the page by its key (run_page). */
const char *
search_key_plan_name(const SearchQuery *q)
{
	return q->key.column ? q->key.column->plan_name : "the filter";
}

/*
 * Whether a parameter's presence (:missing=false) has an index in the
 * default order: part-of, whose task_part_of_priority_idx (the
 * 0.6--0.7 script) is partial on search_tokens @> '{part-of}', the
 * condition NOT (missing) reduces to.  Its condition then goes with the
 * others (not tokens first), and the plain page query reads that index in
 * the page's order and stops at the page, for every caller: the planner
 * proves a partial index's predicate from the query's conditions whether
 * or not their operators are leakproof (the predicate is not evaluated, so
 * nothing leaks), so row-level security leaves it usable.  The subtasks of
 * a million tasks (5,000) were a walk of task_priority_idx that found too
 * few, then a bitmap scan of every subtask and a sort: 4.7-6.9 ms.
 *
 * Only part-of: a worklist asks for "the subtasks"; the presence of
 * another element (an identifier, a focus) is as common as the element
 * and has no worklist behind it, and each such index costs every write of
 * a task that has it.  business-status has its own column and index
 * (business_status_token).
 */
static bool
presence_ordered(const SearchParamDef *def)
{
	return strcmp(def->name, "part-of") == 0;
}

/*
 * The date columns with an index led by their UTC day and followed by the
 * default order: task_authored_day_idx (sql/omnitask--0.6--0.7.sql), and
 * for modified and _lastUpdated those of the 0.7--0.8 script, which end
 * with the column itself, so that the edge of a range within a day is an
 * index condition too (search_days_source).
 */
typedef struct DayIndex
{
	const char *column;
	const char *index;
} DayIndex;

static const DayIndex day_indexes[] = {
	{"t.authored_on", "task_authored_day_idx"},
	{"t.last_modified", "task_modified_day_idx"},
	{"t.last_updated", "task_last_updated_day_idx"},
};

/* The day index of a date parameter's column, or NULL. */
static const DayIndex *
day_index_of(const SearchParamDef *def)
{
	int			i;

	if (def->kind != PK_DATE)
		return NULL;
	for (i = 0; i < (int) lengthof(day_indexes); i++)
		if (strcmp(def->column, day_indexes[i].column) == 0)
			return &day_indexes[i];
	return NULL;
}

/*
 * Appends " AND column >= $lo AND column < $hi" to one day's condition
 * (day_condition), lo the day's first instant in UTC: the same rows
 * (task_day is the UTC day), but a condition on the column itself, which
 * an index holding the column checks on its entries.  The practitioner's
 * day was read from task_owner_worklist_idx (its policy's owner_id the
 * index condition), which holds authored_on but not its day: each of its
 * 740 tasks was fetched from the table to test task_day (3.2 million
 * instructions, against 1.7 million with 0.6's range, checked in the
 * index).  With the bounds, only the day's few are fetched.  In
 * task_authored_day_idx and task_code_token_day_idx, which hold the column
 * too, the bounds are checked on the entries the day already selects.
 */
static void
day_bounds(const SearchParamDef *def, TimestampTz lo, SearchQuery *q, StringInfo cond)
{
	appendStringInfo(cond, " AND %s >= $%d AND %s < $%d", def->column,
					 add_arg(q, TimestampTzGetDatum(lo), TIMESTAMPTZOID), def->column,
					 add_arg(q, TimestampTzGetDatum(lo + USECS_PER_DAY), TIMESTAMPTZOID));
}

/*
 * Appends "omnitask.task_day(column) = $n" when value is one day (a date
 * without a time, alone or prefixed with eq) of a column of day_indexes,
 * and returns true; false (nothing appended) otherwise.  A date without a
 * time is that day in UTC (date_item), so the condition is the range's
 * own: the same rows.  As a range, the day's rows (5,000 of a million
 * tasks, all near the end of the default order) were all read from the
 * column's index and sorted for a page of 20; as an equality on the day
 * index's first column, the index gives the page's order and a LIMIT
 * stops after the page.  task_day is leakproof, so the condition is an
 * index condition under row-level security too.  The condition is not
 * "positive" (param_condition): it has statistics (the index's
 * expression), and the page is the first rows of the index, so neither a
 * walk of task_priority_idx nor a count first is needed.
 */
static bool
day_condition(const SearchParamDef *def, const char *value, SearchQuery *q, StringInfo cond)
{
	const char *v = value;
	int			len = strlen(value);
	FhirTimeRange r;
	const char *why;
	TimestampTz lo;

	if (day_index_of(def) == NULL)
		return false;
	if (len >= 2 && memcmp(v, "eq", 2) == 0)
	{
		v += 2;
		len -= 2;
	}
	/* a list, a time or a bad value: date_item's */
	if (memchr(v, ',', len) != NULL || memchr(v, 'T', len) != NULL ||
		!fhir_parse_time_range(FP_DATETIME, v, len, &r, &why))
		return false;
	lo = r.lo + FHIR_UNZONED_SLACK - FHIR_UNIX_TO_PG_EPOCH;
	/* a month or a year */
	if (r.hi - r.lo - 2 * FHIR_UNZONED_SLACK != USECS_PER_DAY || lo % USECS_PER_DAY != 0)
		return false;
	q->one_day = true;
	appendStringInfo(cond, "omnitask.task_day(%s) = $%d", def->column,
					 add_arg(q, DateADTGetDatum((DateADT) (lo / USECS_PER_DAY)), DATEOID));
	day_bounds(def, lo, q, cond);
	return true;
}

/*
 * Notes a date range without a modifier (one that param_condition files
 * as positive) for days_finish: its range [lo, hi) intersected with those
 * noted before, when it is one range of a column with a day index and the
 * same column as theirs; else q->range_any.  One value, prefixed with
 * anything but ne (a list or ne is not one range).
 */
static void
range_note(const SearchParamDef *def, const char *value, SearchQuery *q)
{
	TimestampTz lo,
				hi;
	int			prefix;

	if (day_index_of(def) == NULL || strchr(value, ',') != NULL ||
		(q->range_column != NULL && strcmp(q->range_column, def->column) != 0))
	{
		q->range_any = true;
		return;
	}
	prefix = date_value(def, value, strlen(value), &lo, &hi);
	switch (prefix)
	{
		case 0:					/* eq */
			break;
		case 1:					/* ne */
			q->range_any = true;
			return;
		case 2:					/* lt */
		case 7:					/* eb */
			hi = lo;
			TIMESTAMP_NOBEGIN(lo);
			break;
		case 3:					/* gt */
		case 6:					/* sa */
			lo = hi;
			TIMESTAMP_NOEND(hi);
			break;
		case 4:					/* le */
			TIMESTAMP_NOBEGIN(lo);
			break;
		default:				/* ge */
			TIMESTAMP_NOEND(hi);
			break;
	}
	q->range_column = def->column;
	q->range_lo = Max(q->range_lo, lo);
	q->range_hi = Min(q->range_hi, hi);
}

/*
 * The condition of one parameter occurrence, with its modifier; true when
 * it is a positive condition without statistics (a search_tokens list
 * without a modifier, :missing=false of one, a patient) or a date range
 * (below), which search.c looks up by its index first or tests after the
 * others in a walk.
 */
static bool
param_condition(const SearchParamDef *def, const char *modifier, const char *value,
				SearchQuery *q, StringInfo cond, StringInfo link)
{
	StringInfoData inner;
	bool		day = false;

	if (*value == '\0')
		search_bad_value(def->name, value, 0, def->kind == PK_CODE ? code_hint(def) : def->hint);
	if (strlen(value) > MAX_LIST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for search parameter \"%s\"", def->name),
				 errdetail("The list is longer than %d bytes.", MAX_LIST_BYTES),
				 errhint("%s", def->kind == PK_CODE ? code_hint(def) : def->hint)));
	if (modifier && strcmp(modifier, "missing") == 0)
	{
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			search_bad_value(psprintf("%s:missing", def->name), value, strlen(value),
							 ":missing takes true or false.");
		appendStringInfo(cond, "%s(%s)", value[0] == 't' ? "" : "NOT ", def->missing);
		search_append_escaped(link, value);
		if (value[0] == 't' || (def->kind != PK_CODING && def->kind != PK_JSONREF) ||
			presence_ordered(def))
			return false;
		/* present: the parameter's name token, as common as the element */
		q->common_tokens = true;
		return true;
	}
	if (modifier && (strcmp(modifier, "not") != 0 ||
					 (def->kind != PK_CODE && def->kind != PK_CODING)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized modifier \"%s\" for search parameter \"%s\"", modifier, def->name),
				 errhint("%s takes :missing%s.", def->name,
						 (def->kind == PK_CODE || def->kind == PK_CODING) ? " and :not" : "")));
	initStringInfo(&inner);
	switch (def->kind)
	{
		case PK_CODE:
			code_condition(def, value, modifier != NULL, q, &inner);
			break;
		case PK_REF:
			ref_condition(def, value, q, &inner, link);
			break;
		case PK_DATE:
		case PK_PERIOD:
			if (modifier == NULL && day_condition(def, value, q, &inner))
				day = true;
			else
				or_items(def, value, q, &inner, date_item);
			break;
		case PK_CODING:
		case PK_JSONREF:
			token_condition(def, value, q, &inner,
							def->kind == PK_CODING ? coding_token : jsonref_token);
			/*
			 * A code of a vocabulary (code, performer, business-status) is
			 * often shared by a large part of the table; an identifier or
			 * a reference names one case (see search.c).
			 */
			if (modifier == NULL && def->kind == PK_CODING && strcmp(def->json_code, "code") == 0)
				q->common_tokens = true;
			break;
	}
	if (def->kind != PK_REF)
		search_append_escaped(link, value);
	/* a range's rows vary with its values (search.c, plan_options) */
	if ((def->kind == PK_DATE || def->kind == PK_PERIOD) && !day)
		q->custom_plans = true;
	/* :not also matches the tasks without a value */
	appendStringInfo(cond, modifier ? "(%s) IS NOT TRUE" : "%s", inner.data);
	/*
	 * patient_id keeps no statistics either (PHI): without them the planner
	 * walked the page's order filtering by patient, the whole table for one
	 * patient's 16 tasks of a million (over 30 s).  Like an identifier it
	 * names one case: its own index first, then the order.
	 */
	if (def->kind == PK_REF && strcmp(def->column, "t.patient_id") == 0)
	{
		q->rare_tokens = true;
		return true;
	}
	/*
	 * A range of _lastUpdated, authored-on or modified has statistics, but
	 * the planner takes the range's rows to be spread evenly over the
	 * page's order: walking task_priority_idx for the 5,000 tasks modified
	 * today, all near its end, read the whole index (7-42 s at a million).
	 * The walk stops after its bounded number of rows, then the filter
	 * reads the range from the column's own index (search.c: walk_first),
	 * so neither costs more than the rows it must read.  One day of a
	 * column of day_indexes is an equality instead (day_condition), and a
	 * range of a few days may be read day by day (range_note).
	 */
	if (modifier == NULL && def->kind == PK_DATE && strcmp(def->column, "t.due_at") != 0 && !day)
	{
		q->date_walk = true;
		range_note(def, value, q);
		return true;
	}
	if (modifier != NULL || (def->kind != PK_CODING && def->kind != PK_JSONREF))
		return false;
	/* an identifier or a reference names one case */
	if (def->kind == PK_JSONREF || strcmp(def->json_code, "code") != 0)
		q->rare_tokens = true;
	return true;
}

/*
 * Files a positive condition (see param_condition) under q->dates when it
 * is a date range (_lastUpdated, authored-on, modified without a
 * modifier), under q->undated otherwise: a range with few rows can be read
 * first and the tokens tested on its rows alone (search.c, SP_DATED).
 */
static void
file_positive(const SearchParamDef *def, const char *modifier, SearchQuery *q, const char *cond)
{
	bool		range = modifier == NULL && def->kind == PK_DATE && strcmp(def->column, "t.due_at") != 0;

	appendStringInfo(range ? &q->dates : &q->undated, " AND %s", cond);
	if (!range)
		q->nundated++;
}

/*
 * Files a parameter's condition (already in q->where) with the positive
 * token conditions, or with the rest.
 */
static void
file_condition(const SearchParamDef *def, const char *modifier, bool positive, SearchQuery *q,
			   const char *cond)
{
	appendStringInfo(positive ? &q->tokens : &q->rest, " AND %s", cond);
	if (positive)
		file_positive(def, modifier, q, cond);
	q->tokens_first |= positive;
}

/*
 * Whether the date range noted by range_note is read day by day
 * (search_days_source), and its days and arguments when it is: the range
 * is the only positive condition (the others are in q->rest), the order
 * is the default one, and it spans at most MAX_RANGE_DAYS days from a
 * finite start; an open end (ge, gt, sa) spans the days up to today (in
 * UTC) and a last branch reads every later day.
 *
 * As a range of the column's own index, a month of authored-on (150,000
 * tasks of a million, at the end of the default order) was read and
 * sorted for a page of 20: 350-430 ms.  Day by day, each day's first rows
 * in the page's order are read from the day index, one descent per day,
 * and sorted (search_days_source): 1.1 ms at 1M.  The bound keeps that
 * small (at most the page's rows per day): two months cover "this month",
 * "last month" and "the last 30 days" of a worklist; a longer range keeps
 * the plans it had (a walk of the order, or the range's index first:
 * search.c).  The whole days are one array argument and the edges' days
 * and bounds arguments, so the query's text, and the plan kept for it,
 * depend on which edges there are, not on the days; an open end's last
 * branch names its day as a literal (the text changes once a day), so
 * that its plan expects the few tasks dated after today.
 */
static void
days_finish(SearchQuery *q)
{
	const DayIndex *di = NULL;
	int32		first,
				last,
				today;
	Datum	   *days;
	int			n = 0;
	int			i;
	bool		keyed;

	if (q->range_column == NULL || q->range_any || strcmp(q->order.data, DEFAULT_ORDER) != 0 ||
		TIMESTAMP_IS_NOBEGIN(q->range_lo) || q->range_lo >= q->range_hi)
		return;
	/* the range alone, or with a code read by its key and the day (n17) */
	keyed = q->days_key.column != NULL &&
		strcmp(q->range_column, q->days_key.column->day_column) == 0 && q->nundated == 1;
	if (!keyed && q->nundated > 0)
		return;
	for (i = 0; i < (int) lengthof(day_indexes); i++)
		if (strcmp(q->range_column, day_indexes[i].column) == 0)
			di = &day_indexes[i];
	first = search_utc_day(q->range_lo);
	today = search_utc_day(GetCurrentTransactionStartTimestamp());
	last = TIMESTAMP_IS_NOEND(q->range_hi) ? Max(today, first) : search_utc_day(q->range_hi - 1);
	if ((int64) last - first >= MAX_RANGE_DAYS || q->nargs + 5 > SEARCH_MAX_ARGS)
		return;
	q->days_n = last - first + 1;
	q->days_column = di->column;
	q->days_index = keyed ? q->days_key.column->day_index : di->index;
	q->days_index_alt = keyed ? di->index : NULL;
	q->days_keyed = keyed;
	q->days_first = q->days_lo = q->days_last = q->days_hi = q->days_arg = 0;
	if (q->range_lo % USECS_PER_DAY != 0)
	{
		/* starts within its first day */
		q->days_first = add_arg(q, DateADTGetDatum(first), DATEOID);
		q->days_lo = add_arg(q, TimestampTzGetDatum(q->range_lo), TIMESTAMPTZOID);
	}
	if (!TIMESTAMP_IS_NOEND(q->range_hi) && q->range_hi % USECS_PER_DAY != 0)
	{
		/* ends within its last day (the first day's branch when it is that day) */
		if (!(q->days_first && first == last))
			q->days_last = add_arg(q, DateADTGetDatum(last), DATEOID);
		q->days_hi = add_arg(q, TimestampTzGetDatum(q->range_hi), TIMESTAMPTZOID);
	}
	/* the whole days between */
	days = palloc(sizeof(Datum) * q->days_n);
	for (i = (q->days_first ? 1 : 0); i < q->days_n - (q->days_hi ? 1 : 0); i++)
		days[n++] = DateADTGetDatum(first + i);
	if (n > 0)
		q->days_arg = add_arg(q, PointerGetDatum(construct_array(days, n, DATEOID, sizeof(DateADT), true,
																 TYPALIGN_INT)), DATEARRAYOID);
	q->days_tail = TIMESTAMP_IS_NOEND(q->range_hi) ?
		DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(last))) : NULL;
}

/*
 * Parses a FHIR query string into q: the conditions ANDed (repetition),
 * each parameter's comma list ORed, the result parameters, the self link.
 * Unrecognized parameters raise 22023 naming them all, or are dropped when
 * lenient.  A bounded query is at most MAX_QUERY_BYTES long (the named form
 * bounds each of its arguments instead).
 */
void
search_parse_query(const char *query, bool lenient, bool bounded, SearchQuery *q)
{
	StringInfoData unknown;
	const char *sort = NULL;
	uint32		seen = 0;
	int			nunknown = 0;
	const char *p = query;

	initStringInfo(&q->where);
	initStringInfo(&q->rest);
	initStringInfo(&q->tokens);
	initStringInfo(&q->order);
	initStringInfo(&q->link);
	initStringInfo(&unknown);
	appendStringInfoString(&q->where, "true");
	appendStringInfoString(&q->rest, "true");
	appendStringInfoString(&q->tokens, "true");
	initStringInfo(&q->dates);
	initStringInfo(&q->undated);
	appendStringInfoString(&q->dates, "true");
	appendStringInfoString(&q->undated, "true");
	q->nundated = 0;
	q->nargs = 0;
	q->count = 50;
	q->offset = 0;
	q->total = SEARCH_TOTAL_ACCURATE;
	q->revinclude = 0;
	q->tokens_first = false;
	q->common_tokens = false;
	q->walk_order = false;
	q->split_n = 0;
	memset(&q->key, 0, sizeof(q->key));
	memset(&q->days_key, 0, sizeof(q->days_key));
	q->days_keyed = false;
	q->date_walk = false;
	q->one_day = false;
	q->custom_plans = false;
	q->rare_tokens = false;
	q->elements = NULL;
	q->days_n = 0;
	q->range_column = NULL;
	TIMESTAMP_NOBEGIN(q->range_lo);
	TIMESTAMP_NOEND(q->range_hi);
	q->range_any = false;
	if (bounded && strlen(query) > MAX_QUERY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search query is too long"),
				 errdetail("A search query takes at most %d bytes.", MAX_QUERY_BYTES)));
	if (*p == '?')
		p++;
	while (*p)
	{
		const char *amp = strchr(p, '&');
		int			plen = amp ? amp - p : (int) strlen(p);
		const char *eq = memchr(p, '=', plen);
		char	   *name = url_decode(p, eq ? eq - p : plen);
		char	   *value = eq ? url_decode(eq + 1, plen - (eq - p) - 1) : pstrdup("");
		char	   *modifier = strchr(name, ':');
		StringInfoData cond;
		bool		positive;
		bool		common;
		int			key_arg;
		int			i;

		p = amp ? amp + 1 : p + plen;
		if (plen == 0)
			continue;
		if (modifier)
			*modifier++ = '\0';
		if (strcmp(name, "_revinclude") == 0 &&
			(modifier == NULL || strcmp(modifier, "iterate") == 0))
		{
			if (strcmp(value, "Task:part-of") != 0)
				search_bad_value(name, value, strlen(value),
								 "_revinclude takes Task:part-of (with :iterate for every level below).");
			q->revinclude = Max(q->revinclude, modifier ? 2 : 1);
			appendStringInfo(&q->link, "%s_revinclude%s=Task:part-of", q->link.len ? "&" : "",
							 modifier ? ":iterate" : "");
			continue;
		}
		if (modifier == NULL && result_param(name, value, q, &sort, &seen))
		{
			if (strcmp(name, "_count") != 0 && strcmp(name, "_offset") != 0)
			{
				appendStringInfo(&q->link, "%s%s=", q->link.len ? "&" : "", name);
				search_append_escaped(&q->link, value);
			}
			continue;
		}
		for (i = 0; i < (int) lengthof(params); i++)
			if (strcmp(params[i].name, name) == 0)
				break;
		if (i == (int) lengthof(params))
		{
			if (modifier)
				modifier[-1] = ':';
			appendStringInfo(&unknown, "%s\"%s\"", nunknown++ ? ", " : "",
							 pnstrdup(name, pg_mbcliplen(name, strlen(name), 64)));
			continue;
		}
		appendStringInfo(&q->link, "%s%s%s%s=", q->link.len ? "&" : "", name,
						 modifier ? ":" : "", modifier ? modifier : "");
		initStringInfo(&cond);
		common = q->common_tokens;
		positive = param_condition(&params[i], modifier, value, q, &cond, &q->link);
		appendStringInfo(&q->where, " AND %s", cond.data);
		/*
		 * (0.7 assigned q->key_arg here for every positive condition: a
		 * token condition after a business status read by its key zeroed
		 * it, and the walk then left the business status out.)
		 */
		if (positive && modifier == NULL && (key_arg = coding_key_arg(&params[i], value, q)) > 0)
		{
			/* filed below, once the order is known */
			q->key.arg = key_arg;
			q->key.cond = cond.data;
			q->common_tokens = common;
			continue;
		}
		file_condition(&params[i], modifier, positive, q, cond.data);
	}
	if (nunknown > 0 && !lenient)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized search parameter%s %s", nunknown > 1 ? "s" : "", unknown.data),
				 errhint("Task is searched by _id, _lastUpdated, authored-on, based-on, business-status, code, due-date, encounter, focus, group-identifier, identifier, intent, modified, owner, part-of, patient, performer, period, priority, requester, status and subject, with _sort, _count, _offset, _total, _summary, _elements and _revinclude=Task:part-of.")));
	q->walk_order = sort_terms(sort, &q->order);
	/* only task_status_priority_idx reads a status in the page's order */
	if (strncmp(q->order.data, DEFAULT_ORDER, strlen(DEFAULT_ORDER)) != 0)
		q->split_n = 0;
	/*
	 * A business status read by its key in the default order: in neither
	 * list, search_page_source writes it (two reads of its index, merged);
	 * in another order, or with a date range (whose own plans read the
	 * range first: search.c, dated_first), a token condition like any (its
	 * argument unused).
	 */
	if (strcmp(q->order.data, DEFAULT_ORDER) != 0 || q->date_walk)
		search_unkey(q);
	/*
	 * A code read by its key without one day of authored-on: its index is
	 * by day (task_code_token_day_idx), so a token condition as before
	 * 0.8 (a code alone is common: the walk of the order finds its page).
	 */
	if (q->key.column && q->key.column->needs_day && !q->one_day)
		search_unkey(q);
	days_finish(q);
}

/*
 * Files a business status or code read by its key (q->key.cond) as the
 * token condition it is, found by the walk or the filter (search.c) as
 * before 0.7: in an order its indexes do not give, on Citus (the branches
 * of search_page_source are for one node), when omnitask.search_token_plan
 * forces either plan, and for a code without one day of authored-on.
 *
 * The rows a walk tests (q->tokens, q->undated) test the key column first:
 * "key = $k OR (key = '*' AND cond)", or for system|c and |c
 * (!q->key.exact) "CASE WHEN key = $k OR key = '*' THEN cond ELSE false
 * END" (not "(key = $k AND cond) OR (key = '*' AND cond)": the planner
 * takes the common cond out of the OR and tests it first).  A task
 * matching the token has either the key or many (key_column_datum), so
 * the answer is the token's; but most rows are refused by a compare of a
 * short text instead of a read of their search_tokens array (decompressed
 * for the test): the practitioner's walk of its 740 tasks for a common
 * code cost 9.2 million instructions at 1M.  q->where, which the filter
 * and the counts read, keeps the token's condition alone, whose GIN index
 * they use.
 */
void
search_unkey(SearchQuery *q)
{
	int			i;
	const char *col;
	char	   *cond;

	if (q->key.cond == NULL)
		return;
	for (i = 0; strcmp(params[i].name, q->key.column->param) != 0; i++)
		;
	col = q->key.column->column;
	if (q->key.exact)
		cond = psprintf("(%s = $%d OR (%s = '%s' AND %s))", col, q->key.arg, col,
						TASK_BS_TOKEN_MANY, q->key.cond);
	else
		cond = psprintf("CASE WHEN %s = $%d OR %s = '%s' THEN %s ELSE false END", col, q->key.arg,
						col, TASK_BS_TOKEN_MANY, q->key.cond);
	q->common_tokens = true;
	file_condition(&params[i], NULL, true, q, cond);
	if (q->key.column->day_index)
		q->days_key = q->key;	/* a range of authored-on may read its days by it (days_finish) */
	memset(&q->key, 0, sizeof(q->key));
}

/*
 * The first rows, at most limit (an SQL expression), in the page's order
 * among those of omnitask.task meeting cond, as a FROM item "(...) t".
 * With a status list and the default order (q->split_n), one branch per
 * status, each reading its status's index in the page's order and stopping
 * after limit rows, merged: "status = ANY (...)" reads every matching row
 * and sorts them (82-119 ms for the 414,000 open tasks of a million, 0.15
 * ms merged).  Each branch names its status as a constant, compared with
 * the leakproof ~=~ (code_eq_operator), an index condition of
 * task_status_priority_idx for every caller, with or without row-level
 * security.  The first limit rows of the merge are the
 * first limit rows of the condition, as each branch gives its own first
 * limit rows (the statuses of a list are distinct, so no row is in two
 * branches).  Without a status list: the table, the condition, the order
 * and the limit.
 */
char *
search_page_source(SearchQuery *q, const char *cond, const char *limit)
{
	StringInfoData buf;
	char	   *keys[2];
	int			nkeys = 0;
	int			nbranches = 0;
	int			i,
				k;

	initStringInfo(&buf);
	if (q->split_n == 0 && q->key.arg == 0)
	{
		appendStringInfo(&buf, "(SELECT * FROM omnitask.task t WHERE %s ORDER BY %s LIMIT %s) t",
						 cond, q->order.data, limit);
		return buf.data;
	}
	/*
	 * business-status=system|code (q->key.arg): the tasks whose one coding
	 * with a key has that key, and those with more than one, each read in
	 * the page's order from task_business_status_token_idx
	 * (omnitask--0.6--0.7.sql); so a code (c, system|c, |c) with one day
	 * of authored-on (q->key.column->column code_token, c's key), from
	 * task_code_token_day_idx (omnitask--0.7--0.8.sql), whose day follows
	 * the key (for system|c and |c the token's condition is tested on the
	 * key's rows too: !q->key.exact); the token's condition (q->key.cond, in
	 * neither cond nor q->rest) holds in the first, where it is not written
	 * (with it the planner, which has no statistics for either, took the two
	 * for one row and intersected their bitmaps), and is tested in the
	 * second.  A task matching the token has either the key or many
	 * (task_columns.c, key_column_datum), so no match is left out and none
	 * is in both.
	 */
	if (q->key.arg)
	{
		keys[nkeys++] = psprintf("%s = $%d AND %s%s", q->key.column->column, q->key.arg,
								 q->key.exact ? "" : q->key.cond, q->key.exact ? "" : " AND ");
		keys[nkeys++] = psprintf("%s = '%s' AND %s AND ", q->key.column->column, TASK_BS_TOKEN_MANY,
								 q->key.cond);
	}
	else
		keys[nkeys++] = "";
	appendStringInfoString(&buf, "(SELECT * FROM (");
	for (i = 0; i < Max(q->split_n, 1); i++)
		for (k = 0; k < nkeys; k++)
		{
			appendStringInfo(&buf, "%s(SELECT * FROM omnitask.task t WHERE %s", nbranches++ ? " UNION ALL " : "",
							 keys[k]);
			if (q->split_n > 0)
				appendStringInfo(&buf, "%s %s %s::%s AND ", q->split_column, q->split_operator,
								 quote_literal_cstr(q->split_codes[i]), q->split_type);
			appendStringInfo(&buf, "%s ORDER BY %s LIMIT %s)", cond, q->order.data, limit);
		}
	appendStringInfo(&buf, ") t ORDER BY %s LIMIT %s) t", q->order.data, limit);
	return buf.data;
}

static void days_branches(SearchQuery *q, StringInfo buf, const char *cond, const char *limit);

/* Appends a UNION ALL branch: the first limit rows of one day and cond, in the page's order. */
static void
day_branch(SearchQuery *q, StringInfo buf, const char *day, const char *cond, const char *limit)
{
	appendStringInfo(buf, "%s(SELECT * FROM omnitask.task t WHERE omnitask.task_day(%s) %s AND %s ORDER BY %s LIMIT %s)",
					 strcmp(buf->data, "(SELECT * FROM (") == 0 ? "" : " UNION ALL ", q->days_column, day, cond,
					 q->order.data, limit);
}

/*
 * The first rows, at most limit (an SQL expression), in the page's order
 * among those of omnitask.task meeting cond and the date range of
 * days_finish, as a FROM item "(...) t": for each day of the range, the
 * first limit rows of "task_day(column) = the day" in the page's order,
 * read from the column's day index (day_indexes) and stopping there; all
 * of them sorted, and the first limit rows kept.  The range's first and
 * last days, when it starts or ends within them, are branches of their
 * own with the bound; the whole days between are a LATERAL over their
 * array, one branch rescanned per day; an open range's last branch reads
 * the days after today (normally none).  The days are distinct, so no row
 * is read twice, and the first limit rows of all the days' first limit
 * rows are the range's.
 *
 * Not one UNION ALL branch per day: the plan of a month's 28-31 branches
 * took 7 ms to make (each branch weighs every index of the table), and a
 * plan that depends on row-level security is made again whenever the
 * role changes.  Not the bounds on every day ("column >= lo AND column <
 * hi" of the LATERAL's row): a pair of bounds whose values are unknown is
 * estimated at 0.5% of the rows, and the plan then read the bounds from
 * the column's own index and sorted each day.  task_day and the
 * comparisons of dates and timestamptz are leakproof, so the day and the
 * bound are index conditions under row-level security too.
 */
char *
search_days_source(SearchQuery *q, const char *cond, const char *limit)
{
	StringInfoData buf;
	const char *conds[2];
	int			nconds = 1;
	int			k;

	/*
	 * n17: with a code read by its key (q->days_keyed), each day twice from
	 * task_code_token_day_idx: the tasks of the key (the token tested on
	 * them too for system|c and |c) and those of many keys (the token
	 * tested), as search_page_source reads one day; no task is in both
	 */
	conds[0] = cond;
	if (q->days_keyed)
	{
		const char *col = q->days_key.column->column;

		conds[0] = psprintf("%s = $%d AND %s%s%s", col, q->days_key.arg,
							q->days_key.exact ? "" : q->days_key.cond, q->days_key.exact ? "" : " AND ", cond);
		conds[1] = psprintf("%s = '%s' AND %s AND %s", col, TASK_BS_TOKEN_MANY, q->days_key.cond, cond);
		nconds = 2;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "(SELECT * FROM (");
	for (k = 0; k < nconds; k++)
		days_branches(q, &buf, conds[k], limit);
	appendStringInfo(&buf, ") t ORDER BY %s LIMIT %s) t", q->order.data, limit);
	return buf.data;
}

/*
 * Appends the UNION ALL branches of search_days_source for one condition:
 * the first day's edge, the whole days (a LATERAL over their array), the
 * last day's edge, the days after today.
 */
static void
days_branches(SearchQuery *q, StringInfo buf, const char *cond, const char *limit)
{
	const char *c = q->days_column;

	if (q->days_first)
		day_branch(q, buf, psprintf("= $%d AND %s >= $%d%s", q->days_first, c, q->days_lo,
									 q->days_hi && !q->days_last ? psprintf(" AND %s < $%d", c, q->days_hi) : ""),
				   cond, limit);
	if (q->days_arg)
		appendStringInfo(buf, "%s(SELECT t.* FROM unnest($%d) AS d(day), LATERAL (SELECT * FROM omnitask.task t "
						 "WHERE omnitask.task_day(%s) = d.day AND %s ORDER BY %s LIMIT %s) t)",
						 strcmp(buf->data, "(SELECT * FROM (") == 0 ? "" : " UNION ALL ", q->days_arg, c, cond,
						 q->order.data, limit);
	if (q->days_last)
		day_branch(q, buf, psprintf("= $%d AND %s < $%d", q->days_last, c, q->days_hi), cond, limit);
	if (q->days_tail)
		day_branch(q, buf, psprintf("> '%s'::date", q->days_tail), cond, limit);
}

/*
 * The search parameters as the CapabilityStatement lists them: a jsonb
 * array of {"name", "type"} (and documentation for omnitask's own
 * due-date), from the table the parser uses, so the two cannot disagree.
 */
Jsonb *
search_parameters_jsonb(void)
{
	static const char *const types[] = {"token", "reference", "date", "date", "token", "reference"};
	JsonbParseState *ps = NULL;
	int			i;

	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < (int) lengthof(params); i++)
	{
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		fhir_push_pair(&ps, "name", params[i].name);
		fhir_push_pair(&ps, "type", types[params[i].kind]);
		if (strcmp(params[i].name, "due-date") == 0)
			fhir_push_pair(&ps, "documentation",
						   "omnitask's own: when the task is due, Task.restriction.period.end, else Task.executionPeriod.end (a date without a time: the end of that day in UTC).");
		pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	}
	return JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_ARRAY, NULL));
}
