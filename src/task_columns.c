/*-------------------------------------------------------------------------
 *
 * task_columns.c
 *	  The derived columns of omnitask.task: where they are, how each follows
 *	  from the resource, and verify()'s check that a stored row agrees.
 *
 * The one place that says how a column follows from the resource: the
 * BEFORE trigger, restores and verify() all use it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "task_columns.h"
#include "task_profile.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(omnitask_task_row_problem);
PG_FUNCTION_INFO_V1(omnitask_task_search_columns);
PG_FUNCTION_INFO_V1(omnitask_task_business_status_token);
PG_FUNCTION_INFO_V1(omnitask_task_code_token);

static const char *const task_col_names[NUM_TASK_COLS] = {
	"id", "version_id", "last_updated", "status", "intent", "priority",
	"owner_id", "patient_id", "requester", "code", "description",
	"authored_on", "last_modified", "due_at", "resource", "search_tokens",
	"business_status", "business_status_token", "code_token"
};

/* How the items of an element searched through search_tokens are read. */
typedef enum TokenKind
{
	TK_IDENTIFIER,				/* Identifier: system|value */
	TK_CONCEPT,					/* CodeableConcept: each coding's system|code */
	TK_REFERENCE				/* Reference: its reference as written */
} TokenKind;

/*
 * The key columns: of a CodeableConcept's codings with a key, the key of
 * the one there is, TASK_BS_TOKEN_MANY when there are more, NULL when
 * there is none (key_column_datum).  A key is a search token kept as
 * written (task_coding_key): business_status_token's is "system|code"
 * (0.7), code_token's the code alone, of any system (0.8).
 */
typedef enum TokenKey
{
	KEY_NONE = -1,
	KEY_BUSINESS_STATUS,		/* business_status_token (0.7) */
	KEY_CODE,					/* code_token (0.8) */
	NUM_TOKEN_KEYS
} TokenKey;

/* The elements whose search tokens search_tokens keeps. */
typedef struct TokenElement
{
	const char *param;			/* the search parameter */
	const char *element;		/* the element of Task */
	bool		repeats;		/* an array of items, else one item */
	TokenKind	kind;
	TokenKey	key;			/* the key column it has, or KEY_NONE */
} TokenElement;

static const TokenElement token_elements[] = {
	{"identifier", "identifier", true, TK_IDENTIFIER, KEY_NONE},
	{"group-identifier", "groupIdentifier", false, TK_IDENTIFIER, KEY_NONE},
	{"business-status", "businessStatus", false, TK_CONCEPT, KEY_BUSINESS_STATUS},
	{"code", "code", false, TK_CONCEPT, KEY_CODE},
	{"performer", "performerType", true, TK_CONCEPT, KEY_NONE},
	{"part-of", "partOf", true, TK_REFERENCE, KEY_NONE},
	{"based-on", "basedOn", true, TK_REFERENCE, KEY_NONE},
	{"focus", "focus", false, TK_REFERENCE, KEY_NONE},
	{"encounter", "encounter", false, TK_REFERENCE, KEY_NONE},
};

/*
 * The search tokens of one row, growing, and the keys of its key columns,
 * collected as the tokens are built (each coding's token is built once).
 */
typedef struct TokenList
{
	Datum	   *items;
	int			n;
	int			cap;
	TokenKey	key;			/* the key of the element being read */
	char	   *keys[NUM_TOKEN_KEYS];	/* each key, TASK_BS_TOKEN_MANY or NULL */
} TokenList;

/*
 * Attribute numbers of those columns, for the relation last seen, as it
 * was then: ALTER EXTENSION UPDATE adds columns to the same relation, so
 * its number of attributes is part of the key.
 */
static Oid	attnums_relid = InvalidOid;
static int	attnums_natts = 0;
static int	attnums[NUM_TASK_COLS];

/* The PostgreSQL epoch as fhir_types.c counts (it must agree with ours). */
StaticAssertDecl(FHIR_UNIX_TO_PG_EPOCH ==
				 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY,
				 "FHIR_UNIX_TO_PG_EPOCH must be the PostgreSQL epoch");

/*
 * Finds the attribute number of each of omnitask.task's columns in desc
 * (by name: the one convention for every table the C code reads).  The
 * columns from COL_FIRST_OPTIONAL on came with a later version of the
 * schema: until ALTER EXTENSION UPDATE has added them, the library runs on
 * the older table without them (their number is 0).
 */
