/*-------------------------------------------------------------------------
 *
 * search_elements.c
 *	  The result parameters that cut each Task of a search down to a
 *	  subset of its top-level elements, by the FHIR R4 rules:
 *
 *	  _elements=a,b      the named elements;
 *	  _summary=true      the elements marked isSummary in the R4 Task
 *	                     StructureDefinition (the generated tables carry
 *	                     the flag, see src/gen);
 *	  _summary=text      text;
 *	  _summary=data      every element but text;
 *
 *	  each with the mandatory ones: resourceType, id, meta and the elements
 *	  with min > 0 (status, intent).  A primitive's extension twin
 *	  ("_status") goes with it.  The subsetted resource carries the tag
 *	  SUBSETTED (v3-ObservationValue) in meta.tag, so that a client does not
 *	  mistake it for the whole resource (and write it back as one).
 *
 *	  An element name that is not a top-level element of R4 Task is
 *	  refused (22023), not ignored: a misspelt name would otherwise
 *	  silently return less than the client expects.  _elements cannot be
 *	  combined with _summary=true|text|data (22023).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fhir_outcome.h"
#include "fhir_tables.h"
#include "lib/stringinfo.h"
#include "search.h"
#include "search_elements.h"

#define SUBSETTED_SYSTEM	"http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
#define SUBSETTED_CODE		"SUBSETTED"

/* The top-level elements of Task, sorted by name (the generated table). */
#define TASK_TYPE			(&fhir_types[FHIR_T_TASK])

/* The index of Task element name[0..len), or -1. */
static int
task_element(const char *name, int len)
{
	const FhirType *t = TASK_TYPE;
	int			lo = 0,
				hi = t->nelements - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strncmp(t->elements[mid].name, name, len);

		if (c == 0 && t->elements[mid].name_len != len)
			c = t->elements[mid].name_len < len ? -1 : 1;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* The bit of Task element name (one that the tables certainly have). */
static uint64
element_bit(const char *name)
{
	int			i = task_element(name, strlen(name));

	if (i < 0)
		elog(ERROR, "R4 Task has no element \"%s\"", name);
	return UINT64CONST(1) << i;
}

/* The elements every subset keeps: id, meta and those with min > 0. */
static uint64
mandatory_elements(void)
{
	const FhirType *t = TASK_TYPE;
	uint64		keep = element_bit("id") | element_bit("meta");
	int			i;

	for (i = 0; i < t->nelements; i++)
		if (t->elements[i].min > 0)
			keep |= UINT64CONST(1) << i;
	return keep;
}

/* The hint of _elements: the element names it takes. */
static const char *
elements_hint(void)
{
	const FhirType *t = TASK_TYPE;
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "_elements takes a comma-separated list of the top-level elements of Task: ");
	for (i = 0; i < t->nelements; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", t->elements[i].name);
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

/*
 * The subset of _elements=value or _summary=value (true, text or data;
 * count and false are the caller's).
 */
SearchElements *
search_elements_param(const char *name, const char *value, SearchElements *prev)
{
	const FhirType *t = TASK_TYPE;
	SearchElements *e;
	int			i;

	if (t->nelements > 64)
		elog(ERROR, "R4 Task has more than 64 elements");
	if (prev != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search parameters \"_elements\" and \"_summary\" cannot be combined"),
				 errhint("Use _elements, or _summary=true, text or data, not both.")));
	e = palloc(sizeof(SearchElements));
	e->keep = mandatory_elements();
	if (strcmp(name, "_elements") == 0)
	{
		const char *p = value;

		if (*value == '\0')
			search_bad_value(name, value, 0, elements_hint());
		for (;;)
		{
			const char *comma = strchr(p, ',');
			int			len = comma ? comma - p : (int) strlen(p);

			if ((i = task_element(p, len)) < 0)
				search_bad_value(name, p, len, elements_hint());
			e->keep |= UINT64CONST(1) << i;
			if (comma == NULL)
				break;
			p = comma + 1;
		}
	}
	else if (strcmp(value, "true") == 0)
	{
		for (i = 0; i < t->nelements; i++)
			if (t->elements[i].summary)
				e->keep |= UINT64CONST(1) << i;
	}
	else if (strcmp(value, "text") == 0)
		e->keep |= element_bit("text");
	else if (strcmp(value, "data") == 0)
		e->keep = ~element_bit("text");
	else
		search_bad_value(name, value, strlen(value), "_summary takes true, text, data, count or false.");
	return e;
}

