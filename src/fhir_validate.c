/*-------------------------------------------------------------------------
 *
 * fhir_validate.c
 *	  Table-driven, one-pass validation of a FHIR R4 Task stored as jsonb.
 *
 * The walker descends the jsonb value once.  Each object is checked
 * against its FhirType from the generated tables (src/fhir_tables.c):
 * unknown properties, cardinality, JSON types, primitive formats, required
 * bindings, choice elements, primitive "_twins", the JSON rules (no null,
 * no empty string, object or array) and the invariants the tables flag
 * (ele-1, ext-1, per-1, ref-1, att-1, qty-3, rng-2, rat-1, inv-1, dom-2..5).
 *
 * On the way it records the facts omnitask derives columns from, and, when
 * the caller asks for normalisation, pushes every token into a new
 * JsonbParseState in which the server-owned keys (id, meta.versionId,
 * meta.lastUpdated, lastModified, defaults) are replaced or added.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fhir_lex.h"
#include "fhir_names.h"
#include "fhir_outcome.h"
#include "fhir_tables.h"
#include "fhir_ucum.h"
#include "fhir_validate.h"
#include "jsonb_splice.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/* Largest element and choice counts of any generated type we accept. */
#define MAX_TYPE_ELEMENTS	96
#define MAX_TYPE_CHOICES	4

/* Longest property name put into a FHIRPath before it is cut. */
#define MAX_PATH_KEY		64

/*
 * True when element el is the property named name (a FhirElementTag name:
 * the generated tables tag every element so named).
 */
#define EL_IS(el, name)		((el)->tag == FE_##name)

/* seen[] flags per element of an object */
#define SEEN_VALUE			0x01
#define SEEN_TWIN			0x02
#define SEEN_NULL_ITEM		0x04

/* Where below the Task root a walk is, for the facts it records. */
typedef enum Cap
{
	CAP_NONE,
	CAP_ROOT,
	CAP_OWNER,
	CAP_FOR,
	CAP_REQUESTER,
	CAP_CODE,
	CAP_CODE_CODING,
	CAP_CODE_CODING0,
	CAP_RESTRICTION,
	CAP_RESTRICTION_PERIOD,
	CAP_EXEC_PERIOD,
	CAP_META
} Cap;

/* What kind of object is being walked: the root and its meta are rewritten. */
typedef enum ObjRole
{
	ROLE_PLAIN,
	ROLE_ROOT,
	ROLE_META,
	ROLE_CONTAINED
} ObjRole;

/* What a walked object tells its parent. */
typedef struct ObjResult
{
	Numeric		value;			/* its "value" decimal, if any (Quantity) */
	FhirSlice	code;			/* Quantity.code, system, unit (s == NULL when absent) */
	FhirSlice	system;
	FhirSlice	unit;
} ObjResult;

/* A local "#id" reference, checked against contained ids at the end. */
typedef struct LocalRef
{
	char	   *id;				/* without the '#' */
	char	   *expression;
	bool		is_reference;	/* Reference.reference (ref-1), else a canonical/uri */
	int16		targets;		/* the element's fhir_target_sets[] index, or -1 */
	int			from;			/* index of the contained resource it is in, or -1 */
} LocalRef;

/* A contained resource, for ref-1, dom-3, the unique-id and target checks. */
typedef struct ContainedRes
{
	char	   *id;
	char	   *rtype;			/* NULL when missing */
	int			index;			/* position in Task.contained */
	bool		refers_to_container;	/* has a "#" reference (dom-3) */
} ContainedRes;

/* What one segment of the current FHIRPath is. */
typedef enum SegKind
{
	SEG_KEY,					/* ".key", a property name as written */
	SEG_ELEMENT,				/* ".name" or ".choice.ofType(type)" */
	SEG_INDEX,					/* "[i]" */
	SEG_CHOICE_X				/* ".choice[x]" */
} SegKind;

/*
 * One segment of the current FHIRPath.  The path is kept as a stack of
 * these and spelt out only when an issue needs it, so that a walk of a
 * valid document never formats a path.
 */
typedef struct PathSeg
{
	SegKind		kind;
	int			len;			/* SEG_KEY: length of name; SEG_INDEX: index */
	const char *name;			/* SEG_KEY, SEG_CHOICE_X */
	const FhirElement *el;		/* SEG_ELEMENT */
	const FhirType *owner;		/* SEG_ELEMENT */
} PathSeg;

/* State of one walk. */
typedef struct Walker
{
	FhirResult *res;
	const FhirNormalize *norm;
	PathSeg    *segs;			/* FHIRPath of the current element, below "Task" */
	int			nsegs;
	int			maxsegs;
	JsonbParseState *out;		/* normalised copy under construction */
	bool		emit;			/* still building the copy */
	JsonbValue *last;			/* what the last push returned: the root at the end */
	int			depth;
	List	   *contained;		/* ContainedRes * */
	List	   *local_refs;		/* LocalRef * */
	int			cur_contained;	/* index of the contained resource being walked, or -1 */
	int16		ref_targets;	/* targets of the Reference element being walked, or -1 */
	bool		twin_with_value;	/* the next object is a twin whose primitive has a value */
	bool	   *root_copied;	/* per root pair: copied as stored, not emitted */
} Walker;

static void walk_object(Walker *w, JsonbContainer *c, const FhirType *t,
						Cap cap, ObjRole role, ObjResult *out);
static void walk_generic(Walker *w, JsonbValue *v);
static char *path_string(const Walker *w);

/* Records an error at the walker's current path and stops building output. */
static void
walk_error(Walker *w, const char *code, const char *fmt,...)
pg_attribute_printf(3, 4);

static void
walk_error(Walker *w, const char *code, const char *fmt,...)
{
	va_list		args;
	char	   *diagnostics;

	w->emit = false;
	if (fhir_issues_full(w->res))
		return;					/* counted, nothing formatted */
	va_start(args, fmt);
	diagnostics = fhir_vformat(fmt, args);
	va_end(args);
	fhir_add_issue_text(w->res, FHIR_SEV_ERROR, code, path_string(w), diagnostics);
}

/* True when the slice equals the NUL-terminated string s. */
bool
fhir_slice_eq(FhirSlice a, const char *s)
{
	return a.s != NULL && strlen(s) == (size_t) a.len &&
		memcmp(a.s, s, a.len) == 0;
}

/* A palloc'd NUL-terminated copy of a slice (NULL for an absent one). */
char *
fhir_slice_cstring(FhirSlice a)
{
	return a.s ? pnstrdup(a.s, a.len) : NULL;
}

/* The JSON type of a value, for diagnostics. */
static const char *
json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a container";
	}
}

/*
 * Pushes a new segment of the given kind on the path, growing the stack as
 * needed, and returns it (the caller fills it in).
 */
static inline PathSeg *
path_new_seg(Walker *w, SegKind kind)
{
	PathSeg    *seg;

	if (w->nsegs >= w->maxsegs)
	{
		w->maxsegs *= 2;
		w->segs = repalloc(w->segs, sizeof(PathSeg) * w->maxsegs);
	}
	seg = &w->segs[w->nsegs++];
	seg->kind = kind;
	return seg;
}

/* Pushes ".name" (a property name as written) to the path. */
static inline int
path_push(Walker *w, const char *name, int len)
{
	int			saved = w->nsegs;
	PathSeg    *seg = path_new_seg(w, SEG_KEY);

	seg->name = name;
	seg->len = len;
	return saved;
}

/* Pushes the segment of element el (choice members as ofType()). */
static inline int
path_push_element(Walker *w, const FhirElement *el, const FhirType *owner)
{
	int			saved = w->nsegs;
	PathSeg    *seg = path_new_seg(w, SEG_ELEMENT);

	seg->el = el;
	seg->owner = owner;
	return saved;
}

/* Pushes "[i]" to the path. */
static inline int
path_push_index(Walker *w, int i)
{
	int			saved = w->nsegs;
	PathSeg    *seg = path_new_seg(w, SEG_INDEX);

	seg->len = i;
	return saved;
}

/* Pushes ".choice[x]" to the path, for a missing required choice. */
static inline int
path_push_choice_x(Walker *w, const char *choice)
{
	int			saved = w->nsegs;
	PathSeg    *seg = path_new_seg(w, SEG_CHOICE_X);

	seg->name = choice;
	return saved;
}

static inline void
path_pop(Walker *w, int saved)
{
	w->nsegs = saved;
}

/*
 * The FHIRPath of the current element, spelt out (palloc'd): "Task", then
 * every segment.  A property name longer than MAX_PATH_KEY bytes is cut on
 * a UTF-8 boundary and marked with "...".
 */
static char *
path_string(const Walker *w)
{
	StringInfoData buf;
	char	   *result;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "Task");
	for (i = 0; i < w->nsegs; i++)
	{
		const PathSeg *seg = &w->segs[i];

		switch (seg->kind)
		{
			case SEG_KEY:
				appendStringInfoChar(&buf, '.');
				if (seg->len > MAX_PATH_KEY)
				{
					int			n = MAX_PATH_KEY;

					while (n > 0 && (seg->name[n] & 0xC0) == 0x80)
						n--;
					appendBinaryStringInfo(&buf, seg->name, n);
					appendStringInfoString(&buf, "...");
				}
				else
					appendBinaryStringInfo(&buf, seg->name, seg->len);
				break;
			case SEG_ELEMENT:
				if (seg->el->choice >= 0)
					appendStringInfo(&buf, ".%s.ofType(%s)",
									 seg->owner->choices[seg->el->choice].name,
									 fhir_types[seg->el->type].name);
				else
				{
					appendStringInfoChar(&buf, '.');
					appendBinaryStringInfo(&buf, seg->el->name, seg->el->name_len);
				}
				break;
			case SEG_INDEX:
				appendStringInfo(&buf, "[%d]", seg->len);
				break;
			case SEG_CHOICE_X:
				appendStringInfo(&buf, ".%s[x]", seg->name);
				break;
		}
	}
	/* a copy sized to the text: a local reference keeps its path to the end */
	result = pnstrdup(buf.data, buf.len);
	pfree(buf.data);
	return result;
}