static void
lookup_attnums(TupleDesc desc, int *att)
{
	int			i;

	for (i = 0; i < NUM_TASK_COLS; i++)
	{
		att[i] = SPI_fnumber(desc, task_col_names[i]);
		if (att[i] <= 0 && i >= COL_FIRST_OPTIONAL)
			att[i] = 0;
		else if (att[i] <= 0)
			elog(ERROR, "column \"%s\" of relation \"omnitask.task\" does not exist",
				 task_col_names[i]);
	}
}

/*
 * The row tup with the derived columns replaced by values/nulls (as
 * task_derive_columns computed them), leaving out the columns the table
 * does not have yet.
 */
HeapTuple
task_modify_row(HeapTuple tup, TupleDesc desc, const int *att, Datum *values, bool *nulls)
{
	int			cols[NUM_TASK_COLS];
	Datum		v[NUM_TASK_COLS];
	bool		n[NUM_TASK_COLS];
	int			ncols = 0;
	int			i;

	for (i = 0; i < NUM_TASK_COLS; i++)
		if (att[i] > 0)
		{
			cols[ncols] = att[i];
			v[ncols] = values[i];
			n[ncols++] = nulls[i];
		}
	return heap_modify_tuple_by_cols(tup, desc, ncols, cols, v, n);
}

/*
 * The attribute numbers of omnitask.task's columns, looked up once per
 * relation; the per-row path then indexes arrays.
 */
const int *
task_attnums(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (attnums_relid != RelationGetRelid(rel) || attnums_natts != desc->natts)
	{
		lookup_attnums(desc, attnums);
		attnums_relid = RelationGetRelid(rel);
		attnums_natts = desc->natts;
	}
	return attnums;
}

/* Formats a timestamp as a FHIR instant in UTC with microseconds. */
char *
omnitask_fhir_instant(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/*
 * The timestamp a FHIR date/dateTime denotes for a derived column.  A value
 * with a time is its instant; a date without one is read in UTC, at its
 * start (at_end = false) or at its end (at_end = true, for due dates: a
 * task due "2026-12-01" is due by the end of that day).
 */
TimestampTz
task_when_timestamp(const FhirWhen *w, bool at_end)
{
	int64		us;

	if (w->has_time)
		us = w->range.lo;
	else if (at_end)
		us = w->range.hi - FHIR_UNZONED_SLACK;
	else
		us = w->range.lo + FHIR_UNZONED_SLACK;
	return (TimestampTz) (us - FHIR_UNIX_TO_PG_EPOCH);
}

/* A text Datum of a slice, or NULL (with *isnull) for an absent one. */
static Datum
slice_datum(FhirSlice s, bool *isnull)
{
	*isnull = (s.s == NULL);
	return *isnull ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(s.s, s.len));
}

/*
 * Appends s[0..len) with | and \ escaped by a backslash: the runs between
 * them in one copy each (a token is built for every coding, identifier and
 * reference of every write).
 */
static void
append_token_part(StringInfo buf, const char *s, int len)
{
	int			run = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '|' || s[i] == '\\')
		{
			appendBinaryStringInfo(buf, s + run, i - run);
			appendStringInfoChar(buf, '\\');
			run = i;
		}
	}
	appendBinaryStringInfo(buf, s + run, len - run);
}

/*
 * The search token of a value of a search parameter, the same for the
 * stored row and for the query: "param:code" (any system; also a reference
 * as written) when system is NULL, "param:system|code", "param:|code" (no
 * system: slen 0), "param:system|" (every code of the system: code NULL),
 * with | and \ inside system and code escaped, so that no two forms meet.
 * A token longer than TASK_TOKEN_MAX is replaced by "param#" and a 64-bit
 * hash of it (*hashed): the search then checks the resource as well.
 */
char *
task_search_token(const char *param, const char *system, int slen,
				  const char *code, int clen, bool *hashed)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, param);
	appendStringInfoChar(&buf, ':');
	if (system)
	{
		append_token_part(&buf, system, slen);
		appendStringInfoChar(&buf, '|');
	}
	if (code)
		append_token_part(&buf, code, clen);
	*hashed = buf.len > TASK_TOKEN_MAX;
	if (*hashed)
		return psprintf("%s#%016llx", param, (unsigned long long)
						hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0));
	return buf.data;
}