/* True when key (a JSON property of a Task, or its "_" twin) is kept. */
static bool
key_kept(const SearchElements *e, const JsonbValue *key)
{
	const char *k = key->val.string.val;
	int			len = key->val.string.len;
	int			i;

	if (len == 12 && memcmp(k, "resourceType", 12) == 0)
		return true;
	if (len > 1 && k[0] == '_')
	{
		k++;
		len--;
	}
	i = task_element(k, len);
	return i >= 0 && (e->keep & (UINT64CONST(1) << i)) != 0;
}

/*
 * The next key and value of an object (values not descended into);
 * false at its end.
 */
static bool
next_pair(JsonbIterator **it, JsonbValue *k, JsonbValue *v)
{
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(it, k, true)) != WJB_DONE)
		if (tok == WJB_KEY)
		{
			JsonbIteratorNext(it, v, true);
			return true;
		}
	return false;
}

/* True when object c has key, a string equal to value. */
static bool
string_is(JsonbContainer *c, const char *key, const char *value)
{
	JsonbValue	v;

	return getKeyJsonValueFromContainer(c, key, strlen(key), &v) != NULL &&
		v.type == jbvString && (size_t) v.val.string.len == strlen(value) &&
		memcmp(v.val.string.val, value, v.val.string.len) == 0;
}

/* True when a Coding (a jbvBinary object) is the SUBSETTED tag. */
static bool
is_subsetted(const JsonbValue *coding)
{
	return coding->type == jbvBinary &&
		JsonContainerIsObject(coding->val.binary.data) &&
		string_is(coding->val.binary.data, "code", SUBSETTED_CODE) &&
		string_is(coding->val.binary.data, "system", SUBSETTED_SYSTEM);
}

/*
 * Pushes meta.tag: the tags of tags (a jbvBinary array, or NULL) and the
 * SUBSETTED tag unless it is among them.
 */
static void
push_tags(JsonbParseState **ps, const JsonbValue *tags)
{
	bool		tagged = false;

	fhir_push_string(ps, WJB_KEY, "tag");
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	if (tags != NULL && tags->type == jbvBinary && JsonContainerIsArray(tags->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(tags->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
			{
				tagged |= is_subsetted(&v);
				pushJsonbValue(ps, WJB_ELEM, &v);
			}
	}
	if (!tagged)
	{
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		fhir_push_pair(ps, "system", SUBSETTED_SYSTEM);
		fhir_push_pair(ps, "code", SUBSETTED_CODE);
		fhir_push_pair(ps, "display", "subsetted");
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

/* Pushes meta (a jbvBinary object, or NULL) with SUBSETTED in its tags. */
static void
push_meta(JsonbParseState **ps, const JsonbValue *meta)
{
	bool		had_tags = false;

	fhir_push_string(ps, WJB_KEY, "meta");
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	if (meta != NULL && meta->type == jbvBinary && JsonContainerIsObject(meta->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(meta->val.binary.data);
		JsonbValue	k;
		JsonbValue	v;

		while (next_pair(&it, &k, &v))
		{
			if (k.val.string.len == 3 && memcmp(k.val.string.val, "tag", 3) == 0)
			{
				push_tags(ps, &v);
				had_tags = true;
				continue;
			}
			pushJsonbValue(ps, WJB_KEY, &k);
			pushJsonbValue(ps, WJB_VALUE, &v);
		}
	}
	if (!had_tags)
		push_tags(ps, NULL);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/*
 * The resource with only the kept top-level elements (and their "_"
 * twins), its meta tagged SUBSETTED.  One walk over the top level; the
 * kept values are copied as they are.
 */
Jsonb *
search_elements_apply(const SearchElements *e, Jsonb *res)
{
	JsonbParseState *ps = NULL;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	bool		had_meta = false;

	if (!JB_ROOT_IS_OBJECT(res))
		return res;
	it = JsonbIteratorInit(&res->root);
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	while (next_pair(&it, &k, &v))
	{
		if (k.val.string.len == 4 && memcmp(k.val.string.val, "meta", 4) == 0)
		{
			push_meta(&ps, &v);
			had_meta = true;
		}
		else if (key_kept(e, &k))
		{
			pushJsonbValue(&ps, WJB_KEY, &k);
			pushJsonbValue(&ps, WJB_VALUE, &v);
		}
	}
	if (!had_meta)
		push_meta(&ps, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
}