/*
 * Reading the children of a jsonb container in place, without a
 * JsonbIterator (which allocates, and returns tokens the walk does not
 * need): a cursor over the JEntry array that keeps the running offset, and
 * fills a JsonbValue the way the iterator would (nested containers as
 * jbvBinary).
 */
typedef struct ChildCursor
{
	JsonbContainer *c;
	char	   *base;			/* start of the children's data */
	uint32		off;			/* offset of the next child's data */
} ChildCursor;

/*
 * Starts a cursor at child index first of container c, which has nentries
 * JEntries (2 * pairs for an object, elements for an array).
 */
static inline void
cursor_init(ChildCursor *cur, JsonbContainer *c, int nentries, int first)
{
	cur->c = c;
	cur->base = (char *) &c->children[nentries];
	cur->off = first == 0 ? 0 : getJsonbOffset(c, first);
}

/*
 * Moves the cursor past child index of its container: returns its JEntry,
 * and the offsets of its data in *start and *end.
 */
static inline JEntry
cursor_step(ChildCursor *cur, int index, uint32 *start, uint32 *end)
{
	JEntry		entry = cur->c->children[index];

	*start = cur->off;
	*end = JBE_HAS_OFF(entry) ? JBE_OFFLENFLD(entry) :
		*start + JBE_OFFLENFLD(entry);
	cur->off = *end;
	return entry;
}

/* Fills *v with child index of the cursor's container and moves past it. */
static inline void
cursor_next(ChildCursor *cur, int index, JsonbValue *v)
{
	uint32		start,
				end;
	JEntry		entry = cursor_step(cur, index, &start, &end);

	if (JBE_ISSTRING(entry))
	{
		v->type = jbvString;
		v->val.string.val = cur->base + start;
		v->val.string.len = end - start;
	}
	else if (JBE_ISNUMERIC(entry))
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) (cur->base + INTALIGN(start));
	}
	else if (JBE_ISBOOL_TRUE(entry))
	{
		v->type = jbvBool;
		v->val.boolean = true;
	}
	else if (JBE_ISBOOL_FALSE(entry))
	{
		v->type = jbvBool;
		v->val.boolean = false;
	}
	else if (JBE_ISNULL(entry))
		v->type = jbvNull;
	else
	{
		Assert(JBE_ISCONTAINER(entry));
		v->type = jbvBinary;
		v->val.binary.data = (JsonbContainer *) (cur->base + INTALIGN(start));
		v->val.binary.len = (end - start) - (INTALIGN(start) - start);
	}
}

/*
 * Fills *v with key index of the cursor's object and moves past it: as
 * cursor_next(), for a child known to be a string (every key is).
 */
static inline void
cursor_next_key(ChildCursor *cur, int index, JsonbValue *v)
{
	uint32		start,
				end;
	JEntry		entry PG_USED_FOR_ASSERTS_ONLY = cursor_step(cur, index, &start, &end);

	Assert(JBE_ISSTRING(entry));
	v->type = jbvString;
	v->val.string.val = cur->base + start;
	v->val.string.len = end - start;
}

/* Pushes a token to the normalised copy, while one is being built. */
static inline void
emit(Walker *w, JsonbIteratorToken tok, JsonbValue *v)
{
	if (w->emit)
		w->last = pushJsonbValue(&w->out, tok, v);
}

/* Pushes "key": "string value" to the copy, while one is being built. */
static void
emit_string_member(Walker *w, const char *key, const char *value)
{
	if (w->emit)
		fhir_push_pair(&w->out, key, value);
}

/*
 * Pushes "key": {"reference": ref} to the copy and records it as the Task's
 * fact, for a server default (the practitioner who creates a task).
 */
static void
emit_reference_member(Walker *w, const char *key, const char *ref,
					  FhirSlice *fact, bool *present)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&w->out, WJB_KEY, &k);
	pushJsonbValue(&w->out, WJB_BEGIN_OBJECT, NULL);
	emit_string_member(w, "reference", ref);
	pushJsonbValue(&w->out, WJB_END_OBJECT, NULL);
	fact->s = ref;
	fact->len = strlen(ref);
	*present = true;
}

/*
 * Finds a property of a type by its JSON name: the generated perfect hash
 * of the type's names (fhir_names.h) gives the one candidate, compared once.
 */
static pg_attribute_always_inline const FhirElement *
find_element(const FhirType *t, const char *name, int len)
{
	return fhir_find_element(t, name, len);
}

/* True when code (a slice) is in the required value set vs. */
static bool
code_in_valueset(const FhirValueSet *vs, const char *s, int len, const char **why)
{
	switch (vs->check)
	{
		case VS_CURRENCY:
			return fhir_check_currency(s, len, why);
		case VS_MIMETYPE:
			return fhir_check_mimetype(s, len, why);
		case VS_ENUM:
			break;
	}
	*why = NULL;
	return fhir_valueset_has(vs, s, len);
}

/* The capture context of a child element of an object in context cap. */
static inline Cap
child_cap(Cap cap, const FhirElement *el)
{
	switch (cap)
	{
		case CAP_ROOT:
			if (EL_IS(el, owner))
				return CAP_OWNER;
			if (EL_IS(el, for))
				return CAP_FOR;
			if (EL_IS(el, requester))
				return CAP_REQUESTER;
			if (EL_IS(el, code))
				return CAP_CODE;
			if (EL_IS(el, restriction))
				return CAP_RESTRICTION;
			if (EL_IS(el, executionPeriod))
				return CAP_EXEC_PERIOD;
			return CAP_NONE;
		case CAP_CODE:
			return EL_IS(el, coding) ? CAP_CODE_CODING : CAP_NONE;
		case CAP_RESTRICTION:
			return EL_IS(el, period) ? CAP_RESTRICTION_PERIOD : CAP_NONE;
		default:
			return CAP_NONE;
	}
}

/*
 * Records a Task fact from a string primitive in capture context cap
 * (names compared by length first, without a strcmp call).
 */
static void
capture_string(Walker *w, Cap cap, const FhirElement *el, const JsonbValue *v,
			   const FhirWhen *when)
{
	TaskFacts  *f = &w->res->facts;
	FhirSlice	sl;

	sl.s = v->val.string.val;
	sl.len = v->val.string.len;
	switch (cap)
	{
		case CAP_ROOT:
			if (EL_IS(el, status))
				f->status = sl;
			else if (EL_IS(el, intent))
				f->intent = sl;
			else if (EL_IS(el, priority))
				f->priority = sl;
			else if (EL_IS(el, description))
				f->description = sl;
			else if (EL_IS(el, id))
				f->id = sl;
			else if (EL_IS(el, authoredOn) && when)
				f->authored_on = *when;
			else if (EL_IS(el, lastModified) && when)
				f->last_modified = *when;
			break;
		case CAP_OWNER:
		case CAP_FOR:
		case CAP_REQUESTER:
			if (EL_IS(el, reference))
			{
				if (cap == CAP_OWNER)
					f->owner_ref = sl;
				else if (cap == CAP_FOR)
					f->for_ref = sl;
				else
					f->requester_ref = sl;
			}
			break;
		case CAP_CODE_CODING0:
			if (EL_IS(el, code))
				f->code = sl;
			break;
		case CAP_RESTRICTION_PERIOD:
			if (EL_IS(el, end) && when)
				f->restriction_end = *when;
			break;
		case CAP_EXEC_PERIOD:
			if (EL_IS(el, end) && when)
				f->execution_end = *when;
			break;
		case CAP_META:
			if (EL_IS(el, versionId))
				f->meta_version = sl;
			else if (EL_IS(el, lastUpdated) && when)
				f->meta_last_updated = *when;
			break;
		default:
			break;
	}
}

/*
 * Checks one JSON scalar against primitive type t (and the element's
 * required binding).  When the parent needs the instant a date/dateTime
 * denotes (Period, the Task root) it is returned in *when.
 */