/*
 * Whether a coding's token is its key (task_coding_key): a non-empty code
 * (bare: of any system, for code) or a non-empty system and code (for
 * business-status), and a token short enough to be kept as written, not
 * as a hash.  The one rule that both the stored key columns
 * (coding_tokens) and the search's key (task_coding_key) apply.
 */
static inline bool
coding_key_kept(bool bare, int slen, int clen, bool hashed)
{
	return clen > 0 && (bare || slen > 0) && !hashed;
}

/*
 * The key of a coding of param with this system and code, or NULL when it
 * has none: for business-status its search token
 * "business-status:system|code" (a system and a code needed), for code
 * its token "code:code" (the code alone, whatever the system: code=c,
 * code=system|c and code=|c are all among the tasks of c's key); NULL too
 * when the code (or system) is empty or the token long enough to be kept
 * as a hash (coding_key_kept).  The stored key columns
 * (business_status_token, code_token: coding_tokens) and the search
 * (search_query.c) agree on it.
 */
char *
task_coding_key(const char *param, const char *system, int slen, const char *code, int clen)
{
	bool		bare = strcmp(param, "code") == 0;
	char	   *token;
	bool		hashed;

	if (code == NULL)
		return NULL;
	token = task_search_token(param, bare ? NULL : system, slen, code, clen, &hashed);
	return coding_key_kept(bare, system ? slen : 0, clen, hashed) ? token : NULL;
}

/* Counts a coding's key for the key column being collected (tl->key). */
static void
key_add(TokenList *tl, char *key)
{
	tl->keys[tl->key] = tl->keys[tl->key] ? TASK_BS_TOKEN_MANY : key;
}

/* Adds a token to the list. */
static void
token_add(TokenList *tl, char *token)
{
	if (tl->n == tl->cap)
	{
		tl->cap *= 2;
		tl->items = repalloc(tl->items, sizeof(Datum) * tl->cap);
	}
	tl->items[tl->n++] = CStringGetTextDatum(token);
}

/* A string member of an object, or false. */
static bool
string_member(JsonbContainer *obj, const char *key, JsonbValue *v)
{
	return obj != NULL && JsonContainerIsObject(obj) &&
		getKeyJsonValueFromContainer(obj, key, strlen(key), v) != NULL &&
		v->type == jbvString;
}

/* An object or array member of an object, or NULL. */
static JsonbContainer *
container_member(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (obj == NULL || !JsonContainerIsObject(obj) ||
		getKeyJsonValueFromContainer(obj, key, strlen(key), &v) == NULL ||
		v.type != jbvBinary)
		return NULL;
	return v.val.binary.data;
}