static bool
check_primitive(Walker *w, const FhirType *t, const FhirElement *el,
				const JsonbValue *v, FhirWhen *when)
{
	const char *why = NULL;
	FhirPrim	prim = t->prim;

	switch (prim)
	{
		case FP_BOOLEAN:
			if (v->type != jbvBool)
			{
				walk_error(w, "structure", "expected a JSON boolean for %s, found %s",
						   t->name, json_type_name(v));
				return false;
			}
			return true;
		case FP_INTEGER:
		case FP_POSITIVEINT:
		case FP_UNSIGNEDINT:
		case FP_DECIMAL:
			{
				char	   *txt;

				if (v->type != jbvNumeric)
				{
					walk_error(w, "structure", "expected a JSON number for %s, found %s",
							   t->name, json_type_name(v));
					return false;
				}
				txt = DatumGetCString(DirectFunctionCall1(numeric_out,
														  NumericGetDatum(v->val.numeric)));
				if (!fhir_check_number(prim, txt, strlen(txt), &why))
				{
					walk_error(w, "value", "%s is not a valid %s: %s",
							   txt, t->name, why);
					pfree(txt);
					return false;
				}
				pfree(txt);
				return true;
			}
		default:
			break;
	}

	/* every other primitive is a JSON string */
	if (v->type != jbvString)
	{
		walk_error(w, "structure", "expected a JSON string for %s, found %s",
				   t->name, json_type_name(v));
		return false;
	}
	if (v->val.string.len == 0)
	{
		walk_error(w, "structure", "empty strings are not allowed in FHIR JSON");
		return false;
	}
	if (when && (prim == FP_DATE || prim == FP_DATETIME || prim == FP_INSTANT))
	{
		if (!fhir_parse_time_range(prim, v->val.string.val, v->val.string.len,
								   &when->range, &why))
		{
			walk_error(w, "value", "%s is not a valid %s: %s",
					   fhir_quoted(v->val.string.val, v->val.string.len), t->name, why);
			return false;
		}
		when->text.s = v->val.string.val;
		when->text.len = v->val.string.len;
		when->has_time = v->val.string.len > 10;
	}
	else
	{
		const char *warn = NULL;

		if (!fhir_check_string_warn(prim, v->val.string.val, v->val.string.len,
									&why, &warn))
		{
			walk_error(w, "value", "%s is not a valid %s: %s",
					   fhir_quoted(v->val.string.val, v->val.string.len), t->name, why);
			return false;
		}
		if (unlikely(warn != NULL))
			fhir_add_issue_text(w->res, FHIR_SEV_WARNING, "value", path_string(w),
					  psprintf("%s %s", fhir_quoted(v->val.string.val, v->val.string.len),
							   warn));
	}
	if (el && el->valueset >= 0)
	{
		const FhirValueSet *vs = &fhir_valuesets[el->valueset];

		if (!code_in_valueset(vs, v->val.string.val, v->val.string.len, &why))
		{
			if (why)
				walk_error(w, "code-invalid", "%s is not a valid code for %s: %s",
						   fhir_quoted(v->val.string.val, v->val.string.len), vs->url, why);
			else
				walk_error(w, "code-invalid", "%s is not a valid code for %s",
						   fhir_quoted(v->val.string.val, v->val.string.len), vs->url);
			return false;
		}
	}
	return true;
}

/*
 * Records a "#id" local reference for the checks at the end: ref-1 and the
 * target type for a Reference.reference (is_reference), dom-3 for every
 * kind (a canonical or uri "#id" counts as a reference to the contained
 * resource too).
 */
static void
note_local_ref(Walker *w, const JsonbValue *v, bool is_reference, int16 targets)
{
	LocalRef   *r;

	if (v->type != jbvString || v->val.string.len < 1 || v->val.string.val[0] != '#')
		return;
	r = palloc(sizeof(LocalRef));
	r->id = pnstrdup(v->val.string.val + 1, v->val.string.len - 1);
	r->expression = path_string(w);
	r->is_reference = is_reference;
	r->targets = targets;
	r->from = w->cur_contained;
	w->local_refs = lappend(w->local_refs, r);
}

/* True when the NUL-terminated name is one of the targets of set ts. */
static bool
target_allowed(int16 ts, const char *rtype)
{
	int			i = fhir_resource_type_index(rtype, strlen(rtype));

	return i >= 0 && fhir_target_set_has(&fhir_target_sets[ts], i);
}

/* True when the NUL-terminated name is a concrete R4 resource type. */
static bool
is_resource_type(const char *rtype)
{
	return fhir_resource_type_index(rtype, strlen(rtype)) >= 0;
}

/* The allowed target types of set ts, for a diagnostic: "A, B or C". */
static char *
target_list(int16 ts)
{
	const FhirTargetSet *set = &fhir_target_sets[ts];
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < set->n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, i == set->n - 1 ? " or " : ", ");
		appendStringInfoString(&buf, set->names[i]);
	}
	return buf.data;
}

/*
 * The offset of the last '/' among the first n bytes of s, or -1: with
 * glibc's memrchr, which reads a word at a time where a reference's long
 * id would otherwise be read byte by byte.
 */
static inline int
last_slash(const char *s, int n)
{
#ifdef __GLIBC__
	const char *p = n > 0 ? memrchr(s, '/', n) : NULL;

	return p ? (int) (p - s) : -1;
#else
	int			i;

	for (i = n - 1; i >= 0; i--)
		if (s[i] == '/')
			break;
	return i;
#endif
}

/*
 * Checks the resource type a literal reference names against the targets
 * of its element (the targetProfile of a Reference(X | Y) element).  The
 * type is the segment before the id, or before id/_history/version, of a
 * relative or absolute URL; references that name no R4 resource type
 * (urn:uuid:, urn:oid:, other URLs) are not judged.
 */
static void
check_reference_target(Walker *w, const JsonbValue *v, int16 targets)
{
	const char *s = v->val.string.val;
	int			len = v->val.string.len;
	int			ends[4];		/* ends of the last four '/'-separated segments */
	int			starts[4];
	int			nseg = 0;
	int			i,
				e,
				k,
				rt;

	if (targets < 0 || v->type != jbvString || len == 0 || s[0] == '#')
		return;
	/*
	 * the last four segments, right to left (the start of the text ends
	 * the last one)
	 */
	e = len;
	while (nseg < 4)
	{
		i = last_slash(s, e);
		starts[nseg] = i + 1;
		ends[nseg] = e;
		nseg++;
		if (i < 0)
			break;
		e = i;
	}
	/* Type/id or Type/id/_history/version */
	k = 1;
	if (nseg >= 4 && ends[1] - starts[1] == 8 && memcmp(s + starts[1], "_history", 8) == 0)
		k = 3;
	if (nseg <= k || ends[k] <= starts[k])
		return;
	/* a name that is no R4 resource type is not judged */
	rt = fhir_resource_type_index(s + starts[k], ends[k] - starts[k]);
	if (rt >= 0 && !fhir_target_set_has(&fhir_target_sets[targets], rt))
		walk_error(w, "structure", "reference %s points at a %s, but this element may only point at %s",
				   fhir_quoted(s, len), pnstrdup(s + starts[k], ends[k] - starts[k]),
				   target_list(targets));
}

/*
 * Walks one value of element el, of type t.  The value is a scalar or a
 * binary container; containers of complex types are walked recursively.
 * (walk_single() below, in line at every call, takes an object of a
 * complex type straight to walk_object().)
 */
static void
walk_single_value(Walker *w, const FhirType *t, const FhirElement *el,
				  JsonbValue *v, JsonbIteratorToken tok, Cap cap,
				  FhirWhen *when, ObjResult *res)
{
	if (v->type == jbvNull)
	{
		walk_error(w, "structure", "null is not allowed in FHIR JSON");
		return;
	}
	if (t->kind == FK_PRIMITIVE)
	{
		FhirWhen	local;
		bool		need_when = (when != NULL) || cap != CAP_NONE;

		/* local is read only where need_when (when or cap is set) */
		if (need_when)
			memset(&local, 0, sizeof(local));
		if (v->type == jbvBinary)
		{
			walk_error(w, "structure", "expected a JSON %s for %s, found %s",
					   t->prim == FP_BOOLEAN ? "boolean" :
					   (t->prim == FP_INTEGER || t->prim == FP_DECIMAL ||
						t->prim == FP_POSITIVEINT || t->prim == FP_UNSIGNEDINT) ?
					   "number" : "string",
					   t->name, json_type_name(v));
			return;
		}
		if (!check_primitive(w, t, el, v, need_when ? &local : NULL))
			return;
		if ((t->prim == FP_CANONICAL || t->prim == FP_URI || t->prim == FP_URL) &&
			v->val.string.val[0] == '#')
			note_local_ref(w, v, false, -1);
		if (when)
			*when = local;
		if (cap != CAP_NONE && v->type == jbvString)
			capture_string(w, cap, el, v, local.text.s ? &local : NULL);
		if (res && el)
		{
			if (v->type == jbvNumeric && EL_IS(el, value))
				res->value = v->val.numeric;
			else if (v->type == jbvString)
			{
				FhirSlice	sl = {v->val.string.val, v->val.string.len};

				if (EL_IS(el, code))
					res->code = sl;
				else if (EL_IS(el, system))
					res->system = sl;
				else if (EL_IS(el, unit))
					res->unit = sl;
			}
		}
		emit(w, tok, v);
		return;
	}

	if (v->type != jbvBinary || JsonContainerIsArray(v->val.binary.data))
	{
		walk_error(w, "structure", "expected a JSON object for %s, found %s",
				   t->name, json_type_name(v));
		return;
	}
	if (t->kind == FK_RESOURCE)
	{
		walk_generic(w, v);
		return;
	}
	if (w->depth >= FHIR_MAX_DEPTH)
	{
		walk_error(w, "too-costly", "elements are nested more than %d deep",
				   FHIR_MAX_DEPTH);
		return;
	}
	walk_object(w, v->val.binary.data, t, cap, ROLE_PLAIN, res);
}

/*
 * Walks one value of element el, of type t: the common object of a
 * complex type directly, without a call to walk_single_value(), which
 * handles the rest (and reports every problem).
 */
static pg_attribute_always_inline void
walk_single(Walker *w, const FhirType *t, const FhirElement *el,
			JsonbValue *v, JsonbIteratorToken tok, Cap cap,
			FhirWhen *when, ObjResult *res)
{
	if (t->kind == FK_COMPLEX && v->type == jbvBinary &&
		!JsonContainerIsArray(v->val.binary.data) && w->depth < FHIR_MAX_DEPTH)
		walk_object(w, v->val.binary.data, t, cap, ROLE_PLAIN, res);
	else
		walk_single_value(w, t, el, v, tok, cap, when, res);
}

/*
 * Opens the array v of an element or a twin for walking: emits its start,
 * and sets *items to its items and *n to their number.  An empty array is
 * an error (FHIR JSON has none): false, nothing emitted.
 */
static bool
array_open(Walker *w, JsonbValue *v, ChildCursor *items, int *n)
{
	JsonbContainer *ac = v->val.binary.data;

	*n = JsonContainerSize(ac);
	if (*n == 0)
	{
		walk_error(w, "structure", "empty arrays are not allowed in FHIR JSON");
		return false;
	}
	emit(w, WJB_BEGIN_ARRAY, NULL);
	cursor_init(items, ac, *n, 0);
	return true;
}

/*
 * Walks the value of element el: an array when its max is "*", a single
 * value otherwise.  A null inside a primitive array sets SEEN_NULL_ITEM in
 * *seen; finish_object() checks it against the "_twin" array position by
 * position.
 */
static pg_attribute_always_inline void
walk_element(Walker *w, const FhirType *owner, const FhirElement *el,
			 JsonbValue *v, Cap cap, uint8 *seen, FhirWhen *when,
			 ObjResult *res)
{
	const FhirType *t = &fhir_types[el->type];
	Cap			ccap = cap == CAP_NONE ? CAP_NONE : child_cap(cap, el);
	bool		is_array = v->type == jbvBinary &&
		JsonContainerIsArray(v->val.binary.data);

	/* a Reference object reads its element's targets from the walker */
	w->ref_targets = el->targets;
	if (el->many != is_array)
	{
		if (el->many)
			walk_error(w, "structure", "expected an array for %s (max cardinality *), found %s",
					   el->name, json_type_name(v));
		else
			walk_error(w, "structure", "expected a single %s, found an array (max cardinality 1)",
					   t->name);
		return;
	}
	if (!is_array)
	{
		/* primitives at capture points record themselves with cap */
		walk_single(w, t, el, v, WJB_VALUE,
					t->kind == FK_PRIMITIVE ? cap : ccap, when, res);
		return;
	}
	else
	{
		ChildCursor items;
		JsonbValue	item;
		int			n,
					i;

		/* contained resources nest: a non-empty array of them counts */
		if (t->kind == FK_RESOURCE && w->depth >= FHIR_MAX_DEPTH &&
			JsonContainerSize(v->val.binary.data) > 0)
		{
			walk_error(w, "too-costly", "elements are nested more than %d deep",
					   FHIR_MAX_DEPTH);
			return;
		}
		if (!array_open(w, v, &items, &n))
			return;
		for (i = 0; i < n; i++)
		{
			int			saved;

			CHECK_FOR_INTERRUPTS();
			cursor_next(&items, i, &item);
			saved = path_push_index(w, i);
			w->ref_targets = el->targets;
			if (item.type == jbvNull && t->kind == FK_PRIMITIVE)
			{
				/* allowed when the _twin has an entry here; checked later */
				*seen |= SEEN_NULL_ITEM;
				emit(w, WJB_ELEM, &item);
			}
			else if (t->kind == FK_RESOURCE && item.type == jbvBinary &&
					 !JsonContainerIsArray(item.val.binary.data))
			{
				/* contained resources: handled by the caller's hook */
				walk_single(w, t, el, &item, WJB_ELEM, CAP_NONE, NULL, NULL);
			}
			else
				walk_single(w, t, el, &item, WJB_ELEM,
							(ccap == CAP_CODE_CODING && i == 0) ? CAP_CODE_CODING0 : CAP_NONE,
							NULL, NULL);
			path_pop(w, saved);
		}
		emit(w, WJB_END_ARRAY, NULL);
	}
}

/*
 * True when the primitive twinned by a "_name" has a value: the value
 * property pv (NULL when absent) is there and not null, or for a repeating
 * primitive, its item i is.
 */
static bool
twin_value_present(const JsonbValue *pv, int i)
{
	JsonbValue *item;

	if (pv == NULL || pv->type == jbvNull)
		return false;
	if (i < 0)
		return true;
	if (pv->type != jbvBinary || !JsonContainerIsArray(pv->val.binary.data) ||
		(uint32) i >= JsonContainerSize(pv->val.binary.data))
		return false;
	item = getIthJsonbValueFromContainer(pv->val.binary.data, i);
	return item != NULL && item->type != jbvNull;
}

/*
 * Walks a "_name" twin: the Element (id, extension) of a primitive, or an
 * array of them (null where an item has none) for a repeating primitive.
 * pv is the primitive's own value property (NULL when absent): ele-1
 * (hasValue() or children other than id) holds for a twin with only an id
 * when the primitive has a value.
 */
static void
walk_twin(Walker *w, const FhirElement *el, JsonbValue *v, const JsonbValue *pv)
{
	const FhirType *element_type = &fhir_types[FHIR_T_ELEMENT];
	bool		is_array = v->type == jbvBinary &&
		JsonContainerIsArray(v->val.binary.data);

	if (el->many != is_array)
	{
		walk_error(w, "structure", el->many ?
				   "expected an array for the extensions of a repeating primitive, found %s" :
				   "expected an object for the extensions of a primitive, found %s",
				   json_type_name(v));
		return;
	}
	if (!is_array)
	{
		w->twin_with_value = twin_value_present(pv, -1);
		walk_single(w, element_type, NULL, v, WJB_VALUE, CAP_NONE, NULL, NULL);
		w->twin_with_value = false;
		return;
	}
	else
	{
		ChildCursor items;
		JsonbValue	item;
		int			n,
					i;

		if (!array_open(w, v, &items, &n))
			return;
		for (i = 0; i < n; i++)
		{
			int			saved;

			cursor_next(&items, i, &item);
			saved = path_push_index(w, i);
			if (item.type == jbvNull)
				emit(w, WJB_ELEM, &item);
			else
			{
				w->twin_with_value = twin_value_present(pv, i);
				walk_single(w, element_type, NULL, &item, WJB_ELEM, CAP_NONE,
							NULL, NULL);
				w->twin_with_value = false;
			}
			path_pop(w, saved);
		}
		emit(w, WJB_END_ARRAY, NULL);
	}
}

/*
 * Checks a contained resource (or any JSON below it) for the JSON rules
 * only: no null, no empty string, object or array.  Resource types other
 * than Task are not part of base Task validation; "#id" references inside
 * them still count for dom-3.
 */
static void
walk_generic_value(Walker *w, JsonbValue *v, bool is_reference)
{
	JsonbIterator *it;
	JsonbValue	key,
				item;
	JsonbIteratorToken tok;
	int			i = 0;

	if (v->type == jbvNull)
	{
		walk_error(w, "structure", "null is not allowed in FHIR JSON");
		return;
	}
	if (v->type == jbvString && v->val.string.len == 0)
	{
		walk_error(w, "structure", "empty strings are not allowed in FHIR JSON");
		return;
	}
	if (v->type != jbvBinary)
	{
		/*
		 * a "#id" under "reference" is a Reference (ref-1); any other "#id"
		 * string may be a canonical or uri of a type not walked here, and
		 * counts for dom-3 only
		 */
		if (v->type == jbvString)
			note_local_ref(w, v, is_reference, -1);
		emit(w, WJB_VALUE, v);
		return;
	}
	if (JsonContainerSize(v->val.binary.data) == 0)
	{
		walk_error(w, "structure", "empty %s are not allowed in FHIR JSON",
				   JsonContainerIsArray(v->val.binary.data) ? "arrays" : "objects");
		return;
	}
	if (w->depth >= FHIR_MAX_DEPTH)
	{
		walk_error(w, "too-costly", "elements are nested more than %d deep",
				   FHIR_MAX_DEPTH);
		return;
	}
	check_stack_depth();
	w->depth++;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &item, true)) != WJB_DONE)
	{
		int			saved;

		CHECK_FOR_INTERRUPTS();
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				emit(w, tok, NULL);
				break;
			case WJB_KEY:
				key = item;
				emit(w, WJB_KEY, &key);
				tok = JsonbIteratorNext(&it, &item, true);
				saved = path_push(w, key.val.string.val, key.val.string.len);
				if (item.type == jbvBinary)
					walk_generic_value(w, &item, false);
				else
					walk_generic_value(w, &item,
									   key.val.string.len == 9 &&
									   memcmp(key.val.string.val, "reference", 9) == 0);
				path_pop(w, saved);
				break;
			case WJB_ELEM:
				saved = path_push_index(w, i++);
				if (item.type == jbvBinary)
					walk_generic_value(w, &item, false);
				else if (item.type == jbvNull)
					walk_error(w, "structure", "null is not allowed in FHIR JSON");
				else if (item.type == jbvString && item.val.string.len == 0)
					walk_error(w, "structure", "empty strings are not allowed in FHIR JSON");
				else
				{
					if (item.type == jbvString)
						note_local_ref(w, &item, false, -1);
					emit(w, WJB_ELEM, &item);
				}
				path_pop(w, saved);
				break;
			default:
				break;
		}
	}
	w->depth--;
}

/*
 * Walks a contained resource of a type other than Task: the elements every
 * DomainResource has (meta, implicitRules, language, text, extension,
 * modifierExtension) are checked as Task's own, which are the same
 * DomainResource elements; the rest only for the JSON rules.
 */
static void
walk_contained_other(Walker *w, JsonbContainer *c)
{
	const FhirType *task = &fhir_types[FHIR_T_TASK];
	int			npairs = JsonContainerSize(c);
	ChildCursor keys,
				values;
	JsonbValue	key,
				v;
	int			pair;

	check_stack_depth();
	w->depth++;
	emit(w, WJB_BEGIN_OBJECT, NULL);
	cursor_init(&keys, c, 2 * npairs, 0);
	cursor_init(&values, c, 2 * npairs, npairs);
	for (pair = 0; pair < npairs; pair++)
	{
		const FhirElement *el = NULL;
		const char *name;
		int			len;
		int			saved;

		CHECK_FOR_INTERRUPTS();
		cursor_next(&keys, pair, &key);
		cursor_next(&values, npairs + pair, &v);
		name = key.val.string.val;
		len = key.val.string.len;
		emit(w, WJB_KEY, &key);
		if ((len == 12 && memcmp(name, "resourceType", 12) == 0) ||
			(len == 2 && memcmp(name, "id", 2) == 0))
		{
			/* checked by walk_generic */
			emit(w, WJB_VALUE, &v);
			continue;
		}
		if ((len == 4 && memcmp(name, "meta", 4) == 0) ||
			(len == 13 && memcmp(name, "implicitRules", 13) == 0) ||
			(len == 8 && memcmp(name, "language", 8) == 0) ||
			(len == 4 && memcmp(name, "text", 4) == 0) ||
			(len == 9 && memcmp(name, "extension", 9) == 0) ||
			(len == 17 && memcmp(name, "modifierExtension", 17) == 0))
			el = find_element(task, name, len);
		if (el != NULL)
		{
			uint8		seen = 0;

			saved = path_push_element(w, el, task);
			walk_element(w, task, el, &v, CAP_NONE, &seen, NULL, NULL);
		}
		else
		{
			saved = path_push(w, name, len);
			walk_generic_value(w, &v, len == 9 && memcmp(name, "reference", 9) == 0);
		}
		path_pop(w, saved);
	}
	emit(w, WJB_END_OBJECT, NULL);
	w->depth--;
}