/* The i-th item of an array when it is an object or array, else NULL. */
static JsonbContainer *
container_item(JsonbContainer *arr, int i)
{
	JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

	return (v != NULL && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

/*
 * The tokens of one Coding (code_key "code") or Identifier ("value"): the
 * code alone (any system), system|code, or |code without a system, and
 * system| for every code of the system.
 */
static void
coding_tokens(TokenList *tl, const char *param, JsonbContainer *c, const char *code_key)
{
	JsonbValue	sys,
				code;
	bool		has_sys = string_member(c, "system", &sys);
	bool		has_code = string_member(c, code_key, &code);
	bool		hashed;

	if (has_code)
	{
		char	   *token;

		/* a key as task_coding_key makes it, from the token built here */
		token = task_search_token(param, NULL, 0, code.val.string.val,
								  code.val.string.len, &hashed);
		token_add(tl, token);
		if (tl->key == KEY_CODE && coding_key_kept(true, 0, code.val.string.len, hashed))
			key_add(tl, token);
		token = task_search_token(param, has_sys ? sys.val.string.val : "",
								  has_sys ? sys.val.string.len : 0,
								  code.val.string.val, code.val.string.len, &hashed);
		token_add(tl, token);
		if (tl->key == KEY_BUSINESS_STATUS &&
			coding_key_kept(false, has_sys ? sys.val.string.len : 0, code.val.string.len, hashed))
			key_add(tl, token);
	}
	if (has_sys)
		token_add(tl, task_search_token(param, sys.val.string.val, sys.val.string.len,
										NULL, 0, &hashed));
}

/* The tokens of one item of a token element. */
static void
item_tokens(TokenList *tl, const TokenElement *te, JsonbContainer *item)
{
	JsonbContainer *codings;
	JsonbValue	ref;
	bool		hashed;
	int			i;

	switch (te->kind)
	{
		case TK_IDENTIFIER:
			coding_tokens(tl, te->param, item, "value");
			break;
		case TK_CONCEPT:
			codings = container_member(item, "coding");
			if (codings && JsonContainerIsArray(codings))
				for (i = 0; i < (int) JsonContainerSize(codings); i++)
					coding_tokens(tl, te->param, container_item(codings, i), "code");
			break;
		case TK_REFERENCE:
			if (string_member(item, "reference", &ref))
				token_add(tl, task_search_token(te->param, NULL, 0, ref.val.string.val,
												ref.val.string.len, &hashed));
			break;
	}
}

/*
 * search_tokens: for each element of token_elements the Task has, its
 * parameter's name (the element is present: :missing) and the tokens of
 * its items (see task_search_token).  One text[] under one GIN index
 * answers every token and reference parameter kept in the resource.  The
 * keys of the key columns (tl->keys) are collected on the way, from the
 * same tokens.
 */
static Datum
search_tokens_datum(Jsonb *resource, TokenList *tlp)
{
	TokenList	tl;
	int			e;

	memset(&tl, 0, sizeof(tl));
	tl.cap = 16;
	tl.items = palloc(sizeof(Datum) * tl.cap);
	for (e = 0; e < (int) lengthof(token_elements); e++)
	{
		const TokenElement *te = &token_elements[e];
		JsonbValue	v;
		int			i;

		if (getKeyJsonValueFromContainer(&resource->root, te->element,
										 strlen(te->element), &v) == NULL)
			continue;
		tl.key = te->key;
		token_add(&tl, pstrdup(te->param));
		if (v.type != jbvBinary)
			continue;
		if (!te->repeats)
			item_tokens(&tl, te, v.val.binary.data);
		else if (JsonContainerIsArray(v.val.binary.data))
			for (i = 0; i < (int) JsonContainerSize(v.val.binary.data); i++)
				item_tokens(&tl, te, container_item(v.val.binary.data, i));
	}
	if (tlp)
		*tlp = tl;
	return PointerGetDatum(construct_array(tl.items, tl.n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * business_status: Task.businessStatus.text, else the display, else the
 * code of its first coding; NULL without a businessStatus.
 */
static Datum
business_status_datum(Jsonb *resource, bool *isnull)
{
	JsonbContainer *bs = container_member(&resource->root, "businessStatus");
	JsonbContainer *codings = container_member(bs, "coding");
	JsonbContainer *first = NULL;
	JsonbValue	v;

	if (codings && JsonContainerIsArray(codings) && JsonContainerSize(codings) > 0)
		first = container_item(codings, 0);
	*isnull = false;
	if (string_member(bs, "text", &v) || string_member(first, "display", &v) ||
		string_member(first, "code", &v))
		return PointerGetDatum(cstring_to_text_with_len(v.val.string.val, v.val.string.len));
	*isnull = true;
	return (Datum) 0;
}

/*
 * A key column (business_status_token, code_token): what a search for one
 * value of its parameter needs to know of the CodeableConcept
 * (search_query.c, search_page_source).  Such a search matches only a
 * coding with that key (task_coding_key; a long one is a hash and has
 * none).  Of the codings with a key: none, NULL (no such search matches
 * the task); one, its key (a search matches only when it asks for that
 * key); more, TASK_BS_TOKEN_MANY (its search_tokens tell).
 * task_business_status_token_idx reads a stage's tasks, and
 * task_code_token_day_idx a code's tasks of a day, and those with many, in
 * the page's order.  The keys were collected with search_tokens
 * (coding_tokens), so each coding's token is built once.
 */
static Datum
key_column_datum(const TokenList *tl, TokenKey key, bool *isnull)
{
	*isnull = (tl->keys[key] == NULL);
	return *isnull ? (Datum) 0 : CStringGetTextDatum(tl->keys[key]);
}

/*
 * Computes every derived column of omnitask.task from the facts of a
 * validated Task: the one place that says how a column follows from the
 * resource (the trigger, restores and verify() all use it).
 */
void
task_derive_columns(const TaskFacts *f, const char *id, int32 version,
			   TimestampTz last_updated, TimestampTz last_modified,
			   Jsonb *resource, Datum *values, bool *nulls)
{
	FhirSlice	priority = {"routine", 7};
	TokenList	tl;
	int			i;

	for (i = 0; i < NUM_TASK_COLS; i++)
		nulls[i] = false;
	if (f->priority.s)
		priority = f->priority;
	values[COL_ID] = CStringGetTextDatum(id);
	values[COL_VERSION_ID] = Int32GetDatum(version);
	values[COL_LAST_UPDATED] = TimestampTzGetDatum(last_updated);
	values[COL_STATUS] = ObjectIdGetDatum(omnitask_enum_oid(OMNI_ENUM_STATUS, f->status));
	values[COL_INTENT] = ObjectIdGetDatum(omnitask_enum_oid(OMNI_ENUM_INTENT, f->intent));
	values[COL_PRIORITY] = ObjectIdGetDatum(omnitask_enum_oid(OMNI_ENUM_PRIORITY, priority));
	values[COL_OWNER_ID] = slice_datum(task_reference_id(f->owner_ref, "Practitioner"),
									   &nulls[COL_OWNER_ID]);
	values[COL_PATIENT_ID] = slice_datum(task_reference_id(f->for_ref, "Patient"),
										 &nulls[COL_PATIENT_ID]);
	values[COL_REQUESTER] = slice_datum(f->requester_ref, &nulls[COL_REQUESTER]);
	values[COL_CODE] = slice_datum(f->code, &nulls[COL_CODE]);
	values[COL_DESCRIPTION] = slice_datum(f->description, &nulls[COL_DESCRIPTION]);
	values[COL_AUTHORED_ON] = TimestampTzGetDatum(f->authored_on.text.s ?
												  task_when_timestamp(&f->authored_on, false) :
												  last_modified);
	values[COL_LAST_MODIFIED] = TimestampTzGetDatum(last_modified);
	if (f->restriction_end.text.s)
		values[COL_DUE_AT] = TimestampTzGetDatum(task_when_timestamp(&f->restriction_end, true));
	else if (f->execution_end.text.s)
		values[COL_DUE_AT] = TimestampTzGetDatum(task_when_timestamp(&f->execution_end, true));
	else
		nulls[COL_DUE_AT] = true;
	values[COL_RESOURCE] = JsonbPGetDatum(resource);
	values[COL_SEARCH_TOKENS] = search_tokens_datum(resource, &tl);
	values[COL_BUSINESS_STATUS] = business_status_datum(resource, &nulls[COL_BUSINESS_STATUS]);
	values[COL_BUSINESS_STATUS_TOKEN] = key_column_datum(&tl, KEY_BUSINESS_STATUS,
														 &nulls[COL_BUSINESS_STATUS_TOKEN]);
	values[COL_CODE_TOKEN] = key_column_datum(&tl, KEY_CODE, &nulls[COL_CODE_TOKEN]);
}

/*
 * Checks a stored Task (as pg_dump wrote it, or as read back by verify())
 * and computes its derived columns without changing it: the resource must
 * be valid, carry its id, meta.versionId, meta.lastUpdated and
 * lastModified.  Returns false with the problem in *problem otherwise.
 */
bool
task_derive_stored(Jsonb *doc, FhirResult *res, Datum *values, bool *nulls, char **problem)
{
	TaskFacts  *f = &res->facts;
	const FhirIssue *first;
	int32		version;
	char	   *end;
	char	   *vtext;

	fhir_validate_task(doc, res);
	first = fhir_first_error(res);
	if (first)
	{
		*problem = psprintf("%s: %s", first->expression, first->diagnostics);
		return false;
	}
	if (f->status.s == NULL || f->intent.s == NULL || f->id.s == NULL ||
		f->meta_version.s == NULL || f->meta_last_updated.text.s == NULL ||
		f->last_modified.text.s == NULL || task_reference_id(f->for_ref, "Patient").s == NULL ||
		f->description.s == NULL)
	{
		*problem = pstrdup("a stored Task needs status, intent, description, for, id, meta.versionId, meta.lastUpdated and lastModified");
		return false;
	}
	vtext = fhir_slice_cstring(f->meta_version);
	version = strtol(vtext, &end, 10);
	if (*end != '\0' || version < 1)
	{
		*problem = psprintf("Task.meta.versionId \"%s\" is not a version number", vtext);
		return false;
	}
	task_derive_columns(f, fhir_slice_cstring(f->id), version,
				   task_when_timestamp(&f->meta_last_updated, false),
				   task_when_timestamp(&f->last_modified, false), doc, values, nulls);
	return true;
}

/*
 * Whether two varlena values (text, text[]) are the same bytes once
 * detoasted: a stored value may be compressed or have a short header.
 */
static bool
varlena_equal(Datum a, Datum b)
{
	struct varlena *va = PG_DETOAST_DATUM(a);
	struct varlena *vb = PG_DETOAST_DATUM(b);

	return VARSIZE(va) == VARSIZE(vb) && memcmp(va, vb, VARSIZE(va)) == 0;
}

/* Columns whose stored value differs from the value derived from resource. */
static char *
mismatched_columns(HeapTuple tup, TupleDesc desc, const int *att, Datum *values, bool *nulls)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < NUM_TASK_COLS; i++)
	{
		bool		isnull;
		Datum		d;
		Form_pg_attribute a = TupleDescAttr(desc, att[i] - 1);

		if (i == COL_RESOURCE || att[i] == 0)
			continue;
		d = heap_getattr(tup, att[i], desc, &isnull);
		if (isnull != nulls[i] ||
			(!isnull && !(a->attlen == -1 ? varlena_equal(d, values[i]) :
						  datumIsEqual(d, values[i], a->attbyval, a->attlen))))
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", task_col_names[i]);
	}
	return buf.len ? buf.data : NULL;
}

/*
 * task_row_problem(omnitask.task) -> text: NULL when the row's resource is
 * a valid stored Task and every derived column agrees with it, else what is
 * wrong.  verify() runs it over every row.
 */
Datum
omnitask_task_row_problem(PG_FUNCTION_ARGS)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(0);
	TupleDesc	desc;
	HeapTupleData tup;
	int			att[NUM_TASK_COLS];
	Datum		values[NUM_TASK_COLS];
	bool		nulls[NUM_TASK_COLS];
	FhirResult *res;
	char	   *problem = NULL;
	bool		isnull;
	Datum		d;

	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&(tup.t_self));
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	lookup_attnums(desc, att);
	d = heap_getattr(&tup, att[COL_RESOURCE], desc, &isnull);
	if (isnull)
		problem = pstrdup("resource is NULL");
	else
	{
		res = palloc(sizeof(FhirResult));
		if (task_derive_stored(DatumGetJsonbP(d), res, values, nulls, &problem))
		{
			char	   *cols = mismatched_columns(&tup, desc, att, values, nulls);

			if (cols)
				problem = psprintf("derived columns disagree with the resource: %s", cols);
		}
	}
	ReleaseTupleDesc(desc);
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/*
 * task_search_columns(resource jsonb) -> (search_tokens text[],
 * business_status text): the search columns of a resource as the trigger
 * derives them, for the upgrade that adds them to existing rows.
 */
Datum
omnitask_task_search_columns(PG_FUNCTION_ARGS)
{
	Jsonb	   *resource = PG_GETARG_JSONB_P(0);
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = search_tokens_datum(resource, NULL);
	values[1] = business_status_datum(resource, &nulls[1]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * The value of a key column of a resource as the trigger derives it, for
 * the upgrades that add the column to existing rows.
 */
static Datum
key_column_of(FunctionCallInfo fcinfo, TokenKey key)
{
	TokenList	tl;
	bool		isnull;
	Datum		d;

	(void) search_tokens_datum(PG_GETARG_JSONB_P(0), &tl);
	d = key_column_datum(&tl, key, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

/*
 * task_business_status_token(resource jsonb) -> text: the
 * business_status_token of a resource (the 0.7 upgrade's backfill).
 */
Datum
omnitask_task_business_status_token(PG_FUNCTION_ARGS)
{
	return key_column_of(fcinfo, KEY_BUSINESS_STATUS);
}

/*
 * task_code_token(resource jsonb) -> text: the code_token of a resource
 * (the 0.8 upgrade's backfill).
 */
Datum
omnitask_task_code_token(PG_FUNCTION_ARGS)
{
	return key_column_of(fcinfo, KEY_CODE);
}