/*
 * True when the resourceType or id of a contained resource is a non-empty
 * JSON string; otherwise reports why, at the walker's path.
 */
static bool
contained_key_shape(Walker *w, const JsonbValue *v)
{
	if (v->type == jbvNull)
		walk_error(w, "structure", "null is not allowed in FHIR JSON");
	else if (v->type != jbvString)
		walk_error(w, "structure", "expected a JSON string, found %s", json_type_name(v));
	else if (v->val.string.len == 0)
		walk_error(w, "structure", "empty strings are not allowed in FHIR JSON");
	else
		return true;
	return false;
}

/*
 * Walks one contained resource: it needs a resourceType that is a concrete
 * R4 resource type and an id, must not itself contain resources (dom-2),
 * nor carry meta.versionId/lastUpdated (dom-4) or meta.security (dom-5).
 * A contained Task is validated in full; other types have their
 * DomainResource elements checked (walk_contained_other).
 */
static void
walk_generic(Walker *w, JsonbValue *v)
{
	JsonbContainer *c = v->val.binary.data;
	JsonbValue *rt,
			   *id,
			   *meta;
	ContainedRes *cr = palloc0(sizeof(ContainedRes));
	int			outer = w->cur_contained;

	cr->index = w->nsegs > 0 && w->segs[w->nsegs - 1].kind == SEG_INDEX ?
		w->segs[w->nsegs - 1].len : 0;
	rt = getKeyJsonValueFromContainer(c, "resourceType", 12, NULL);
	id = getKeyJsonValueFromContainer(c, "id", 2, NULL);
	if (rt == NULL)
		walk_error(w, "required", "a contained resource needs a resourceType");
	else
	{
		int			saved = path_push(w, "resourceType", 12);

		if (contained_key_shape(w, rt))
		{
			cr->rtype = pnstrdup(rt->val.string.val, rt->val.string.len);
			if (!is_resource_type(cr->rtype))
			{
				walk_error(w, "structure", "%s is not an R4 resource type",
						   fhir_quoted(rt->val.string.val, rt->val.string.len));
				cr->rtype = NULL;
			}
		}
		path_pop(w, saved);
	}
	if (id == NULL)
		walk_error(w, "required", "a contained resource needs an id");
	else
	{
		int			saved = path_push(w, "id", 2);
		const char *why;

		if (!contained_key_shape(w, id))
			;
		else if (!fhir_check_string(FP_ID, id->val.string.val, id->val.string.len, &why))
			walk_error(w, "value", "%s is not a valid id: %s",
					   fhir_quoted(id->val.string.val, id->val.string.len), why);
		else
		{
			cr->id = pnstrdup(id->val.string.val, id->val.string.len);
			w->contained = lappend(w->contained, cr);
		}
		path_pop(w, saved);
	}
	if (getKeyJsonValueFromContainer(c, "contained", 9, NULL) != NULL)
		walk_error(w, "invariant", "a contained resource must not contain resources (dom-2)");
	meta = getKeyJsonValueFromContainer(c, "meta", 4, NULL);
	if (meta && meta->type == jbvBinary && !JsonContainerIsArray(meta->val.binary.data))
	{
		JsonbContainer *mc = meta->val.binary.data;

		if (getKeyJsonValueFromContainer(mc, "versionId", 9, NULL) ||
			getKeyJsonValueFromContainer(mc, "lastUpdated", 11, NULL))
			walk_error(w, "invariant", "a contained resource must not have meta.versionId or meta.lastUpdated (dom-4)");
		if (getKeyJsonValueFromContainer(mc, "security", 8, NULL))
			walk_error(w, "invariant", "a contained resource must not have meta.security (dom-5)");
	}
	w->cur_contained = cr->index;
	if (w->depth >= FHIR_MAX_DEPTH)
		walk_error(w, "too-costly", "elements are nested more than %d deep",
				   FHIR_MAX_DEPTH);
	else if (JsonContainerSize(c) == 0)
		walk_error(w, "structure", "empty objects are not allowed in FHIR JSON");
	else if (cr->rtype && strcmp(cr->rtype, "Task") == 0)
		walk_object(w, c, &fhir_types[FHIR_T_TASK], CAP_NONE, ROLE_CONTAINED, NULL);
	else
		walk_contained_other(w, c);
	w->cur_contained = outer;
}

/* Checks the resourceType property of the root or a contained Task. */
static void
check_resource_type(Walker *w, JsonbValue *v)
{
	int			saved = path_push(w, "resourceType", 12);

	if (v->type != jbvString || v->val.string.len != 4 ||
		memcmp(v->val.string.val, "Task", 4) != 0)
	{
		if (v->type == jbvString)
			walk_error(w, "invalid", "resourceType must be \"Task\", not %s",
					   fhir_quoted(v->val.string.val, v->val.string.len));
		else
			walk_error(w, "structure", "resourceType must be the string \"Task\", found %s",
					   json_type_name(v));
	}
	path_pop(w, saved);
	emit(w, WJB_VALUE, v);
}

/* Server-owned keys of the root that a normalised copy replaces. */
static bool
root_key_replaced(const Walker *w, const FhirElement *el)
{
	return EL_IS(el, id) ||
		(EL_IS(el, lastModified) && (w->norm == NULL || !w->norm->keep_last_modified));
}

/*
 * True when the root element name (a JSON key of Task) may be left out of
 * the validation of an update that leaves it as it was stored
 * (task_trigger.c): a complex element (no primitive, no _twin, no choice
 * member) whose subtree yields no Task fact (child_cap() is CAP_NONE, and
 * none of the has_* flags of walk_object()) and that no rule of the root
 * relates to another element; not meta (server-owned keys) and not
 * contained (dom-2..5, local references).  Its validity depends on its own
 * subtree only, given that the Task has no contained resources.
 */
bool
fhir_task_root_element_trusted(const char *name, int len)
{
	const FhirType *t = &fhir_types[FHIR_T_TASK];
	const FhirElement *el = find_element(t, name, len);

	if (el == NULL || el->choice >= 0 || fhir_types[el->type].kind != FK_COMPLEX)
		return false;
	if (child_cap(CAP_ROOT, el) != CAP_NONE)
		return false;
	return !(EL_IS(el, meta) || EL_IS(el, contained) || EL_IS(el, owner) ||
			 EL_IS(el, for) || EL_IS(el, requester) || EL_IS(el, statusReason));
}

/*
 * True when the root's member el is one that inv-1 compares (authoredOn,
 * lastModified: the walk needs the instant it denotes), so that it cannot
 * take the short way of the other single primitives of the root.
 */
static inline bool
root_member_compared(const FhirElement *el)
{
	return EL_IS(el, authoredOn) || EL_IS(el, lastModified);
}

/* Server-owned keys of root.meta. */
static bool
meta_key_replaced(const FhirElement *el)
{
	return EL_IS(el, versionId) || EL_IS(el, lastUpdated);
}

/* Compares two decimals captured from Quantity.value. */
static int
numeric_order(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/* True when two slices are both absent or have the same bytes. */
static bool
slice_same(FhirSlice a, FhirSlice b)
{
	if (a.s == NULL || b.s == NULL)
		return a.s == b.s;
	return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

/* A decimal as a double (infinite when beyond its range; never an error). */
static double
numeric_double(Numeric n)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(n)));
}

/*
 * True when quantity a is certainly above quantity b (rng-2: low <= high).
 * Quantities in the same unit -- the same system and code, or when neither
 * has a code, the same unit text (or none) -- compare as decimals.  Two UCUM
 * codes (system http://unitsofmeasure.org) of the same dimension compare
 * after conversion to base units (src/fhir_ucum.c), with a relative margin
 * of 1e-9 for the rounding of the conversion factors.  Anything else is
 * incomparable, and as in FHIRPath (where comparing such quantities gives
 * empty) not an error.
 */
static bool
quantity_above(const ObjResult *a, const ObjResult *b)
{
	FhirUcumUnit ua,
				ub;
	double		va,
				vb;

	if (a->code.s == NULL && b->code.s == NULL)
		return slice_same(a->unit, b->unit) && numeric_order(a->value, b->value) > 0;
	if (slice_same(a->code, b->code) && slice_same(a->system, b->system))
		return numeric_order(a->value, b->value) > 0;
	if (a->code.s == NULL || b->code.s == NULL ||
		!fhir_slice_eq(a->system, FHIR_UCUM_SYSTEM) ||
		!fhir_slice_eq(b->system, FHIR_UCUM_SYSTEM) ||
		!fhir_ucum_reduce(a->code.s, a->code.len, &ua) ||
		!fhir_ucum_reduce(b->code.s, b->code.len, &ub) ||
		!fhir_ucum_commensurable(&ua, &ub))
		return false;
	va = numeric_double(a->value) * ua.factor;
	vb = numeric_double(b->value) * ub.factor;
	if (isinf(va) || isinf(vb) || isnan(va) || isnan(vb))
		return false;
	return va - vb > 1e-9 * Max(fabs(va), fabs(vb));
}

/*
 * True when date/dateTime a is certainly before b.  Two values without a
 * time (so without a zone) are compared as calendar dates; otherwise a
 * zoneless date counts as any of the times it might mean, so an order is
 * reported only when it holds whatever the zone.
 */
static bool
when_before(const FhirWhen *a, const FhirWhen *b)
{
	FhirTimeRange ra = a->range,
				rb = b->range;

	if (!a->has_time && !b->has_time)
	{
		ra.lo += FHIR_UNZONED_SLACK;
		ra.hi -= FHIR_UNZONED_SLACK;
		rb.lo += FHIR_UNZONED_SLACK;
		rb.hi -= FHIR_UNZONED_SLACK;
	}
	return fhir_time_range_before(&ra, &rb);
}

/*
 * A repeating primitive and its "_twin" array line up position by position:
 * a null in one is allowed only where the other has something, and when
 * both are present they have the same length.
 */
static void
check_twin_alignment(Walker *w, JsonbContainer *c, const FhirType *t, const FhirElement *el)
{
	char	   *twin_name = psprintf("_%s", el->name);
	JsonbValue *values = getKeyJsonValueFromContainer(c, el->name, el->name_len, NULL);
	JsonbValue *twins = getKeyJsonValueFromContainer(c, twin_name, el->name_len + 1, NULL);
	JsonbContainer *vc = NULL,
			   *tc = NULL;
	uint32		nv = 0,
				nt = 0,
				i;
	int			saved;

	if (values && values->type == jbvBinary && JsonContainerIsArray(values->val.binary.data))
	{
		vc = values->val.binary.data;
		nv = JsonContainerSize(vc);
	}
	if (twins && twins->type == jbvBinary && JsonContainerIsArray(twins->val.binary.data))
	{
		tc = twins->val.binary.data;
		nt = JsonContainerSize(tc);
	}
	if (vc && tc && nv != nt)
	{
		saved = path_push_element(w, el, t);
		walk_error(w, "structure", "%s has %u entries but %s has %u: the two arrays must line up",
				   el->name, nv, twin_name, nt);
		path_pop(w, saved);
		return;
	}
	for (i = 0; i < Max(nv, nt); i++)
	{
		JsonbValue *v = vc ? getIthJsonbValueFromContainer(vc, i) : NULL;
		JsonbValue *x = tc ? getIthJsonbValueFromContainer(tc, i) : NULL;
		bool		v_empty = (v == NULL || v->type == jbvNull);
		bool		x_empty = (x == NULL || x->type == jbvNull);

		CHECK_FOR_INTERRUPTS();
		if (v_empty && x_empty)
		{
			saved = path_push_element(w, el, t);
			path_push_index(w, i);
			walk_error(w, "structure", "null is not allowed in FHIR JSON (only where the other of %s and %s has an entry)",
					   el->name, twin_name);
			path_pop(w, saved);
		}
	}
}

/* Reports required element el of type t as missing, at its own path. */
static void
report_missing(Walker *w, const FhirType *t, const FhirElement *el)
{
	int			saved = path_push_element(w, el, t);

	walk_error(w, "required", "required element %s is missing", el->name);
	path_pop(w, saved);
}

/*
 * Runs the checks that need the whole object: required elements and
 * choices, twin nulls, ele-1 and the invariants flagged on its type.
 * twin_or_null says whether any element has SEEN_TWIN or SEEN_NULL_ITEM;
 * when none has, only the required elements (a generated list) can raise
 * an issue in the element loop, so only those are visited.
 */
static void
finish_object(Walker *w, JsonbContainer *c, const FhirType *t, const uint8 *seen,
			  bool twin_or_null, const uint8 *choice_seen, int nkeys_not_id,
			  FhirWhen *start, FhirWhen *end, ObjResult *children,
			  bool has_value_member)
{
	int			i;

	if (!twin_or_null)
	{
		for (i = 0; i < t->nrequired; i++)
		{
			int			k = t->required[i];
			const FhirElement *el = &t->elements[k];

			if ((seen[k] & (SEEN_VALUE | SEEN_TWIN)) == 0)
				report_missing(w, t, el);
		}
	}
	else
	{
		for (i = 0; i < t->nelements; i++)
		{
			const FhirElement *el = &t->elements[i];

			if (el->min > 0 && (seen[i] & (SEEN_VALUE | SEEN_TWIN)) == 0)
				report_missing(w, t, el);
			if ((seen[i] & (SEEN_NULL_ITEM | SEEN_TWIN)) && el->many &&
				fhir_types[el->type].kind == FK_PRIMITIVE)
				check_twin_alignment(w, c, t, el);
		}
	}
	for (i = 0; i < t->nchoices; i++)
	{
		if (t->choices[i].min > 0 && choice_seen[i] == 0)
		{
			int			saved = path_push_choice_x(w, t->choices[i].name);

			walk_error(w, "required", "required element %s[x] is missing",
					   t->choices[i].name);
			path_pop(w, saved);
		}
	}
	if (nkeys_not_id == 0)
		walk_error(w, "invariant", "an element must have a value or children other than id (ele-1)");

	if ((t->flags & FT_INV_PER1) && start->text.s && end->text.s &&
		when_before(end, start))
		walk_error(w, "invariant", "period end %s is before its start %s (per-1)",
				   fhir_quoted(end->text.s, end->text.len),
				   fhir_quoted(start->text.s, start->text.len));
	if ((t->flags & FT_INV_INV1) && start->text.s && end->text.s &&
		when_before(end, start))
		walk_error(w, "invariant", "lastModified %s is before authoredOn %s (inv-1)",
				   fhir_quoted(end->text.s, end->text.len),
				   fhir_quoted(start->text.s, start->text.len));
	if ((t->flags & FT_INV_EXT1))
	{
		const FhirElement *ext = find_element(t, "extension", 9);
		bool		has_ext = ext && (seen[ext - t->elements] & SEEN_VALUE);

		if (has_ext == has_value_member)
			walk_error(w, "invariant", has_ext ?
					   "an extension must have either extensions or a value[x], not both (ext-1)" :
					   "an extension must have either extensions or a value[x] (ext-1)");
	}
	if (t->flags & (FT_INV_ATT1 | FT_INV_QTY3 | FT_INV_RAT1))
	{
#define HAS(name) (find_element(t, name, strlen(name)) && \
	(seen[find_element(t, name, strlen(name)) - t->elements] & (SEEN_VALUE | SEEN_TWIN)))
		if ((t->flags & FT_INV_ATT1) && HAS("data") && !HAS("contentType"))
			walk_error(w, "invariant", "an attachment with data needs a contentType (att-1)");
		if ((t->flags & FT_INV_QTY3) && HAS("code") && !HAS("system"))
			walk_error(w, "invariant", "a quantity with a code needs a system (qty-3)");
		if ((t->flags & FT_INV_RAT1) && HAS("numerator") != HAS("denominator"))
			walk_error(w, "invariant", "a ratio needs both numerator and denominator, or neither (rat-1)");
		if ((t->flags & FT_INV_RAT1) && !HAS("numerator") && !HAS("denominator") &&
			!HAS("extension"))
			walk_error(w, "invariant", "a ratio without numerator and denominator needs an extension (rat-1)");
#undef HAS
	}
	if ((t->flags & FT_INV_RNG2) && children[0].value && children[1].value &&
		quantity_above(&children[0], &children[1]))
		walk_error(w, "invariant", "range low is above range high (rng-2)");
}

/*
 * True when v, the value of element el of an object that nothing records
 * facts from, is a single primitive value with no issue at all (not even
 * a warning) and nothing to note: the common member, which the caller then
 * counts and copies without the general walk's bookkeeping (FHIRPath,
 * captures, instants, references).  False, having changed nothing, for
 * anything else: repeating and choice elements, numbers, "#id" references,
 * a value with any issue; the caller walks those the general way, which
 * reports every issue as it always has.
 */
static inline bool
plain_primitive_ok(const FhirElement *el, const JsonbValue *v)
{
	const FhirType *pt = &fhir_types[el->type];
	const char *why;
	const char *warn;
	const char *s;
	int			len;

	if (pt->kind != FK_PRIMITIVE || el->many || el->choice >= 0)
		return false;
	if (pt->prim == FP_BOOLEAN)
		return v->type == jbvBool;
	if (v->type != jbvString || v->val.string.len == 0)
		return false;
	s = v->val.string.val;
	len = v->val.string.len;
	if (s[0] == '#' &&
		(pt->prim == FP_CANONICAL || pt->prim == FP_URI || pt->prim == FP_URL))
		return false;
	if (!fhir_check_string_warn(pt->prim, s, len, &why, &warn) || warn != NULL)
		return false;
	return el->valueset < 0 ||
		code_in_valueset(&fhir_valuesets[el->valueset], s, len, &why);
}

/*
 * Walks one JSON object of type t.  role says whether it is the Task root
 * (whose server-owned keys are replaced), the root's meta, a contained Task
 * or anything else; cap says which Task facts are recorded below it.
 */
static void
walk_object(Walker *w, JsonbContainer *c, const FhirType *t, Cap cap,
			ObjRole role, ObjResult *out)
{
	ChildCursor keys,
				values;
	int			npairs = JsonContainerSize(c);
	int			pair;
	JsonbValue	key,
				v;
	uint8		seen[MAX_TYPE_ELEMENTS];
	uint8		choice_seen[MAX_TYPE_CHOICES];	/* 1 + index of the member seen */
	int			nkeys_not_id = 0;
	bool		twin_or_null = false;
	bool		has_value_member = false;
	bool		has_resource_type = false;
	FhirWhen	start,
				end;
	ObjResult	children[2];	/* Range low, high */
	bool		is_resource = (role == ROLE_ROOT || role == ROLE_CONTAINED);
	bool		twin_with_value = w->twin_with_value;
	int16		targets = w->ref_targets;

	/*
	 * Whether a member can take the short way (plain_primitive_ok()): an
	 * object whose members no invariant compares and nothing rewrites (a
	 * fact one holds is captured on the way; the root's members have a
	 * short way of their own).
	 */
	bool		plain = role == ROLE_PLAIN && out == NULL &&
		(t->flags & (FT_INV_PER1 | FT_INV_INV1 | FT_INV_RNG2)) == 0;

	w->twin_with_value = false;
	if (t->nelements > MAX_TYPE_ELEMENTS || t->nchoices > MAX_TYPE_CHOICES)
		elog(ERROR, "FHIR type \"%s\" has too many elements", t->name);
	/* the nesting is bounded (FHIR_MAX_DEPTH): a look every few levels will do */
	if ((w->depth & 7) == 0)
		check_stack_depth();
	memset(seen, 0, sizeof(seen));	/* a constant size: stores in line, no call */
	memset(choice_seen, 0, MAX_TYPE_CHOICES);
	/* what the invariants compare, only where the type has them */
	if (t->flags & (FT_INV_PER1 | FT_INV_INV1))
	{
		memset(&start, 0, sizeof(start));
		memset(&end, 0, sizeof(end));
	}
	if (t->flags & FT_INV_RNG2)
		memset(children, 0, sizeof(children));

	if (JsonContainerSize(c) == 0)
	{
		walk_error(w, "structure", "empty objects are not allowed in FHIR JSON");
		return;
	}
	w->depth++;
	emit(w, WJB_BEGIN_OBJECT, NULL);
	cursor_init(&keys, c, 2 * npairs, 0);
	cursor_init(&values, c, 2 * npairs, npairs);
	for (pair = 0; pair < npairs; pair++)
	{
		const char *name;
		int			len;
		bool		twin = false;
		const FhirElement *el;
		int			saved;
		bool		emitting;
		bool		replaced;
		bool		copied;
		FhirWhen   *when = NULL;
		ObjResult  *child_res = NULL;

		CHECK_FOR_INTERRUPTS();
		cursor_next_key(&keys, pair, &key);
		cursor_next(&values, npairs + pair, &v);
		name = key.val.string.val;
		len = key.val.string.len;

		/*
		 * A root pair the caller vouches for (an element an update left as
		 * stored, fhir_task_root_element_trusted()): seen, copied, not
		 * walked.
		 */
		if (role == ROLE_ROOT && w->root_copied && w->norm->trusted_pairs &&
			w->norm->trusted_pairs[pair] &&
			(el = find_element(t, name, len)) != NULL)
		{
			seen[el - t->elements] |= SEEN_VALUE;
			nkeys_not_id++;
			w->root_copied[pair] = true;
			continue;
		}

		if (is_resource && len == 12 && memcmp(name, "resourceType", 12) == 0)
		{
			has_resource_type = true;
			nkeys_not_id++;
			if (role == ROLE_ROOT && w->root_copied)
			{
				/* checked, then copied into the normalised copy as stored */
				emitting = w->emit;
				w->emit = false;
				w->root_copied[pair] = true;
				check_resource_type(w, &v);
				w->emit = emitting;
				continue;
			}
			emit(w, WJB_KEY, &key);
			check_resource_type(w, &v);
			continue;
		}
		if (len > 1 && name[0] == '_')
		{
			twin = true;
			name++;
			len--;
		}
		el = find_element(t, name, len);
		if (!twin && el != NULL &&
			(plain || (role == ROLE_ROOT && !root_member_compared(el))) &&
			plain_primitive_ok(el, &v))
		{
			/* what the general way below does for such a member */
			if (!EL_IS(el, id))
				nkeys_not_id++;
			seen[el - t->elements] |= SEEN_VALUE;
			w->ref_targets = el->targets;
			if (cap != CAP_NONE && v.type == jbvString)
				capture_string(w, cap, el, &v, NULL);
			if (role == ROLE_ROOT)
			{
				/*
				 * a Task fact (captured above), then left out of the copy
				 * (replaced) or copied into it as stored, never pushed
				 */
				replaced = root_key_replaced(w, el);
				if (!replaced && w->root_copied)
					w->root_copied[pair] = true;
				if (w->emit && (replaced || w->root_copied))
				{
					w->emit = (w->res->nerrors == 0);
					continue;
				}
			}
			emit(w, WJB_KEY, &key);
			emit(w, WJB_VALUE, &v);
			if ((t->flags & FT_INV_REF1) && EL_IS(el, reference))
			{
				/* ref-1 and the target type, reported at the element */
				saved = path_push_element(w, el, t);
				note_local_ref(w, &v, true, targets);
				check_reference_target(w, &v, targets);
				path_pop(w, saved);
			}
			continue;
		}
		if (el == NULL || (twin && fhir_types[el->type].kind != FK_PRIMITIVE))
		{
			/* once the issue list is full, an error is only counted */
			if (w->res->nissues >= FHIR_MAX_ISSUES)
			{
				walk_error(w, "structure", "unknown element");
				continue;
			}
			saved = path_push(w, key.val.string.val, key.val.string.len);
			walk_error(w, "structure", "unknown element %s in %s",
					   fhir_quoted(key.val.string.val, key.val.string.len), t->name);
			path_pop(w, saved);
			continue;
		}
		if (!EL_IS(el, id))
			nkeys_not_id++;
		seen[el - t->elements] |= twin ? SEEN_TWIN : SEEN_VALUE;
		if (twin)
			twin_or_null = true;
		if (el->choice >= 0)
		{
			/* a member given by its value, its _twin or both */
			uint8		member = (uint8) (el - t->elements + 1);

			has_value_member = true;
			if (choice_seen[el->choice] == 0)
				choice_seen[el->choice] = member;
			else if (choice_seen[el->choice] != member)
			{
				saved = path_push_element(w, el, t);
				walk_error(w, "structure", "only one %s[x] is allowed, found %s as well",
						   t->choices[el->choice].name, el->name);
				path_pop(w, saved);
				continue;
			}
		}

		/*
		 * Server-owned keys are validated but left out of the copy; the
		 * other pairs of the root but meta are copied into it as stored
		 * (validate()), so none of their tokens is pushed.
		 */
		emitting = w->emit;
		replaced = (role == ROLE_ROOT && !twin && root_key_replaced(w, el)) ||
			(role == ROLE_META && !twin && meta_key_replaced(el));
		copied = !replaced && role == ROLE_ROOT && w->root_copied &&
			!(!twin && EL_IS(el, meta));
		if (replaced || copied)
			w->emit = false;
		if (copied)
			w->root_copied[pair] = true;
		emit(w, WJB_KEY, &key);

		if ((t->flags & (FT_INV_PER1 | FT_INV_INV1)) && !twin)
		{
			if (EL_IS(el, start) || EL_IS(el, authoredOn))
				when = &start;
			else if (EL_IS(el, end) || EL_IS(el, lastModified))
				when = &end;
		}
		if ((t->flags & FT_INV_RNG2) && !twin)
		{
			if (EL_IS(el, low))
				child_res = &children[0];
			else if (EL_IS(el, high))
				child_res = &children[1];
		}
		if (child_res == NULL && !twin && out != NULL &&
			(EL_IS(el, value) || EL_IS(el, code) || EL_IS(el, system) ||
			 EL_IS(el, unit)))
			child_res = out;

		saved = path_push_element(w, el, t);
		if (twin)
			walk_twin(w, el, &v, getKeyJsonValueFromContainer(c, name, len, NULL));
		else if (role == ROLE_ROOT && EL_IS(el, meta) &&
				 v.type == jbvBinary && !JsonContainerIsArray(v.val.binary.data))
			walk_object(w, v.val.binary.data, &fhir_types[el->type], CAP_META,
						ROLE_META, NULL);
		else
		{
			walk_element(w, t, el, &v, cap, &seen[el - t->elements], when,
						 child_res);
			if (seen[el - t->elements] & SEEN_NULL_ITEM)
				twin_or_null = true;
			if ((t->flags & FT_INV_REF1) && EL_IS(el, reference) && v.type == jbvString)
			{
				note_local_ref(w, &v, true, targets);
				check_reference_target(w, &v, targets);
			}
			if (cap == CAP_ROOT)
			{
				if (EL_IS(el, owner))
					w->res->facts.has_owner = true;
				else if (EL_IS(el, for))
					w->res->facts.has_for = true;
				else if (EL_IS(el, requester))
					w->res->facts.has_requester = true;
				else if (EL_IS(el, statusReason))
					w->res->facts.has_status_reason = true;
			}
		}
		path_pop(w, saved);
		if (!emitting)
			w->emit = false;
		else if (replaced || copied)
			w->emit = (w->res->nerrors == 0);
	}

	if (is_resource && !has_resource_type)
	{
		int			saved = path_push(w, "resourceType", 12);

		walk_error(w, "required", "required element resourceType is missing");
		path_pop(w, saved);
	}
	/* an object of a type with nothing to check at the end skips the call */
	if (twin_or_null || t->nrequired > 0 || t->nchoices > 0 || t->flags != 0 ||
		(!twin_with_value && nkeys_not_id == 0))
		finish_object(w, c, t, seen, twin_or_null, choice_seen,
					  twin_with_value ? 1 : nkeys_not_id, &start, &end,
					  children, has_value_member);

	/* the server-owned keys of the normalised copy */
	if (w->emit && w->norm)
	{
		if (role == ROLE_META)
		{
			emit_string_member(w, "versionId", w->norm->version_id);
			emit_string_member(w, "lastUpdated", w->norm->last_updated);
		}
		else if (role == ROLE_ROOT)
		{
			JsonbValue	k;

			emit_string_member(w, "id", w->norm->id);
			if (!w->norm->keep_last_modified || !w->res->facts.last_modified.text.s)
				emit_string_member(w, "lastModified", w->norm->last_updated);
			/*
			 * Without authoredOn, the Task was authored when it was last
			 * modified: now, or the lastModified an import keeps (inv-1:
			 * lastModified >= authoredOn).
			 */
			if (!w->res->facts.authored_on.text.s)
				emit_string_member(w, "authoredOn",
								   w->norm->keep_last_modified && w->res->facts.last_modified.text.s ?
								   fhir_slice_cstring(w->res->facts.last_modified.text) :
								   w->norm->last_updated);
			if (!w->res->facts.priority.s)
				emit_string_member(w, "priority", "routine");
			if (w->norm->default_owner && !w->res->facts.has_owner)
				emit_reference_member(w, "owner", w->norm->default_owner,
									  &w->res->facts.owner_ref, &w->res->facts.has_owner);
			if (w->norm->default_requester && !w->res->facts.has_requester)
				emit_reference_member(w, "requester", w->norm->default_requester,
									  &w->res->facts.requester_ref, &w->res->facts.has_requester);
			if (!(seen[find_element(t, "meta", 4) - t->elements] & SEEN_VALUE))
			{
				k.type = jbvString;
				k.val.string.val = "meta";
				k.val.string.len = 4;
				pushJsonbValue(&w->out, WJB_KEY, &k);
				pushJsonbValue(&w->out, WJB_BEGIN_OBJECT, NULL);
				emit_string_member(w, "versionId", w->norm->version_id);
				emit_string_member(w, "lastUpdated", w->norm->last_updated);
				pushJsonbValue(&w->out, WJB_END_OBJECT, NULL);
			}
		}
	}
	emit(w, WJB_END_OBJECT, NULL);
	w->depth--;
}

/* Orders contained resources by id (then position), for qsort. */
static int
cmp_contained(const void *a, const void *b)
{
	const ContainedRes *x = *(ContainedRes *const *) a;
	const ContainedRes *y = *(ContainedRes *const *) b;
	int			c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* bsearch of an id (NUL-terminated) among contained resources sorted by id. */
static int
cmp_id_contained(const void *key, const void *entry)
{
	return strcmp((const char *) key, (*(ContainedRes *const *) entry)->id);
}

/* Orders LocalRef pointers by id, for qsort/bsearch. */
static int
cmp_ref_id(const void *a, const void *b)
{
	return strcmp((*(LocalRef *const *) a)->id, (*(LocalRef *const *) b)->id);
}

/*
 * Checks, in O(n log n) so that many references cannot make validation
 * slow: contained ids are unique; ref-1 (every "#id" Reference.reference
 * names a contained resource) and its target type; dom-3 (every contained
 * resource is referenced from elsewhere in the resource -- by a reference,
 * canonical or uri "#id" -- or itself refers to its container with "#").
 */
static void
check_local_refs(Walker *w)
{
	ListCell   *lc;
	ContainedRes **cont;
	ContainedRes **by_pos;
	int			maxindex = 0;
	LocalRef  **refs;
	int			ncont = list_length(w->contained),
				nrefs = list_length(w->local_refs),
				i;

	if (ncont == 0 && nrefs == 0)
		return;
	cont = palloc(sizeof(ContainedRes *) * (ncont + 1));
	i = 0;
	foreach(lc, w->contained)
	{
		cont[i] = lfirst(lc);
		maxindex = Max(maxindex, cont[i]->index);
		i++;
	}
	/* by position in Task.contained, for the "#" references found inside them */
	by_pos = palloc0(sizeof(ContainedRes *) * (maxindex + 1));
	for (i = 0; i < ncont; i++)
		by_pos[cont[i]->index] = cont[i];
	qsort(cont, ncont, sizeof(ContainedRes *), cmp_contained);
	for (i = 1; i < ncont; i++)
	{
		if (strcmp(cont[i]->id, cont[i - 1]->id) == 0 && !fhir_issues_full(w->res))
			fhir_add_issue(w->res, FHIR_SEV_ERROR, "invariant",
						   psprintf("Task.contained[%d].id", cont[i]->index),
						   "contained resources must have distinct ids: %s is also the id of Task.contained[%d]",
						   fhir_quoted(cont[i]->id, strlen(cont[i]->id)), cont[i - 1]->index);
	}

	refs = palloc(sizeof(LocalRef *) * (nrefs + 1));
	i = 0;
	foreach(lc, w->local_refs)
	{
		LocalRef   *r = lfirst(lc);
		ContainedRes **hit;

		CHECK_FOR_INTERRUPTS();
		refs[i++] = r;
		if (r->id[0] == '\0')
		{
			/* "#" is the container itself */
			if (r->from >= 0 && r->from <= maxindex && by_pos[r->from])
				by_pos[r->from]->refers_to_container = true;
			continue;
		}
		if (!r->is_reference)
			continue;
		hit = bsearch(r->id, cont, ncont, sizeof(ContainedRes *), cmp_id_contained);
		if (hit == NULL)
		{
			if (!fhir_issues_full(w->res))
				fhir_add_issue(w->res, FHIR_SEV_ERROR, "invariant", r->expression,
							   "reference %s does not name a contained resource (ref-1)",
							   fhir_quoted(r->id, strlen(r->id)));
		}
		else if (r->targets >= 0 && (*hit)->rtype &&
				 !target_allowed(r->targets, (*hit)->rtype) &&
				 !fhir_issues_full(w->res))
			fhir_add_issue(w->res, FHIR_SEV_ERROR, "structure", r->expression,
						   "reference \"#%s\" points at a contained %s, but this element may only point at %s",
						   r->id, (*hit)->rtype,
						   target_list(r->targets));
	}
	qsort(refs, nrefs, sizeof(LocalRef *), cmp_ref_id);
	for (i = 0; i < ncont; i++)
	{
		LocalRef	key;
		LocalRef   *keyp = &key;

		CHECK_FOR_INTERRUPTS();
		key.id = cont[i]->id;
		if (!cont[i]->refers_to_container &&
			bsearch(&keyp, refs, nrefs, sizeof(LocalRef *), cmp_ref_id) == NULL &&
			!fhir_issues_full(w->res))
			fhir_add_issue(w->res, FHIR_SEV_ERROR, "invariant",
						   psprintf("Task.contained[%d]", cont[i]->index),
						   "contained resource %s is not referenced from the Task (dom-3)",
						   fhir_quoted(cont[i]->id, strlen(cont[i]->id)));
	}
}

/*
 * The one walk: validates doc as a FHIR R4 Task and fills res; with norm,
 * it also builds res->normalized, the copy with the server-owned keys
 * replaced (only when valid).
 */
static void
validate(Jsonb *doc, const FhirNormalize *norm, FhirResult *res)
{
	Walker		w;

	memset(res, 0, offsetof(FhirResult, issues));
	memset(&res->facts, 0, sizeof(res->facts));
	res->normalized = NULL;

	memset(&w, 0, sizeof(w));
	w.res = res;
	w.norm = norm;
	w.emit = (norm != NULL);
	w.maxsegs = 32;
	w.segs = palloc(sizeof(PathSeg) * w.maxsegs);
	w.cur_contained = -1;
	w.ref_targets = -1;

	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
	{
		fhir_add_issue(res, FHIR_SEV_ERROR, "structure", "Task",
					   "a FHIR resource must be a JSON object");
		return;
	}
	if (norm)
		w.root_copied = palloc0(sizeof(bool) * JsonContainerSize(&doc->root));
	walk_object(&w, &doc->root, &fhir_types[FHIR_T_TASK], CAP_ROOT, ROLE_ROOT, NULL);
	check_local_refs(&w);

	/*
	 * The normalised copy: what the walk pushed (the server-owned keys,
	 * defaults and meta) and the other pairs of the root as they are
	 * stored, byte for byte -- unpacking them into tokens and encoding them
	 * again would only give the same bytes.
	 */
	if (norm && res->nerrors == 0 && w.emit && w.last != NULL)
	{
		JsonbPairs	pushed,
					stored;

		jsonb_pairs_init(&pushed, &JsonbValueToJsonb(w.last)->root);
		jsonb_pairs_init(&stored, &doc->root);
		res->normalized = jsonb_object_splice(&pushed, NULL, &stored, w.root_copied);
	}
}

/*
 * A FhirResult (large: every issue) in the scratch context *scratch of a
 * caller that validates one document after another.  The context is made
 * the first time, under TopMemoryContext, and emptied at every call; on
 * return it is the current context, and *outer the one to switch back to.
 */
FhirResult *
fhir_scratch_result(MemoryContext *scratch, MemoryContext *outer)
{
	if (*scratch == NULL)
		*scratch = AllocSetContextCreate(TopMemoryContext, "omnitask validation scratch",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(*scratch);
	*outer = MemoryContextSwitchTo(*scratch);
	return palloc(sizeof(FhirResult));
}

/* Validates doc as a FHIR R4 Task and fills res (no copy is built). */
void
fhir_validate_task(Jsonb *doc, FhirResult *res)
{
	validate(doc, NULL, res);
}

/*
 * Validates doc as a FHIR R4 Task and, in the same walk, normalises it:
 * when valid, res->normalized is the copy with the server-owned keys of
 * norm written in.  One pass does both, so the stored copy is exactly
 * the document that was validated.
 */
void
fhir_validate_and_normalize_task(Jsonb *doc, const FhirNormalize *norm, FhirResult *res)
{
	Assert(norm != NULL);
	validate(doc, norm, res);
}
