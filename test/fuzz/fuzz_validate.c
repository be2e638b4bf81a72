/*-------------------------------------------------------------------------
 *
 * fuzz_validate.c
 *	  Throws a large number of random and mutated JSON documents at
 *	  omnitask.validate_task() through libpq and checks that every one is
 *	  answered with an OperationOutcome and that the server never crashes.
 *
 * Build (from the project root; test/t/020_fuzz.pl does this):
 *	  gcc -O2 -Wall -Wextra -Werror -I$(pg_config --includedir) \
 *		  test/fuzz/fuzz_validate.c -L$(pg_config --libdir) -lpq \
 *		  -o test/tmp/fuzz_validate
 *
 * Run:
 *	  fuzz_validate [-s SEED] [-n DOCS] [-b BATCH] [-i INVALID] \
 *		  [-f FIXTURE_DIR] [-o OUT_DIR] [-q] [-x] CONNINFO
 *		  (-q: no progress lines; -x: skip the stress phase)
 *	  fuzz_validate -r FILE CONNINFO     replay: validate each line of FILE
 *	                                     alone and print the outcome
 *	  fuzz_validate -d [-s SEED] [-n DOCS] [-i INVALID]
 *	                                     print the documents (one a line),
 *	                                     then the invalid texts, without a
 *	                                     server
 *
 * Documents (all of them valid JSON, sent 2,000 at a time as one binary
 * text[] parameter and cast to jsonb inside the query):
 *	(a) structural mutations of the official examples (test/fixtures, read
 *		by a small JSON parser): values replaced by random or "interesting"
 *		JSON, members deleted, duplicated, renamed or inserted, values
 *		wrapped, unwrapped or nested up to 200 levels deep, huge strings (up
 *		to 100 KB), unicode and control escapes, edge-case numbers (1e308,
 *		-0, 99999999999999999999, ...), pieces of other examples spliced in,
 *		recursive FHIR structures (extension in extension, contained Task in
 *		contained Task, Reference.identifier.assigner ...);
 *	(b) fully random JSON values, about half of them Task-like objects built
 *		from FHIR property names with plausible or random values.
 * Then about 1,000 invalid JSON texts, one statement each, must fail with
 * SQLSTATE 22P02 (invalid_text_representation) and leave the connection
 * usable.  Last, a stress phase: a few fixed adversarial documents of a
 * few MB (long key paths in a contained resource, 40,000 local
 * references, a million nulls, 10 MB values, a narrative nested 300,000
 * deep, 40,000 contained resources sharing an id, 20,000 Ranges in UCUM
 * units, ...), each of which must be answered with an OperationOutcome in
 * under 5 seconds.  Narratives mix in the cases of issue 12 (HTML 4
 * elements and attributes, namespace prefixes, U+FFFE/U+FFFF, nesting far
 * past 100) and quantities random UCUM codes.
 *
 * The PRNG (splitmix64) is seeded from -s (default 20240601), so a failure
 * is reproducible: the same seed generates the same documents in the same
 * batches.  When a batch fails, its documents are tried one at a time to
 * find the culprits, which are written to OUT_DIR (one JSON text per line;
 * replay them with -r).
 *
 * Checked: every batch returns one row per document sent, and each says
 * the result is a jsonb object with resourceType "OperationOutcome" and a
 * non-empty issue array; unmutated examples come back valid; no statement
 * fails unexpectedly; pg_postmaster_start_time() is the same before and
 * after (no crash-restart); the connection still answers SELECT 1 at the
 * end.  Exit status 0 only if all of that holds.
 *
 * The last lines of output are "SUMMARY key=value ..." lines and one
 * "RESULT PASS" or "RESULT FAIL" line, for test/t/020_fuzz.pl.
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define TEXTOID			25
#define TEXTARRAYOID	1009

#define DEFAULT_SEED	UINT64_C(20240601)
#define DEFAULT_DOCS	1000000
#define DEFAULT_BATCH	2000
#define DEFAULT_INVALID	1000
#define MAX_NEST		200		/* deepest nesting a mutation adds */
#define MAX_HUGE		(100 * 1024)	/* longest huge string */
#define MAX_FIXTURES	64
#define MAX_MUTS		8
#define MAX_REPORTED	20		/* culprit documents kept per run */

/* ----------------------------------------------------------------
 *		Small utilities
 * ----------------------------------------------------------------
 */

static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_validate: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	printf("RESULT FAIL\n");
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growable byte buffer. */
typedef struct Buf
{
	char	   *p;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (b->len + extra + 1 > cap)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static void
buf_put(Buf *b, const void *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_puts(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void
buf_putc(Buf *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void
buf_printf(Buf *b, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

static void
buf_put_be32(Buf *b, uint32_t v)
{
	unsigned char c[4];

	c[0] = (unsigned char) (v >> 24);
	c[1] = (unsigned char) (v >> 16);
	c[2] = (unsigned char) (v >> 8);
	c[3] = (unsigned char) v;
	buf_put(b, c, 4);
}

/* ----------------------------------------------------------------
 *		PRNG: splitmix64
 * ----------------------------------------------------------------
 */
static uint64_t rng_state;

static uint64_t
rnd64(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t
rnd(uint32_t n)
{
	return n ? (uint32_t) (rnd64() % n) : 0;
}

/* True with probability num/den. */
static bool
chance(uint32_t num, uint32_t den)
{
	return rnd(den) < num;
}

#define PICK(arr) ((arr)[rnd(sizeof(arr) / sizeof((arr)[0]))])

/* ----------------------------------------------------------------
 *		The fixtures: a tiny JSON parser keeping raw scalar text
 * ----------------------------------------------------------------
 */
typedef enum NKind
{
	N_SCALAR,					/* null, true, false, number: raw text */
	N_STRING,					/* raw text including the quotes */
	N_ARRAY,
	N_OBJECT
} NKind;

typedef struct Node
{
	NKind		kind;
	const char *raw;			/* scalars and strings */
	size_t		rawlen;
	int			nkids;
	struct Node **kids;
	const char **keys;			/* objects: raw keys including quotes */
	size_t	   *keylens;
	int			pre;			/* preorder index in its document */
} Node;

typedef struct Fixture
{
	char	   *name;
	char	   *text;
	Node	   *root;
	Node	  **flat;			/* every node, by preorder index */
	int			nflat;
} Fixture;

static Fixture fixtures[MAX_FIXTURES];
static int nfixtures;

/* Every distinct key of the fixtures (raw, with quotes). */
static const char **fixture_keys;
static size_t *fixture_keylens;
static int nfixture_keys;

typedef struct Parser
{
	const char *s;
	size_t		i;
	size_t		len;
	const char *name;
	Fixture    *fx;
} Parser;

static void
p_space(Parser *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
							 p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static void
p_fail(Parser *p, const char *what)
{
	die("%s: JSON parse error at byte %zu: %s", p->name, p->i, what);
}

/* Scans a string at p->i (a '"'); returns its raw length with quotes. */
static size_t
p_string(Parser *p)
{
	size_t		start = p->i;

	p->i++;
	while (p->i < p->len && p->s[p->i] != '"')
	{
		if ((unsigned char) p->s[p->i] < 0x20)
			p_fail(p, "control character in a string");
		if (p->s[p->i] == '\\')
			p->i++;
		p->i++;
	}
	if (p->i >= p->len)
		p_fail(p, "unterminated string");
	p->i++;
	return p->i - start;
}

static void
remember_key(const char *k, size_t n)
{
	int			i;

	for (i = 0; i < nfixture_keys; i++)
		if (fixture_keylens[i] == n && memcmp(fixture_keys[i], k, n) == 0)
			return;
	fixture_keys = xrealloc(fixture_keys, sizeof(char *) * (nfixture_keys + 1));
	fixture_keylens = xrealloc(fixture_keylens, sizeof(size_t) * (nfixture_keys + 1));
	fixture_keys[nfixture_keys] = k;
	fixture_keylens[nfixture_keys] = n;
	nfixture_keys++;
}

static Node *
p_value(Parser *p, int depth)
{
	Node	   *n = xmalloc(sizeof(Node));
	Fixture    *fx = p->fx;

	memset(n, 0, sizeof(*n));
	if (depth > 100)
		p_fail(p, "too deep");
	n->pre = fx->nflat;
	fx->flat = xrealloc(fx->flat, sizeof(Node *) * (fx->nflat + 1));
	fx->flat[fx->nflat++] = n;

	p_space(p);
	if (p->i >= p->len)
		p_fail(p, "unexpected end");
	if (p->s[p->i] == '"')
	{
		n->kind = N_STRING;
		n->raw = p->s + p->i;
		n->rawlen = p_string(p);
	}
	else if (p->s[p->i] == '[' || p->s[p->i] == '{')
	{
		bool		obj = p->s[p->i] == '{';
		char		close = obj ? '}' : ']';

		n->kind = obj ? N_OBJECT : N_ARRAY;
		p->i++;
		p_space(p);
		if (p->i < p->len && p->s[p->i] == close)
		{
			p->i++;
			return n;
		}
		for (;;)
		{
			n->kids = xrealloc(n->kids, sizeof(Node *) * (n->nkids + 1));
			if (obj)
			{
				p_space(p);
				if (p->i >= p->len || p->s[p->i] != '"')
					p_fail(p, "expected a key");
				n->keys = xrealloc(n->keys, sizeof(char *) * (n->nkids + 1));
				n->keylens = xrealloc(n->keylens, sizeof(size_t) * (n->nkids + 1));
				n->keys[n->nkids] = p->s + p->i;
				n->keylens[n->nkids] = p_string(p);
				remember_key(n->keys[n->nkids], n->keylens[n->nkids]);
				p_space(p);
				if (p->i >= p->len || p->s[p->i] != ':')
					p_fail(p, "expected ':'");
				p->i++;
			}
			n->kids[n->nkids++] = p_value(p, depth + 1);
			p_space(p);
			if (p->i < p->len && p->s[p->i] == ',')
			{
				p->i++;
				continue;
			}
			if (p->i < p->len && p->s[p->i] == close)
			{
				p->i++;
				break;
			}
			p_fail(p, "expected ',' or a closing bracket");
		}
	}
	else
	{
		size_t		start = p->i;

		while (p->i < p->len && strchr("+-0123456789.eEtruefalsn", p->s[p->i]))
			p->i++;
		if (p->i == start)
			p_fail(p, "unexpected character");
		n->kind = N_SCALAR;
		n->raw = p->s + start;
		n->rawlen = p->i - start;
	}
	return n;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
load_fixtures(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	   *names[MAX_FIXTURES];
	int			n = 0,
				i;

	if (d == NULL)
		die("cannot open fixture directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
	{
		size_t		l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0 && n < MAX_FIXTURES)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_names);
	for (i = 0; i < n; i++)
	{
		Fixture    *fx = &fixtures[nfixtures];
		char		path[4096];
		FILE	   *f;
		long		sz;
		Parser		p;
		size_t		j;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "rb");
		if (f == NULL)
			die("cannot open %s: %s", path, strerror(errno));
		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		fseek(f, 0, SEEK_SET);
		fx->text = xmalloc((size_t) sz + 1);
		if (fread(fx->text, 1, (size_t) sz, f) != (size_t) sz)
			die("cannot read %s", path);
		fclose(f);
		fx->text[sz] = '\0';
		/* keep it one line: raw newlines between tokens become spaces */
		for (j = 0; j < (size_t) sz; j++)
			if (fx->text[j] == '\n' || fx->text[j] == '\r')
				fx->text[j] = ' ';
		fx->name = names[i];
		memset(&p, 0, sizeof(p));
		p.s = fx->text;
		p.len = (size_t) sz;
		p.name = names[i];
		p.fx = fx;
		fx->root = p_value(&p, 0);
		p_space(&p);
		if (p.i != p.len)
			p_fail(&p, "trailing content");
		nfixtures++;
	}
	if (nfixtures == 0)
		die("no *.json fixtures in %s", dir);
}

/* ----------------------------------------------------------------
 *		Vocabulary
 * ----------------------------------------------------------------
 */
static const char *const fhir_keys[] = {
	"resourceType", "id", "meta", "implicitRules", "language", "text",
	"contained", "extension", "modifierExtension", "identifier",
	"instantiatesCanonical", "instantiatesUri", "basedOn", "groupIdentifier",
	"partOf", "status", "statusReason", "businessStatus", "intent",
	"priority", "code", "description", "focus", "for", "encounter",
	"executionPeriod", "authoredOn", "lastModified", "requester",
	"performerType", "owner", "location", "reasonCode", "reasonReference",
	"insurance", "note", "relevantHistory", "restriction", "input", "output",
	"repetitions", "period", "recipient", "type", "url", "valueString",
	"valueCode", "valueInteger", "valueDecimal", "valueBoolean", "valueDate",
	"valueDateTime", "valueInstant", "valueTime", "valueUri", "valueUrl",
	"valueCanonical", "valueUuid", "valueOid", "valueId", "valueMarkdown",
	"valueBase64Binary", "valuePositiveInt", "valueUnsignedInt",
	"valuePeriod", "valueRange", "valueRatio", "valueQuantity", "valueAge",
	"valueDuration", "valueCount", "valueDistance", "valueMoney",
	"valueReference", "valueCodeableConcept", "valueCoding",
	"valueIdentifier", "valueAttachment", "valueHumanName", "valueAddress",
	"valueContactPoint", "valueTiming", "valueSignature", "valueAnnotation",
	"valueSampledData", "valueMeta", "valueDosage", "valueExpression",
	"valueUsageContext", "valueBogus", "value", "low", "high", "numerator",
	"denominator", "start", "end", "reference", "display", "system",
	"version", "userSelected", "coding", "use", "assigner", "comparator",
	"unit", "currency", "contentType", "data", "size", "hash", "title",
	"creation", "div", "versionId", "lastUpdated", "source", "profile",
	"security", "tag", "authorString", "authorReference", "time", "given",
	"family", "prefix", "line", "city", "repeat", "boundsPeriod", "event",
	"frequency", "origin", "dimensions", "_status", "_intent", "_given",
	"_line", "_id", "_url", "_value", "_div", "_authoredOn", "_description",
	"_priority", "_event", "_code", "bogusKey", "", "valueString ",
	"ValueString", "value[x]", "status\u00e9",
};

static const char *const task_status[] = {
	"draft", "requested", "received", "accepted", "rejected", "ready",
	"cancelled", "in-progress", "on-hold", "failed", "completed",
	"entered-in-error", "bogus-code", "Draft", " draft", "draft "
};
static const char *const task_intent[] = {
	"unknown", "proposal", "plan", "order", "original-order", "reflex-order",
	"filler-order", "instance-order", "option", "directive", "ORDER"
};
static const char *const misc_codes[] = {
	"routine", "urgent", "asap", "stat", "usual", "official", "temp",
	"secondary", "old", "generated", "extensions", "additional", "empty",
	"<", "<=", ">=", ">", "=", "en-US", "EUR", "eur", "text/plain",
	"application/fhir+json", "text/plain; charset=utf-8", "text/", "bogus"
};
/* UCUM codes, valid and not, for Quantity.code (rng-2 converts units). */
static const char *const ucum_codes[] = {
	"mg", "g", "kg", "[lb_av]", "mg/dL", "g/L", "10*3/uL", "/uL", "mm[Hg]",
	"kPa", "Cel", "K", "[degF]", "%", "1", "{tbl}", "mg{total}", "h", "min",
	"m2.s-1/(kg.(mol))", "((((((((((m))))))))))", "m999", "10*-99", "[IU]",
	"bogus", "", "(", "/", ".", "m-", "[in_i", "{x", "dam", "cd", "Pa", "ug"
};

static const char *const resource_types[] = {
	"Task", "Task", "Task", "Patient", "Provenance", "Practitioner",
	"Organization", "task", "", "Bundle", "OperationOutcome", "Foo",
	"DomainResource", "Resource", "ActivityDefinition"
};
static const char *const type_names[] = {
	"String", "Code", "Integer", "Decimal", "Boolean", "Date", "DateTime",
	"Instant", "Time", "Uri", "Url", "Canonical", "Uuid", "Oid", "Id",
	"Markdown", "Base64Binary", "PositiveInt", "UnsignedInt", "Period",
	"Range", "Ratio", "Quantity", "Age", "Duration", "Count", "Distance",
	"Money", "Reference", "CodeableConcept", "Coding", "Identifier",
	"Attachment", "HumanName", "Address", "ContactPoint", "Timing",
	"Signature", "Annotation", "SampledData", "Meta", "Dosage", "Expression",
	"UsageContext", "Narrative", "Extension", "Element", "Bogus", "string"
};

/* String escapes and multi-byte characters that keep JSON and UTF-8 valid
 * and that jsonb accepts (no \u0000, no lone surrogates). */
static const char *const string_atoms[] = {
	"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0001",
	"\\u0002", "\\u001f", "\\u007f", "\\u0085", "\\u00a0", "\\u00e9",
	"\\u2028", "\\u2029", "\\ufeff", "\\ufffe", "\\uffff", "\\ud83d\\ude00",
	"\\udbff\\udfff", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
	"\xef\xbb\xbf", "\xc2\x85", "\xe2\x80\xae", "\xf4\x8f\xbf\xbf", " ", " ",
	"<", ">", "&", "&amp;", "&#0;", "&#x110000;", "#", "%", "'", "--", "]]>",
	"T", "Z", ":", "-", "+", ".", "0", "9", "e", "E", "a", "z", "A", "/",
};

static const char *const interesting_numbers[] = {
	"0", "-0", "1", "-1", "0.0", "-0.0", "1.0", "1.5", "1e308", "-1e308",
	"1E+308", "1e-308", "1e-400", "1e400", "2.2250738585072014e-308",
	"4.9e-324", "99999999999999999999", "-99999999999999999999",
	"2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295",
	"4294967296", "9223372036854775807", "9223372036854775808",
	"18446744073709551616", "0.1", "1e2", "1E2", "1e-7", "123.4560",
	"0.000000000000000000000000000001",
	"123456789012345678901234567890.123456789012345678901234567890",
};

static const char *const interesting_strings[] = {
	"", " ", "  ", "\\t", "\\n", "x", "#", "#signature", "#x", "Patient/1",
	"Patient/", "/", "http://", "urn:oid:1.2.3", "urn:uuid:", "2016-10-31",
	"2016-10-31T08:25:05+10:00", "2016-10-31T08:25:05Z", "2023-02-29",
	"2024-02-29", "2023-02-30T10:00:00Z", "2023-01-01T10:00", "2023-13-01",
	"0000-01-01", "9999-12-31T23:59:59.999999999+14:00", "2023-01-01T24:00:00Z",
	"2023-01-01T23:59:60Z", "2023-01-01T10:00:00+15:00", "2023", "2023-01",
	"2023-1-1", "10:00:00", "25:00:00", "true", "false", "null", "0", "1e308",
	"-0", "in-progress", "draft", "order", "bogus-code", "Task", "\\u0001",
	"\\u00e9\\u00e9\\u00e9", "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">x</div>",
	"<div>x</div>", "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><script>x</script></div>",
	"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><a href=\\\"javascript:x\\\">x</a></div>",
	"dGhpcyBibG9iIGlzIHNuaXBwZWQ=", "dGhpcyBibG9", "====", "text/plain",
	"\xf0\x9f\x98\x80", "\\ud83d\\ude00",
};

/* ----------------------------------------------------------------
 *		Random JSON
 * ----------------------------------------------------------------
 */
static void gen_value(Buf *b, int depth, const char *key);

/* A random string body (no quotes), about maxlen bytes at most. */
static void
gen_string_body(Buf *b, size_t maxlen)
{
	size_t		n,
				start = b->len;

	switch (rnd(10))
	{
		case 0:
		case 1:
			buf_puts(b, PICK(interesting_strings));
			return;
		case 2:
			buf_puts(b, PICK(task_status));
			return;
		case 3:
			/* around the 64-byte cut of quoted diagnostics, multi-byte */
			n = 60 + rnd(10);
			while (b->len - start < n)
				buf_puts(b, chance(1, 2) ? "\xc3\xa9" : "\xe4\xb8\xad");
			return;
		default:
			break;
	}
	n = rnd((uint32_t) maxlen + 1);
	while (b->len - start < n)
	{
		if (chance(3, 4))
		{
			char		c = (char) (0x20 + rnd(0x5f));

			if (c == '"' || c == '\\')
				c = 'q';
			buf_putc(b, c);
		}
		else
			buf_puts(b, PICK(string_atoms));
	}
}

static void
gen_string(Buf *b, size_t maxlen)
{
	buf_putc(b, '"');
	gen_string_body(b, maxlen);
	buf_putc(b, '"');
}

static void
gen_huge_string(Buf *b)
{
	size_t		n = 1 + rnd(MAX_HUGE),
				start;

	buf_putc(b, '"');
	if (chance(1, 3))
		buf_puts(b, "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">");
	start = b->len;
	buf_reserve(b, n + 16);
	while (b->len - start < n)
	{
		if (chance(1, 50))
			buf_puts(b, PICK(string_atoms));
		else
			buf_putc(b, (char) ('a' + rnd(26)));
	}
	if (chance(1, 3))
		buf_puts(b, "</div>");
	buf_putc(b, '"');
}

static void
gen_number(Buf *b)
{
	if (chance(1, 5000))
	{
		/* the extremes numeric accepts: numeric_out makes them long */
		buf_puts(b, PICK(((const char *const[]) {"1e131071", "-9.99e131070", "1e-16383", "-1e-16383"})));
		return;
	}
	switch (rnd(4))
	{
		case 0:
			buf_puts(b, PICK(interesting_numbers));
			break;
		case 1:
			buf_printf(b, "%d", (int) rnd(100));
			break;
		case 2:
			{
				int			digits = 1 + (int) rnd(40),
							i;

				if (chance(1, 3))
					buf_putc(b, '-');
				buf_putc(b, (char) ('1' + rnd(9)));
				for (i = 1; i < digits; i++)
					buf_putc(b, (char) ('0' + rnd(10)));
				if (chance(1, 2))
				{
					buf_putc(b, '.');
					digits = 1 + (int) rnd(20);
					for (i = 0; i < digits; i++)
						buf_putc(b, (char) ('0' + rnd(10)));
				}
				if (chance(1, 3))
					buf_printf(b, "e%s%d", chance(1, 2) ? "-" : (chance(1, 2) ? "+" : ""),
							   (int) rnd(400));
				break;
			}
		default:
			buf_printf(b, "%s%u.%u", chance(1, 4) ? "-" : "", rnd(100000), rnd(1000));
			break;
	}
}

/* A date, dateTime, instant or time-ish string, often subtly wrong. */
static void
gen_date(Buf *b)
{
	static const char *const zones[] = {
		"Z", "+10:00", "-04:00", "+14:00", "-14:00", "+15:00", "+00:00",
		"-00:00", "+1000", "", "z", "+10:60"
	};
	int			y = chance(1, 10) ? (int) rnd(10000) : 1990 + (int) rnd(50);
	int			m = chance(1, 10) ? (int) rnd(14) : 1 + (int) rnd(12);
	int			d = chance(1, 10) ? (int) rnd(33) : 1 + (int) rnd(31);

	buf_putc(b, '"');
	switch (rnd(6))
	{
		case 0:
			buf_printf(b, "%04d", y);
			break;
		case 1:
			buf_printf(b, "%04d-%02d", y, m);
			break;
		case 2:
			buf_printf(b, "%04d-%02d-%02d", y, m, d);
			break;
		default:
			buf_printf(b, "%04d-%02d-%02dT%02d:%02d", y, m, d,
					   (int) rnd(chance(1, 10) ? 26 : 24), (int) rnd(61));
			if (chance(9, 10))
				buf_printf(b, ":%02d", (int) rnd(chance(1, 10) ? 62 : 60));
			if (chance(1, 4))
			{
				int			k = 1 + (int) rnd(12);

				buf_putc(b, '.');
				while (k-- > 0)
					buf_putc(b, (char) ('0' + rnd(10)));
			}
			buf_puts(b, chance(9, 10) ? PICK(zones) : "");
			break;
	}
	buf_putc(b, '"');
}

static void
gen_key(Buf *b)
{
	switch (rnd(10))
	{
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			buf_printf(b, "\"%s\"", PICK(fhir_keys));
			break;
		case 5:
			{
				int			k = (int) rnd((uint32_t) nfixture_keys);

				buf_put(b, fixture_keys[k], fixture_keylens[k]);
				break;
			}
		case 6:
			buf_printf(b, "\"_%s\"", PICK(fhir_keys));
			break;
		case 7:
			buf_printf(b, "\"%s%s\"",
					   PICK(((const char *const[]) {"value", "author", "bounds", "occurrence", "x"})),
					   PICK(type_names));
			break;
		default:
			gen_string(b, 12);
			break;
	}
}

/* Emits a key string (without quotes) as a JSON key. */
static void
put_key(Buf *b, const char *k)
{
	buf_printf(b, "\"%s\":", k);
}

static void gen_object_with(Buf *b, int depth, int nmembers);

static void
gen_coding(Buf *b)
{
	buf_puts(b, "{\"system\":");
	gen_string(b, 30);
	buf_puts(b, ",\"code\":");
	gen_string(b, 12);
	if (chance(1, 2))
	{
		buf_puts(b, ",\"display\":");
		gen_string(b, 20);
	}
	buf_putc(b, '}');
}

static void
gen_quantity(Buf *b)
{
	buf_puts(b, "{\"value\":");
	if (chance(9, 10))
		gen_number(b);
	else
		gen_string(b, 5);
	if (chance(1, 3))
		buf_printf(b, ",\"comparator\":\"%s\"", PICK(misc_codes));
	if (chance(1, 2))
		buf_puts(b, ",\"unit\":\"mg\"");
	if (chance(1, 2))
		buf_puts(b, ",\"system\":\"http://unitsofmeasure.org\"");
	if (chance(1, 2))
		buf_printf(b, ",\"code\":\"%s\"", PICK(ucum_codes));
	if (chance(1, 4))
		buf_printf(b, ",\"currency\":\"%s\"", PICK(misc_codes));
	buf_putc(b, '}');
}

static void
gen_period(Buf *b)
{
	buf_putc(b, '{');
	if (chance(4, 5))
	{
		buf_puts(b, "\"start\":");
		gen_date(b);
	}
	if (chance(4, 5))
	{
		buf_puts(b, b->p[b->len - 1] == '{' ? "\"end\":" : ",\"end\":");
		gen_date(b);
	}
	if (b->p[b->len - 1] == '{' && chance(1, 2))
		buf_puts(b, "\"id\":\"p\"");
	buf_putc(b, '}');
}

static void
gen_extension_list(Buf *b, int depth)
{
	int			n = 1 + (int) rnd(3),
				i;

	buf_putc(b, '[');
	for (i = 0; i < n; i++)
	{
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '{');
		if (chance(9, 10))
			buf_printf(b, "\"url\":\"http://example.org/ext/%u\",", rnd(5));
		if (chance(1, 4) && depth < 30)
		{
			buf_puts(b, "\"extension\":");
			gen_extension_list(b, depth + 1);
		}
		else
		{
			buf_printf(b, "\"value%s\":", PICK(type_names));
			gen_value(b, depth + 1, NULL);
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

/* A contained resource (or a list of them). */
static void
gen_resource(Buf *b, int depth)
{
	const char *rt = PICK(resource_types);

	buf_printf(b, "{\"resourceType\":\"%s\"", rt);
	if (chance(9, 10))
		buf_printf(b, ",\"id\":\"%s\"", PICK(((const char *const[]) {"signature", "c1", "x", "p", "a b", ""})));
	if (strcmp(rt, "Task") == 0)
		buf_printf(b, ",\"status\":\"%s\",\"intent\":\"%s\"", PICK(task_status), PICK(task_intent));
	if (chance(1, 2) && depth < 40)
	{
		int			n = (int) rnd(5),
					i;

		for (i = 0; i < n; i++)
		{
			buf_putc(b, ',');
			gen_key(b);
			buf_putc(b, ':');
			gen_value(b, depth + 1, NULL);
		}
	}
	buf_putc(b, '}');
}

/*
 * A value shaped for the given property name (without quotes), or NULL
 * when the name is not one we know about.  Returns false when it did not
 * generate anything.
 */
static bool
gen_plausible(Buf *b, int depth, const char *key)
{
	if (key == NULL)
		return false;
	if (key[0] == '_' && key[1])
	{
		/* a primitive's twin: an Element, or an array of them with nulls */
		if (chance(1, 3))
		{
			buf_puts(b, chance(1, 2) ? "[null,{\"id\":\"t\"}]" : "[null]");
			return true;
		}
		buf_puts(b, "{\"extension\":");
		gen_extension_list(b, depth + 1);
		buf_putc(b, '}');
		return true;
	}
	if (!strcmp(key, "extension") || !strcmp(key, "modifierExtension"))
		gen_extension_list(b, depth);
	else if (!strcmp(key, "status"))
		buf_printf(b, "\"%s\"", chance(3, 4) ? PICK(task_status) : PICK(misc_codes));
	else if (!strcmp(key, "intent"))
		buf_printf(b, "\"%s\"", PICK(task_intent));
	else if (!strcmp(key, "priority") || !strcmp(key, "use") ||
			 !strcmp(key, "comparator") || !strcmp(key, "currency") ||
			 !strcmp(key, "contentType") || !strcmp(key, "language"))
		buf_printf(b, "\"%s\"", PICK(misc_codes));
	else if (!strcmp(key, "start") || !strcmp(key, "end") ||
			 !strcmp(key, "authoredOn") || !strcmp(key, "lastModified") ||
			 !strcmp(key, "lastUpdated") || !strcmp(key, "time") ||
			 !strcmp(key, "valueDate") || !strcmp(key, "valueDateTime") ||
			 !strcmp(key, "valueInstant") || !strcmp(key, "valueTime") ||
			 !strcmp(key, "creation") || !strcmp(key, "event"))
		gen_date(b);
	else if (!strcmp(key, "executionPeriod") || !strcmp(key, "period") ||
			 !strcmp(key, "valuePeriod") || !strcmp(key, "boundsPeriod"))
		gen_period(b);
	else if (!strcmp(key, "low") || !strcmp(key, "high") ||
			 !strcmp(key, "numerator") || !strcmp(key, "denominator") ||
			 !strcmp(key, "valueQuantity") || !strcmp(key, "valueAge") ||
			 !strcmp(key, "valueDuration") || !strcmp(key, "valueMoney") ||
			 !strcmp(key, "origin"))
		gen_quantity(b);
	else if (!strcmp(key, "valueRange"))
	{
		buf_puts(b, "{\"low\":");
		gen_quantity(b);
		buf_puts(b, ",\"high\":");
		gen_quantity(b);
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "valueRatio"))
	{
		buf_putc(b, '{');
		if (chance(3, 4))
		{
			buf_puts(b, "\"numerator\":");
			gen_quantity(b);
		}
		if (chance(3, 4))
		{
			buf_puts(b, b->p[b->len - 1] == '{' ? "\"denominator\":" : ",\"denominator\":");
			gen_quantity(b);
		}
		if (b->p[b->len - 1] == '{')
			buf_puts(b, "\"id\":\"r\"");
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "coding"))
	{
		buf_putc(b, '[');
		gen_coding(b);
		buf_putc(b, ']');
	}
	else if (!strcmp(key, "valueCoding"))
		gen_coding(b);
	else if (!strcmp(key, "code") || !strcmp(key, "type") ||
			 !strcmp(key, "businessStatus") || !strcmp(key, "statusReason") ||
			 !strcmp(key, "valueCodeableConcept") || !strcmp(key, "performerType"))
	{
		bool		arr = !strcmp(key, "performerType");

		buf_puts(b, arr ? "[{\"coding\":[" : "{\"coding\":[");
		gen_coding(b);
		buf_puts(b, "]");
		if (chance(1, 2))
		{
			buf_puts(b, ",\"text\":");
			gen_string(b, 20);
		}
		buf_puts(b, arr ? "}]" : "}");
	}
	else if (!strcmp(key, "reference"))
	{
		buf_putc(b, '"');
		buf_puts(b, PICK(((const char *const[]) {"#signature", "#c1", "#", "#x", "Patient/example", "Practitioner/1", "", "Task/1/_history/2", "#p"})));
		buf_putc(b, '"');
	}
	else if (!strcmp(key, "for") || !strcmp(key, "owner") ||
			 !strcmp(key, "requester") || !strcmp(key, "focus") ||
			 !strcmp(key, "encounter") || !strcmp(key, "valueReference") ||
			 !strcmp(key, "authorReference") || !strcmp(key, "assigner") ||
			 !strcmp(key, "location"))
	{
		buf_puts(b, "{\"reference\":");
		gen_plausible(b, depth + 1, "reference");
		if (chance(1, 4) && depth < 60)
		{
			buf_puts(b, ",\"identifier\":{\"system\":\"http://x\",\"value\":\"1\",\"assigner\":");
			gen_plausible(b, depth + 2, "assigner");
			buf_putc(b, '}');
		}
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "basedOn") || !strcmp(key, "partOf") ||
			 !strcmp(key, "relevantHistory") || !strcmp(key, "reasonReference") ||
			 !strcmp(key, "recipient") || !strcmp(key, "insurance"))
	{
		buf_putc(b, '[');
		gen_plausible(b, depth + 1, "for");
		buf_putc(b, ']');
	}
	else if (!strcmp(key, "contained"))
	{
		int			n = 1 + (int) rnd(3),
					i;

		buf_putc(b, '[');
		for (i = 0; i < n; i++)
		{
			if (i)
				buf_putc(b, ',');
			gen_resource(b, depth + 1);
		}
		buf_putc(b, ']');
	}
	else if (!strcmp(key, "text"))
	{
		buf_printf(b, "{\"status\":\"%s\",\"div\":", PICK(misc_codes));
		gen_plausible(b, depth + 1, "div");
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "div"))
	{
		static const char *const inner[] = {
			"x", "", " ", "<p>a</p>", "<b>x", "</b>", "<img src=\"a\"/>",
			"<script>x</script>", "&amp;", "&bogus;", "&#x41;", "&#0;",
			"<a href=\"javascript:alert(1)\">x</a>", "<p onclick=\"x\">y</p>",
			"<!-- c -->", "<!-- a -- b -->", "<![CDATA[x]]>", "<p a=\"1\" a=\"2\">x</p>",
			"\\u0001", "]]>", "<table><tr><td>x</td></tr></table>",
			/* issue 12: HTML 4 elements and attributes, prefixes, non-characters */
			"<address>a</address>", "<bdo dir=\"rtl\">b</bdo>", "<kbd>k</kbd>",
			"<map name=\"m\"><area alt=\"a\" href=\"#m\"/></map>",
			"<a href=\"http://x\" target=\"_blank\">x</a>", "<p data-x=\"1\">x</p>",
			"<h:p xmlns:h=\"http://www.w3.org/1999/xhtml\">x</h:p>", "<h:p>x</h:p>",
			"<s:svg xmlns:s=\"http://www.w3.org/2000/svg\">x</s:svg>",
			"<a xlink:href=\"x\">x</a>", "\\uffff", "\\ufffe", "<p title=\"\\uffff\">x</p>",
			"<!-- \\ufffe -->", "\\u000b", "<p xml:lang=\"en\" lang=\"en\">x</p>",
		};
		int			n = (int) rnd(6),
					i;

		buf_puts(b, chance(9, 10) ? "\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">"
				 : "\"<div>");
		if (chance(1, 20))
		{
			/* around the old fixed limit of 100, and sometimes far past it */
			int			nest = chance(1, 4) ? 100 + (int) rnd(20000) : 90 + (int) rnd(20);

			for (i = 0; i < nest; i++)
				buf_puts(b, "<b>");
			buf_putc(b, 'x');
			for (i = 0; i < nest; i++)
				buf_puts(b, "</b>");
		}
		for (i = 0; i < n; i++)
		{
			const char *s = PICK(inner);

			for (; *s; s++)
			{
				if (*s == '"')
					buf_puts(b, "\\\"");
				else
					buf_putc(b, *s);
			}
		}
		buf_puts(b, chance(9, 10) ? "</div>\"" : "\"");
	}
	else if (!strcmp(key, "input") || !strcmp(key, "output"))
	{
		int			n = 1 + (int) rnd(3),
					i;

		buf_putc(b, '[');
		for (i = 0; i < n; i++)
		{
			if (i)
				buf_putc(b, ',');
			buf_puts(b, "{\"type\":{\"text\":\"t\"}");
			if (chance(9, 10))
			{
				char		vk[64];

				snprintf(vk, sizeof(vk), "value%s", PICK(type_names));
				buf_printf(b, ",\"%s\":", vk);
				gen_value(b, depth + 1, vk);
			}
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	else if (!strcmp(key, "note"))
	{
		buf_puts(b, "[{\"text\":");
		gen_string(b, 30);
		if (chance(1, 2))
		{
			buf_puts(b, chance(1, 2) ? ",\"authorString\":\"a\"" : ",\"authorReference\":{\"reference\":\"Practitioner/1\"}");
			if (chance(1, 4))
				buf_puts(b, ",\"authorString\":\"b\"");
		}
		if (chance(1, 2))
		{
			buf_puts(b, ",\"time\":");
			gen_date(b);
		}
		buf_puts(b, "}]");
	}
	else if (!strcmp(key, "identifier") || !strcmp(key, "groupIdentifier") ||
			 !strcmp(key, "valueIdentifier"))
	{
		bool		arr = !strcmp(key, "identifier") && chance(1, 2);

		buf_printf(b, "%s{\"use\":\"%s\",\"system\":\"http://x\",\"value\":", arr ? "[" : "",
				   PICK(misc_codes));
		gen_string(b, 10);
		if (chance(1, 4))
		{
			buf_puts(b, ",\"period\":");
			gen_period(b);
		}
		buf_puts(b, arr ? "}]" : "}");
	}
	else if (!strcmp(key, "meta") || !strcmp(key, "valueMeta"))
	{
		buf_puts(b, "{\"versionId\":\"1\",\"lastUpdated\":");
		gen_date(b);
		if (chance(1, 4))
			buf_puts(b, ",\"security\":[{\"system\":\"http://x\",\"code\":\"R\"}]");
		if (chance(1, 4))
			buf_puts(b, ",\"profile\":[\"http://x\",null]");
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "restriction"))
	{
		buf_puts(b, "{\"repetitions\":");
		gen_number(b);
		buf_puts(b, ",\"period\":");
		gen_period(b);
		buf_putc(b, '}');
	}
	else if (!strcmp(key, "repetitions") || !strcmp(key, "valueInteger") ||
			 !strcmp(key, "valuePositiveInt") || !strcmp(key, "valueUnsignedInt") ||
			 !strcmp(key, "valueDecimal") || !strcmp(key, "value") ||
			 !strcmp(key, "size") || !strcmp(key, "frequency"))
		gen_number(b);
	else if (!strcmp(key, "valueBoolean") || !strcmp(key, "userSelected"))
		buf_puts(b, chance(1, 2) ? "true" : "false");
	else if (!strcmp(key, "valueAttachment"))
	{
		buf_puts(b, "{");
		if (chance(3, 4))
			buf_printf(b, "\"contentType\":\"%s\",", PICK(misc_codes));
		buf_puts(b, "\"data\":");
		gen_string(b, 20);
		buf_puts(b, "}");
	}
	else if (!strcmp(key, "valueHumanName"))
		buf_puts(b, PICK(((const char *const[]) {
			"{\"given\":[\"a\",null],\"_given\":[null,{\"id\":\"g\"}]}",
			"{\"given\":[null],\"_given\":[null]}",
			"{\"given\":[null]}",
			"{\"given\":[\"a\"],\"_given\":[null,null,{\"extension\":[{\"url\":\"u\",\"valueString\":\"x\"}]}]}",
			"{\"family\":\"x\",\"given\":[]}",
			"{\"given\":\"a\"}"})));
	else if (!strcmp(key, "resourceType"))
		buf_printf(b, "\"%s\"", PICK(resource_types));
	else if (!strcmp(key, "id") || !strcmp(key, "versionId"))
		buf_printf(b, "\"%s\"", PICK(((const char *const[]) {"example", "a.b-c", "x y", "", "\\u00e9", "0123456789012345678901234567890123456789012345678901234567890123456789"})));
	else
		return false;
	return true;
}

/* A random object of about nmembers members. */
static void
gen_object_with(Buf *b, int depth, int nmembers)
{
	int			i;

	buf_putc(b, '{');
	for (i = 0; i < nmembers; i++)
	{
		size_t		kstart;
		char		key[64];

		if (i)
			buf_putc(b, ',');
		kstart = b->len;
		gen_key(b);
		/* the bare key, for plausible values */
		key[0] = '\0';
		if (b->len - kstart >= 2 && b->len - kstart - 2 < sizeof(key))
		{
			memcpy(key, b->p + kstart + 1, b->len - kstart - 2);
			key[b->len - kstart - 2] = '\0';
		}
		buf_putc(b, ':');
		gen_value(b, depth + 1, key);
	}
	buf_putc(b, '}');
}

static void
gen_value(Buf *b, int depth, const char *key)
{
	uint32_t	r;

	if (key && key[0] && chance(3, 5) && gen_plausible(b, depth, key))
		return;
	r = rnd(100);
	if (depth > 12 && r >= 60)
		r = rnd(60);
	if (r < 8)
		buf_puts(b, "null");
	else if (r < 14)
		buf_puts(b, chance(1, 2) ? "true" : "false");
	else if (r < 28)
		gen_number(b);
	else if (r < 55)
		gen_string(b, 24);
	else if (r < 60)
		buf_puts(b, PICK(((const char *const[]) {"{}", "[]", "[null]", "[[]]", "{\"\":null}", "[{}]"})));
	else if (r < 75)
	{
		int			n = (int) rnd(5),
					i;

		buf_putc(b, '[');
		for (i = 0; i < n; i++)
		{
			if (i)
				buf_putc(b, ',');
			gen_value(b, depth + 1, chance(1, 2) ? key : NULL);
		}
		buf_putc(b, ']');
	}
	else
		gen_object_with(b, depth, (int) rnd(6));
}

/* Wraps whatever emit() writes in n levels of arrays or objects. */
static void
open_nest(Buf *b, int n, bool *kinds)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		kinds[i] = chance(1, 2);
		if (kinds[i])
			buf_puts(b, PICK(((const char *const[]) {"{\"a\":", "{\"extension\":", "{\"valueString\":", "{\"_status\":"})));
		else
			buf_putc(b, '[');
	}
}

static void
close_nest(Buf *b, int n, const bool *kinds)
{
	while (n-- > 0)
		buf_putc(b, kinds[n] ? '}' : ']');
}

/* Recursive FHIR structures, n levels deep, that the typed walk follows. */
static void
gen_typed_chain(Buf *b, int n)
{
	int			i;

	switch (rnd(5))
	{
		case 0:					/* extension in extension */
			for (i = 0; i < n; i++)
				buf_puts(b, "[{\"url\":\"http://e\",\"extension\":");
			buf_puts(b, "[{\"url\":\"http://e\",\"valueString\":\"x\"}]");
			for (i = 0; i < n; i++)
				buf_puts(b, "}]");
			break;
		case 1:					/* contained Task in contained Task */
			for (i = 0; i < n; i++)
				buf_printf(b, "[{\"resourceType\":\"Task\",\"id\":\"c%d\",\"status\":\"draft\",\"intent\":\"order\",\"contained\":", i);
			buf_puts(b, "[{\"resourceType\":\"Patient\",\"id\":\"p\"}]");
			for (i = 0; i < n; i++)
				buf_puts(b, "}]");
			break;
		case 2:					/* Reference.identifier.assigner ... */
			for (i = 0; i < n; i++)
				buf_puts(b, "{\"identifier\":{\"value\":\"v\",\"assigner\":");
			buf_puts(b, "{\"reference\":\"#x\"}");
			for (i = 0; i < n; i++)
				buf_puts(b, "}}");
			break;
		case 3:					/* a twin whose extensions nest */
			buf_puts(b, "{\"extension\":");
			for (i = 0; i < n; i++)
				buf_puts(b, "[{\"url\":\"u\",\"_valueString\":{\"extension\":");
			buf_puts(b, "[{\"url\":\"u\",\"valueBoolean\":true}]");
			for (i = 0; i < n; i++)
				buf_puts(b, "}}]");
			buf_putc(b, '}');
			break;
		default:				/* arrays in a contained non-Task */
			buf_puts(b, "[{\"resourceType\":\"Patient\",\"id\":\"p\",\"x\":");
			for (i = 0; i < n; i++)
				buf_puts(b, chance(1, 2) ? "[" : "[1,");
			buf_puts(b, "\"\"");
			for (i = 0; i < n; i++)
				buf_putc(b, ']');
			buf_puts(b, "}]");
			break;
	}
}

/* ----------------------------------------------------------------
 *		Mutating a fixture while serialising it
 * ----------------------------------------------------------------
 */
typedef enum MutOp
{
	/* on a member or element (handled by the parent) */
	OP_DELETE,
	OP_DUPLICATE,
	OP_RENAME,
	OP_INSERT,
	/* on the value itself */
	OP_REPLACE,
	OP_INTERESTING,
	OP_PLAUSIBLE,
	OP_WRAP,
	OP_UNWRAP,
	OP_NEST,
	OP_HUGE,
	OP_SPLICE,
	OP_CHAIN,
	OP_STRING_EDIT,
	OP_EMPTY,
	OP_COUNT
} MutOp;

/* relative weights of the operations */
static const int op_weight[OP_COUNT] = {
	[OP_DELETE] = 12,[OP_DUPLICATE] = 6,[OP_RENAME] = 8,[OP_INSERT] = 12,
	[OP_REPLACE] = 14,[OP_INTERESTING] = 12,[OP_PLAUSIBLE] = 10,[OP_WRAP] = 4,
	[OP_UNWRAP] = 4,[OP_NEST] = 2,[OP_HUGE] = 0,[OP_SPLICE] = 6,[OP_CHAIN] = 2,
	[OP_STRING_EDIT] = 10,[OP_EMPTY] = 6
};

typedef struct Mut
{
	int			pre;
	MutOp		op;
} Mut;

static Mut muts[MAX_MUTS];
static int nmuts;

static int
mut_at(int pre)
{
	int			i;

	for (i = 0; i < nmuts; i++)
		if (muts[i].pre == pre)
			return (int) muts[i].op;
	return -1;
}

static MutOp
pick_op(void)
{
	int			total = 0,
				i,
				r;

	if (chance(1, 800))
		return OP_HUGE;
	for (i = 0; i < OP_COUNT; i++)
		total += op_weight[i];
	r = (int) rnd((uint32_t) total);
	for (i = 0; i < OP_COUNT; i++)
	{
		if (r < op_weight[i])
			return (MutOp) i;
		r -= op_weight[i];
	}
	return OP_REPLACE;
}

static void ser_value(Buf *b, const Node *n, int depth, const char *key, bool mutate);

/* The bare text of a raw key (quotes removed), into a small buffer. */
static const char *
bare_key(const char *raw, size_t len, char *out, size_t outsz)
{
	if (len < 2 || len - 2 >= outsz)
		return NULL;
	memcpy(out, raw + 1, len - 2);
	out[len - 2] = '\0';
	return out;
}

static void
ser_plain(Buf *b, const Node *n, int depth)
{
	int			i;
	bool		first = true;

	switch (n->kind)
	{
		case N_SCALAR:
		case N_STRING:
			buf_put(b, n->raw, n->rawlen);
			return;
		case N_ARRAY:
		case N_OBJECT:
			break;
	}
	buf_putc(b, n->kind == N_OBJECT ? '{' : '[');
	for (i = 0; i < n->nkids; i++)
	{
		const Node *kid = n->kids[i];
		int			op = mut_at(kid->pre);
		int			times = 1,
					t;
		char		kb[64];
		const char *key = NULL;

		if (n->kind == N_OBJECT)
			key = bare_key(n->keys[i], n->keylens[i], kb, sizeof(kb));
		if (op == OP_DELETE)
			continue;
		if (op == OP_INSERT)
		{
			if (!first)
				buf_putc(b, ',');
			first = false;
			if (n->kind == N_OBJECT)
			{
				size_t		kstart = b->len;
				char		nk[64];

				gen_key(b);
				buf_putc(b, ':');
				gen_value(b, depth + 1,
						  bare_key(b->p + kstart, b->len - kstart - 1, nk, sizeof(nk)));
			}
			else
				gen_value(b, depth + 1, NULL);
		}
		if (op == OP_DUPLICATE)
			times = 2;
		for (t = 0; t < times; t++)
		{
			if (!first)
				buf_putc(b, ',');
			first = false;
			if (n->kind == N_OBJECT)
			{
				if (op == OP_RENAME)
					gen_key(b);
				else
					buf_put(b, n->keys[i], n->keylens[i]);
				buf_putc(b, ':');
			}
			if (t == 1 && chance(1, 2))
				gen_value(b, depth + 1, key);	/* a duplicate with another value */
			else
				ser_value(b, kid, depth + 1, key,
						  !(op == OP_DELETE || op == OP_DUPLICATE ||
							op == OP_RENAME || op == OP_INSERT));
		}
	}
	buf_putc(b, n->kind == N_OBJECT ? '}' : ']');
}

/* Random node of a random fixture. */
static const Node *
random_fixture_node(void)
{
	const Fixture *fx = &fixtures[rnd((uint32_t) nfixtures)];

	return fx->flat[rnd((uint32_t) fx->nflat)];
}

static void
ser_value(Buf *b, const Node *n, int depth, const char *key, bool mutate)
{
	int			op = mutate ? mut_at(n->pre) : -1;

	switch (op)
	{
		case -1:
			ser_plain(b, n, depth);
			return;
		case OP_DELETE:
		case OP_DUPLICATE:
		case OP_RENAME:
		case OP_INSERT:
		case OP_REPLACE:		/* (member operations reach here at the root) */
			gen_value(b, depth, NULL);
			return;
		case OP_INTERESTING:
			switch (rnd(4))
			{
				case 0:
					buf_puts(b, PICK(interesting_numbers));
					break;
				case 1:
					buf_printf(b, "\"%s\"", PICK(interesting_strings));
					break;
				default:
					buf_puts(b, PICK(((const char *const[]) {"null", "true", "false", "{}", "[]", "\"\"", "[null]", "{\"id\":\"x\"}", "{\"extension\":[]}"})));
					break;
			}
			return;
		case OP_PLAUSIBLE:
			if (!gen_plausible(b, depth, key))
				gen_value(b, depth, key);
			return;
		case OP_WRAP:
			if (chance(1, 2))
			{
				buf_putc(b, '[');
				ser_plain(b, n, depth + 1);
				if (chance(1, 3))
				{
					buf_putc(b, ',');
					ser_plain(b, n, depth + 1);
				}
				buf_putc(b, ']');
			}
			else
			{
				buf_putc(b, '{');
				gen_key(b);
				buf_putc(b, ':');
				ser_plain(b, n, depth + 1);
				buf_putc(b, '}');
			}
			return;
		case OP_UNWRAP:
			if (n->nkids > 0)
				ser_plain(b, n->kids[rnd((uint32_t) n->nkids)], depth);
			else
				gen_value(b, depth, key);
			return;
		case OP_NEST:
			{
				bool		kinds[MAX_NEST];
				int			levels = 1 + (int) rnd(MAX_NEST);

				open_nest(b, levels, kinds);
				ser_plain(b, n, depth + levels);
				close_nest(b, levels, kinds);
				return;
			}
		case OP_HUGE:
			gen_huge_string(b);
			return;
		case OP_SPLICE:
			ser_plain(b, random_fixture_node(), depth);
			return;
		case OP_CHAIN:
			gen_typed_chain(b, 1 + (int) rnd(chance(1, 4) ? MAX_NEST : 70));
			return;
		case OP_STRING_EDIT:
			if (n->kind == N_STRING)
			{
				/* keep a prefix of the original (cut between characters,
				 * never inside an escape), then add something */
				const char *body = n->raw + 1;
				size_t		inner = n->rawlen - 2,
							want = rnd((uint32_t) inner + 1),
							cut = 0,
							i = 0;

				while (i < inner && i <= want)
				{
					cut = i;
					if (body[i] == '\\')
						i += body[i + 1] == 'u' ? 6 : 2;
					else
					{
						i++;
						while (i < inner && ((unsigned char) body[i] & 0xC0) == 0x80)
							i++;
					}
				}
				if (i <= want)
					cut = i;
				buf_putc(b, '"');
				buf_put(b, n->raw + 1, cut);
				if (chance(1, 2))
					gen_string_body(b, 8);
				buf_putc(b, '"');
			}
			else if (n->kind == N_SCALAR)
				gen_number(b);
			else
				gen_value(b, depth, key);
			return;
		case OP_EMPTY:
			buf_puts(b, PICK(((const char *const[]) {"{}", "[]", "\"\"", "null"})));
			return;
		default:
			ser_plain(b, n, depth);
			return;
	}
}

/* (a) a mutated fixture; *pristine says no mutation was applied. */
static void
gen_mutated_fixture(Buf *b, bool *pristine)
{
	const Fixture *fx = &fixtures[rnd((uint32_t) nfixtures)];
	int			i;

	nmuts = 0;
	if (!chance(1, 50))
	{
		int			want = 1;

		while (want < MAX_MUTS && chance(1, 2))
			want++;
		for (i = 0; i < want; i++)
		{
			int			pre = (int) rnd((uint32_t) fx->nflat);

			if (mut_at(pre) >= 0)
				continue;
			muts[nmuts].pre = pre;
			muts[nmuts].op = pick_op();
			nmuts++;
		}
	}
	*pristine = (nmuts == 0);
	ser_value(b, fx->root, 0, NULL, true);
}

/* (b) a fully random document. */
static void
gen_random_doc(Buf *b)
{
	uint32_t	r = rnd(100);

	if (r < 2)
	{
		/* wide: hundreds of members or items, past the 100-issue cap */
		int			n = 100 + (int) rnd(400),
					i;

		if (chance(1, 2))
		{
			buf_puts(b, "{\"resourceType\":\"Task\",\"status\":\"draft\",\"intent\":\"order\"");
			for (i = 0; i < n; i++)
			{
				buf_printf(b, ",\"k%d\":", i);
				gen_value(b, 1, NULL);
			}
			buf_putc(b, '}');
		}
		else
		{
			buf_printf(b, "{\"resourceType\":\"Task\",\"status\":\"draft\",\"intent\":\"order\",\"%s\":[",
					   PICK(((const char *const[]) {"note", "identifier", "extension", "contained", "basedOn", "input"})));
			for (i = 0; i < n; i++)
			{
				if (i)
					buf_putc(b, ',');
				gen_value(b, 1, NULL);
			}
			buf_puts(b, "]}");
		}
	}
	else if (r < 50)
	{
		/* Task-like: the root properties from the vocabulary */
		int			n = (int) rnd(14),
					i;

		buf_puts(b, "{\"resourceType\":\"Task\"");
		if (chance(4, 5))
			buf_printf(b, ",\"status\":\"%s\"", PICK(task_status));
		if (chance(4, 5))
			buf_printf(b, ",\"intent\":\"%s\"", PICK(task_intent));
		for (i = 0; i < n; i++)
		{
			const char *k = PICK(fhir_keys);

			buf_printf(b, ",");
			if (chance(1, 10))
			{
				size_t		kstart = b->len;
				char		kb[64];

				gen_key(b);
				buf_putc(b, ':');
				gen_value(b, 1, bare_key(b->p + kstart, b->len - kstart - 1, kb, sizeof(kb)));
			}
			else
			{
				put_key(b, k);
				gen_value(b, 1, k);
			}
		}
		buf_putc(b, '}');
	}
	else if (r < 90)
		gen_value(b, 0, NULL);
	else
	{
		/* deep nesting around a Task or a typed chain */
		bool		kinds[MAX_NEST];
		int			levels = 1 + (int) rnd(MAX_NEST);

		if (chance(1, 2))
		{
			open_nest(b, levels, kinds);
			buf_puts(b, "{\"resourceType\":\"Task\",\"status\":\"draft\",\"intent\":\"order\"}");
			close_nest(b, levels, kinds);
		}
		else
		{
			static const char *const homes[] = {"extension", "contained", "for", "_status", "input"};
			const char *home = PICK(homes);

			buf_printf(b, "{\"resourceType\":\"Task\",\"status\":\"draft\",\"intent\":\"order\",\"%s\":", home);
			if (!strcmp(home, "input"))
			{
				buf_puts(b, "[{\"type\":{\"text\":\"t\"},\"valueReference\":");
				gen_typed_chain(b, levels);
				buf_puts(b, "}]");
			}
			else
				gen_typed_chain(b, levels);
			buf_putc(b, '}');
		}
	}
}

/* ----------------------------------------------------------------
 *		Invalid JSON
 * ----------------------------------------------------------------
 */
static void
gen_invalid_json(Buf *b)
{
	static const char *const bad[] = {
		"", " ", "NaN", "Infinity", "-Infinity", "undefined", "True", "nul",
		"tru", "01", "+1", ".5", "1.", "1e", "-", "0x10", "'a'", "{'a':1}",
		"{a:1}", "[1 2]", "{\"a\" 1}", "{\"a\":1,,\"b\":2}", "{,}", "[,1]",
		"[1,]", "{\"a\":1,}", "\"unterminated", "\"bad escape \\x\"",
		"\"\\u12\"", "\"\\uZZZZ\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "/* c */ {}", "{} // c", "{}}", "[]]", "{\"a\":}",
		"{\"a\"}", "{:1}", "[", "{", "]", "}", "\"\\\"", "{\"resourceType\":\"Task\"",
		"{\"a\":[1,2}", "{\"a\":{\"b\":1]}", "[\"a\":1]", "1 2", "{} {}",
		"\"a\" \"b\"", "-01", "1e+", "--1", "1.2.3", "[-]", "{\"a\":tru}",
		"{\"a\":nulll}", "\"tab\there\"", "\"nl\nhere\"", "\"ctl\x01here\"",
		"\"\x1f\"",
	};
	uint32_t	r = rnd(100);

	if (r < 40)
	{
		/* a bad token somewhere inside a Task-like document */
		buf_puts(b, "{\"resourceType\":\"Task\",\"status\":\"draft\",\"x\":");
		if (chance(1, 2))
			buf_puts(b, "[[{\"y\":");
		buf_puts(b, PICK(bad));
		/* (mismatched closers only make it more invalid) */
		buf_puts(b, chance(1, 2) ? "}]]}" : "}");
	}
	else if (r < 70)
	{
		/* a mutated fixture cut short (an object always needs its '}') */
		Buf			doc = {0};
		bool		pristine;
		size_t		cut;

		do
		{
			doc.len = 0;
			gen_mutated_fixture(&doc, &pristine);
		} while (doc.len < 2 || doc.p[0] != '{');
		cut = 1 + rnd((uint32_t) doc.len - 1);
		/* keep UTF-8 valid: do not cut inside a multi-byte character */
		while (cut > 1 && ((unsigned char) doc.p[cut] & 0xC0) == 0x80)
			cut--;
		buf_put(b, doc.p, cut);
		free(doc.p);
	}
	else if (r < 85)
	{
		/* a whole fixture with junk after it */
		const Fixture *fx = &fixtures[rnd((uint32_t) nfixtures)];

		buf_puts(b, fx->text);
		buf_puts(b, PICK(((const char *const[]) {"}", "]", ",", "x", " 1", "{}", ",{}", "\"\""})));
	}
	else
		buf_puts(b, PICK(bad));
}

/* ----------------------------------------------------------------
 *		Adversarial large documents (the stress phase)
 *
 * Fixed documents of a few MB that aim at the validator's costs rather
 * than its branches.  Each must be answered with an OperationOutcome; the
 * time taken is printed for information only (a loaded machine is slower:
 * 020_fuzz.pl guards growth by comparing n with 10n instead).
 * ----------------------------------------------------------------
 */

static void
put_repeat(Buf *b, char c, size_t n)
{
	buf_reserve(b, n);
	memset(b->p + b->len, c, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static const char task_head[] =
"{\"resourceType\":\"Task\",\"status\":\"draft\",\"intent\":\"order\"";

/* 60 nested 50,000-byte keys in a contained Patient, 100 nulls at the
 * bottom: every issue's expression carries the whole key path. */
static void
stress_deep_long_keys(Buf *b)
{
	int			d,
				i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"for\":{\"reference\":\"#p\"},\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"p\",\"a\":");
	for (d = 0; d < 60; d++)
	{
		buf_printf(b, "{\"k%d", d);
		put_repeat(b, 'x', 50000);
		buf_puts(b, "\":");
	}
	buf_putc(b, '{');
	for (i = 0; i < 100; i++)
		buf_printf(b, "%s\"leaf%d\":null", i ? "," : "", i);
	buf_putc(b, '}');
	put_repeat(b, '}', 60);
	buf_puts(b, "}]}");
}

/* 40,000 contained resources and 40,000 "#id" references. */
static void
stress_many_local_refs(Buf *b)
{
	int			i,
				n = 40000;

	buf_puts(b, task_head);
	buf_puts(b, ",\"contained\":[");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{\"resourceType\":\"Patient\",\"id\":\"p%d\"}", i ? "," : "", i);
	buf_puts(b, "],\"basedOn\":[");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{\"reference\":\"#q%d\"}", i ? "," : "", i);
	buf_puts(b, "]}");
}

/* 5,000 contained Tasks, each referenced. */
static void
stress_many_contained_tasks(Buf *b)
{
	int			i,
				n = 5000;

	buf_puts(b, task_head);
	buf_puts(b, ",\"contained\":[");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{\"resourceType\":\"Task\",\"id\":\"t%d\",\"status\":\"draft\",\"intent\":\"order\",\"note\":[{\"text\":\"n\"}]}",
				   i ? "," : "", i);
	buf_puts(b, "],\"partOf\":[");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{\"reference\":\"#t%d\"}", i ? "," : "", i);
	buf_puts(b, "]}");
}

/* 100,000 unknown keys at the root. */
static void
stress_many_unknown_keys(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	for (i = 0; i < 100000; i++)
		buf_printf(b, ",\"k%d\":null", i);
	buf_putc(b, '}');
}

/* 1,000,000 nulls in Task.note. */
static void
stress_many_nulls(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"note\":[null");
	for (i = 1; i < 1000000; i++)
		buf_puts(b, ",null");
	buf_puts(b, "]}");
}

/* A 10 MB description and a 10 MB unknown key. */
static void
stress_huge_values(Buf *b)
{
	buf_puts(b, task_head);
	buf_puts(b, ",\"description\":\"");
	put_repeat(b, 'a', 10 * 1024 * 1024);
	buf_puts(b, "\",\"");
	put_repeat(b, 'k', 10 * 1024 * 1024);
	buf_puts(b, "\":1}");
}

/* A narrative with 200,000 elements and attributes. */
static void
stress_big_narrative(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">");
	for (i = 0; i < 200000; i++)
		buf_puts(b, "<p class=\\\"c\\\" title=\\\"t&amp;\\\">x&#x41;</p>");
	buf_puts(b, "</div>\"}}");
}

/* A narrative nested 300,000 elements deep (no fixed depth limit). */
static void
stress_deep_narrative(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">");
	for (i = 0; i < 300000; i++)
		buf_puts(b, "<span>");
	buf_putc(b, 'x');
	for (i = 0; i < 300000; i++)
		buf_puts(b, "</span>");
	buf_puts(b, "</div>\"}}");
}

/* 40,000 contained resources sharing one id, each referenced. */
static void
stress_duplicate_ids(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"contained\":[");
	for (i = 0; i < 40000; i++)
		buf_puts(b, i ? ",{\"resourceType\":\"Patient\",\"id\":\"a\",\"link\":[{\"other\":{\"reference\":\"#\"}}]}"
				 : "{\"resourceType\":\"Patient\",\"id\":\"a\"}");
	buf_puts(b, "],\"basedOn\":[");
	for (i = 0; i < 40000; i++)
		buf_puts(b, i ? ",{\"reference\":\"#a\"}" : "{\"reference\":\"#a\"}");
	buf_puts(b, "]}");
}

/* 20,000 inputs with a Range in two UCUM units each. */
static void
stress_ucum_ranges(Buf *b)
{
	int			i;

	buf_puts(b, task_head);
	buf_puts(b, ",\"input\":[");
	for (i = 0; i < 20000; i++)
		buf_printf(b, "%s{\"type\":{\"text\":\"r\"},\"valueRange\":{"
				   "\"low\":{\"value\":%d,\"system\":\"http://unitsofmeasure.org\",\"code\":\"mg/dL\"},"
				   "\"high\":{\"value\":1,\"system\":\"http://unitsofmeasure.org\",\"code\":\"((g.m-3)/(10*-2))\"}}}",
				   i ? "," : "", i);
	buf_puts(b, "]}");
}

typedef struct Stress
{
	const char *name;
	void		(*gen) (Buf *b);
} Stress;

static const Stress stresses[] = {
	{"deep-long-keys", stress_deep_long_keys},
	{"many-local-refs", stress_many_local_refs},
	{"many-contained-tasks", stress_many_contained_tasks},
	{"many-unknown-keys", stress_many_unknown_keys},
	{"many-nulls", stress_many_nulls},
	{"huge-values", stress_huge_values},
	{"big-narrative", stress_big_narrative},
	{"deep-narrative", stress_deep_narrative},
	{"duplicate-ids", stress_duplicate_ids},
	{"ucum-ranges", stress_ucum_ranges},
};

/* ----------------------------------------------------------------
 *		The server side
 * ----------------------------------------------------------------
 */
static const char *conninfo;
static const char *out_dir = ".";
static uint64_t seed = DEFAULT_SEED;
static int failures;
static int reported;
static bool quiet;

/* (OFFSET 0 keeps the subquery from being flattened, which would call
 * validate_task once for every reference to o) */
static const char batch_sql[] =
"SELECT d.ord,"
"       coalesce(jsonb_typeof(v.o) = 'object'"
"                AND v.o->>'resourceType' = 'OperationOutcome'"
"                AND CASE WHEN jsonb_typeof(v.o->'issue') = 'array'"
"                         THEN jsonb_array_length(v.o->'issue') > 0 ELSE false END,"
"                false) AS outcome,"
"       coalesce(v.o->'issue' @> '[{\"severity\":\"error\"}]', true) AS rejected "
"FROM unnest($1::text[]) WITH ORDINALITY AS d(t, ord)"
" CROSS JOIN LATERAL (SELECT omnitask.validate_task(d.t::jsonb) AS o OFFSET 0) AS v "
"ORDER BY d.ord";

static const char single_sql[] = "SELECT omnitask.validate_task($1::text::jsonb)::text";

static PGconn *
connect_db(int tries)
{
	PGconn	   *conn = NULL;
	int			i;

	for (i = 0; i < tries; i++)
	{
		PGresult   *res;

		conn = PQconnectdb(conninfo);
		if (PQstatus(conn) == CONNECTION_OK)
		{
			res = PQexec(conn, "SET statement_timeout = '300s'");
			PQclear(res);
			res = PQprepare(conn, "batch", batch_sql, 1, (Oid[]) {TEXTARRAYOID});
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				die("cannot prepare the batch query: %s", PQerrorMessage(conn));
			PQclear(res);
			return conn;
		}
		PQfinish(conn);
		conn = NULL;
		sleep(1);
	}
	die("cannot connect to \"%s\"", conninfo);
	return NULL;
}

static char *
query_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		PQclear(res);
		return NULL;
	}
	v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Documents of one batch: offsets into one buffer. */
typedef struct Batch
{
	Buf			text;			/* the documents, back to back */
	size_t	   *off;
	size_t	   *len;
	bool	   *pristine;		/* an unmutated fixture: must be valid */
	int			n;
	int			cap;
	Buf			payload;		/* binary text[] */
	long		number;
} Batch;

static void
batch_reset(Batch *bt, long number)
{
	bt->text.len = 0;
	bt->n = 0;
	bt->number = number;
}

static void
batch_add(Batch *bt, const char *s, size_t n, bool pristine)
{
	if (bt->n == bt->cap)
	{
		bt->cap = bt->cap ? bt->cap * 2 : 1024;
		bt->off = xrealloc(bt->off, sizeof(size_t) * bt->cap);
		bt->len = xrealloc(bt->len, sizeof(size_t) * bt->cap);
		bt->pristine = xrealloc(bt->pristine, sizeof(bool) * bt->cap);
	}
	bt->off[bt->n] = bt->text.len;
	bt->len[bt->n] = n;
	bt->pristine[bt->n] = pristine;
	buf_put(&bt->text, s, n);
	bt->n++;
}

/* The binary array_recv format of a one-dimensional text[]. */
static void
batch_encode(Batch *bt)
{
	int			i;

	bt->payload.len = 0;
	buf_put_be32(&bt->payload, 1);	/* ndim */
	buf_put_be32(&bt->payload, 0);	/* no nulls */
	buf_put_be32(&bt->payload, TEXTOID);
	buf_put_be32(&bt->payload, (uint32_t) bt->n);
	buf_put_be32(&bt->payload, 1);	/* lower bound */
	for (i = 0; i < bt->n; i++)
	{
		buf_put_be32(&bt->payload, (uint32_t) bt->len[i]);
		buf_put(&bt->payload, bt->text.p + bt->off[i], bt->len[i]);
	}
}

static void
batch_send(PGconn *conn, Batch *bt)
{
	const char *values[1] = {bt->payload.p};
	int			lengths[1] = {(int) bt->payload.len};
	int			formats[1] = {1};

	if (!PQsendQueryPrepared(conn, "batch", 1, values, lengths, formats, 0))
		fprintf(stderr, "fuzz_validate: sending batch %ld failed: %s",
				bt->number, PQerrorMessage(conn));
}

/* Writes one document to OUT_DIR/fuzz-<what>-<seed>.jsonl. */
static void
save_document(const char *what, const char *s, size_t n)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/fuzz-%s-%" PRIu64 ".jsonl", out_dir, what, seed);
	f = fopen(path, "ab");
	if (f == NULL)
	{
		fprintf(stderr, "fuzz_validate: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fwrite(s, 1, n, f);
	fputc('\n', f);
	fclose(f);
	printf("  saved to %s\n", path);
}

static void
print_prefix(const char *label, const char *s, size_t n)
{
	size_t		show = n < 300 ? n : 300;

	printf("  %s (%zu bytes): %.*s%s\n", label, n, (int) show, s, show < n ? " ..." : "");
}

/*
 * Validates one document in a statement of its own.  Returns 0 if it got
 * an OperationOutcome, 1 on an SQL error (connection fine), 2 when the
 * connection was lost (crash).
 */
static int
try_single(PGconn **conn, const char *s, size_t n, char *sqlstate, size_t sqlstate_sz,
		   char **message)
{
	char	   *copy = xmalloc(n + 1);
	const char *values[1];
	PGresult   *res;
	int			rc;

	memcpy(copy, s, n);
	copy[n] = '\0';
	values[0] = copy;
	res = PQexecParams(*conn, single_sql, 1, (Oid[]) {TEXTOID}, values, NULL, NULL, 0);
	free(copy);
	sqlstate[0] = '\0';
	if (message)
		*message = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		!PQgetisnull(res, 0, 0) &&
		strstr(PQgetvalue(res, 0, 0), "\"resourceType\": \"OperationOutcome\"") != NULL)
		rc = 0;
	else
	{
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		snprintf(sqlstate, sqlstate_sz, "%s", st ? st : "?????");
		if (message)
			*message = strdup(PQresultErrorMessage(res));
		rc = PQstatus(*conn) == CONNECTION_OK ? 1 : 2;
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			rc = 1;
	}
	PQclear(res);
	if (rc == 2)
	{
		PQfinish(*conn);
		sleep(2);
		*conn = connect_db(60);
	}
	return rc;
}

/* A batch failed: find which of its documents fail on their own. */
static void
isolate(PGconn **conn, Batch *bt)
{
	int			i,
				found = 0;

	printf("isolating the failing document(s) of batch %ld (%d documents)\n",
		   bt->number, bt->n);
	for (i = 0; i < bt->n && found < MAX_REPORTED; i++)
	{
		char		st[8];
		char	   *msg;
		int			rc = try_single(conn, bt->text.p + bt->off[i], bt->len[i], st,
									sizeof(st), &msg);

		if (rc == 0)
			continue;
		found++;
		printf("FAILING DOCUMENT: batch %ld document %d: %s (SQLSTATE %s): %s",
			   bt->number, i + 1, rc == 2 ? "the connection was lost (server crash?)" : "error",
			   st, msg ? msg : "\n");
		print_prefix("document", bt->text.p + bt->off[i], bt->len[i]);
		if (reported++ < MAX_REPORTED)
			save_document(rc == 2 ? "crash" : "error", bt->text.p + bt->off[i], bt->len[i]);
		free(msg);
	}
	if (found == 0)
	{
		printf("  no document fails on its own: the batch as a whole failed\n");
		save_document("batch", bt->text.p, bt->text.len);
	}
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: fuzz_validate [-s SEED] [-n DOCS] [-b BATCH] [-i INVALID] [-f FIXTURE_DIR]\n"
			"                     [-o OUT_DIR] [-q] [-x] CONNINFO\n"
			"       fuzz_validate -r FILE CONNINFO\n"
			"       fuzz_validate -d [-s SEED] [-n DOCS] [-i INVALID] [-f FIXTURE_DIR]\n");
	exit(2);
}

/* -r: validate every line of a file alone and print the outcome. */
static int
replay(const char *file)
{
	FILE	   *f = fopen(file, "rb");
	PGconn	   *conn;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	int			bad = 0,
				lineno = 0;

	if (f == NULL)
		die("cannot open %s: %s", file, strerror(errno));
	conn = connect_db(1);
	while ((n = getline(&line, &cap, f)) >= 0)
	{
		const char *values[1];
		PGresult   *res;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		values[0] = line;
		res = PQexecParams(conn, single_sql, 1, (Oid[]) {TEXTOID}, values, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			printf("line %d: %s\n", lineno, PQgetvalue(res, 0, 0));
		else
		{
			const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			printf("line %d: ERROR (SQLSTATE %s): %s", lineno, st ? st : "?????",
				   PQerrorMessage(conn));
			bad++;
			if (PQstatus(conn) != CONNECTION_OK)
			{
				PQclear(res);
				PQfinish(conn);
				sleep(2);
				conn = connect_db(60);
				continue;
			}
		}
		PQclear(res);
	}
	free(line);
	fclose(f);
	PQfinish(conn);
	return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	long		ndocs = DEFAULT_DOCS;
	int			batch_size = DEFAULT_BATCH;
	int			ninvalid = DEFAULT_INVALID;
	const char *fixture_dir = "test/fixtures";
	const char *replay_file = NULL;
	bool		dump = false;
	bool		run_stress = true;
	int			stress_run = 0,
				stress_ok = 0;
	int			c;
	PGconn	   *conn;
	char	   *start_before,
			   *start_after;
	Batch		batches[2];
	Buf			doc = {0};
	long		sent = 0,
				answered = 0,
				outcomes = 0,
				valid = 0,
				rejected = 0,
				pristine_rejected = 0,
				nbatches = 0,
				failed_batches = 0,
				crashes = 0,
				next_progress = 100000;
	int			inv_sent = 0,
				inv_22p02 = 0,
				inv_other = 0,
				inv_accepted = 0;
	double		t0,
				t_docs;
	bool		alive,
				select1_ok,
				restarted;
	int			cur = 0;
	bool		in_flight = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "s:n:b:i:f:o:r:qdx")) != -1)
	{
		switch (c)
		{
			case 's':
				seed = strtoull(optarg, NULL, 10);
				break;
			case 'n':
				ndocs = atol(optarg);
				break;
			case 'b':
				batch_size = atoi(optarg);
				break;
			case 'i':
				ninvalid = atoi(optarg);
				break;
			case 'f':
				fixture_dir = optarg;
				break;
			case 'o':
				out_dir = optarg;
				break;
			case 'r':
				replay_file = optarg;
				break;
			case 'q':
				quiet = true;
				break;
			case 'd':
				dump = true;
				break;
			case 'x':
				run_stress = false;
				break;
			default:
				usage();
		}
	}
	if (optind != argc - (dump ? 0 : 1) || batch_size < 1 || ndocs < 0 || ninvalid < 0)
		usage();
	conninfo = argv[optind];
	if (replay_file)
		return replay(replay_file);

	rng_state = seed;
	load_fixtures(fixture_dir);
	if (dump)
	{
		long		i;
		bool		pristine;

		for (i = 0; i < ndocs; i++)
		{
			doc.len = 0;
			if (chance(3, 5))
				gen_mutated_fixture(&doc, &pristine);
			else
				gen_random_doc(&doc);
			fwrite(doc.p, 1, doc.len, stdout);
			putchar('\n');
		}
		for (i = 0; i < ninvalid; i++)
		{
			doc.len = 0;
			gen_invalid_json(&doc);
			fwrite(doc.p, 1, doc.len, stdout);
			putchar('\n');
		}
		return 0;
	}
	printf("fuzz_validate: seed %" PRIu64 ", %ld documents in batches of %d, %d invalid JSON texts, %d fixtures\n",
		   seed, ndocs, batch_size, ninvalid, nfixtures);

	conn = connect_db(5);
	start_before = query_value(conn, "SELECT pg_postmaster_start_time()");
	if (start_before == NULL)
		die("cannot read pg_postmaster_start_time(): %s", PQerrorMessage(conn));
	printf("postmaster started at %s\n", start_before);

	memset(batches, 0, sizeof(batches));
	t0 = now_seconds();
	for (;;)
	{
		Batch	   *bt = &batches[cur];
		Batch	   *prev = &batches[1 - cur];
		int			want = (int) ((ndocs - sent) < batch_size ? (ndocs - sent) : batch_size);

		/* generate the next batch while the server works on the previous */
		if (want > 0)
		{
			int			i;

			batch_reset(bt, nbatches + 1);
			for (i = 0; i < want; i++)
			{
				bool		pristine = false;

				doc.len = 0;
				if (chance(3, 5))
					gen_mutated_fixture(&doc, &pristine);
				else
					gen_random_doc(&doc);
				batch_add(bt, doc.p, doc.len, pristine);
			}
			batch_encode(bt);
		}

		if (in_flight)
		{
			PGresult   *res;
			PGresult   *last = NULL;

			while ((res = PQgetResult(conn)) != NULL)
			{
				if (last)
					PQclear(last);
				last = res;
			}
			in_flight = false;
			if (last == NULL || PQresultStatus(last) != PGRES_TUPLES_OK)
			{
				const char *st = last ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
				bool		lost = PQstatus(conn) != CONNECTION_OK;

				printf("BATCH FAILED: batch %ld (%d documents): %s (SQLSTATE %s): %s",
					   prev->number, prev->n, lost ? "connection lost" : "error",
					   st ? st : "none", PQerrorMessage(conn));
				failed_batches++;
				failures++;
				if (lost)
				{
					crashes++;
					PQfinish(conn);
					sleep(2);
					conn = connect_db(60);
				}
				isolate(&conn, prev);
				if (lost)
				{
					/* a crash is the finding: stop here */
					PQclear(last);
					break;
				}
			}
			else
			{
				int			rows = PQntuples(last),
							i;

				answered += rows;
				if (rows != prev->n)
				{
					printf("BATCH %ld: sent %d documents, %d rows came back\n",
						   prev->number, prev->n, rows);
					failures++;
				}
				for (i = 0; i < rows; i++)
				{
					long		ord = atol(PQgetvalue(last, i, 0));
					bool		outcome = PQgetvalue(last, i, 1)[0] == 't';
					bool		rej = PQgetvalue(last, i, 2)[0] == 't';

					if (ord != i + 1)
					{
						printf("BATCH %ld: row %d is document %ld\n", prev->number, i + 1, ord);
						failures++;
						break;
					}
					if (!outcome)
					{
						printf("NOT AN OPERATIONOUTCOME: batch %ld document %d\n", prev->number, i + 1);
						print_prefix("document", prev->text.p + prev->off[i], prev->len[i]);
						if (reported++ < MAX_REPORTED)
							save_document("not-outcome", prev->text.p + prev->off[i], prev->len[i]);
						failures++;
						continue;
					}
					outcomes++;
					if (rej)
						rejected++;
					else
						valid++;
					if (rej && prev->pristine[i])
					{
						printf("AN UNMODIFIED EXAMPLE WAS REJECTED: batch %ld document %d\n",
							   prev->number, i + 1);
						pristine_rejected++;
						failures++;
					}
				}
			}
			PQclear(last);
			if (!quiet && sent >= next_progress)
			{
				double		el = now_seconds() - t0;

				printf("progress: %ld documents, %ld batches, %.1f s, %.0f documents/s\n",
					   answered, nbatches, el, el > 0 ? answered / el : 0.0);
				while (next_progress <= sent)
					next_progress += 100000;
			}
		}

		if (want == 0)
			break;
		batch_send(conn, bt);
		in_flight = true;
		sent += bt->n;
		nbatches++;
		cur = 1 - cur;
	}
	t_docs = now_seconds() - t0;

	/* invalid JSON, one statement each: 22P02, and the session survives */
	if (crashes == 0)
	{
		int			i;

		for (i = 0; i < ninvalid; i++)
		{
			char		st[8];
			char	   *msg;
			int			rc;

			doc.len = 0;
			gen_invalid_json(&doc);
			inv_sent++;
			rc = try_single(&conn, doc.p, doc.len, st, sizeof(st), &msg);
			if (rc == 0)
			{
				inv_accepted++;
				printf("INVALID JSON ACCEPTED by the jsonb cast (a generator mistake?):\n");
				print_prefix("text", doc.p, doc.len);
			}
			else if (rc == 1 && strcmp(st, "22P02") == 0)
				inv_22p02++;
			else
			{
				inv_other++;
				failures++;
				printf("INVALID JSON: expected SQLSTATE 22P02, got %s%s: %s",
					   st, rc == 2 ? " and the connection was lost" : "", msg ? msg : "\n");
				print_prefix("text", doc.p, doc.len);
				if (reported++ < MAX_REPORTED)
					save_document(rc == 2 ? "crash" : "error", doc.p, doc.len);
				if (rc == 2)
					crashes++;
			}
			free(msg);
		}
	}

	/* adversarial large documents, one statement each */
	if (crashes == 0 && run_stress)
	{
		size_t		k;
		/* generous: a loaded CI machine is 2-5x slower; the answer, not the time, is checked */
		PGresult   *res = PQexec(conn, "SET statement_timeout = '600s'");

		PQclear(res);
		for (k = 0; k < sizeof(stresses) / sizeof(stresses[0]); k++)
		{
			char		st[8];
			char	   *msg;
			double		ts,
						el;
			int			rc;
			bool		ok;

			doc.len = 0;
			stresses[k].gen(&doc);
			ts = now_seconds();
			rc = try_single(&conn, doc.p, doc.len, st, sizeof(st), &msg);
			el = now_seconds() - ts;
			ok = rc == 0;
			stress_run++;
			if (ok)
				stress_ok++;
			else
				failures++;
			if (rc == 2)
				crashes++;
			printf("STRESS name=%s bytes=%zu seconds=%.2f answered=%s ok=%s",
				   stresses[k].name, doc.len, el, rc == 0 ? "yes" : "no", ok ? "yes" : "no");
			if (rc != 0)
			{
				char	   *nl = msg ? strchr(msg, '\n') : NULL;

				if (nl)
					*nl = '\0';
				printf(" sqlstate=%s%s error=\"%s\"", st,
					   rc == 2 ? " connection=lost" : "", msg ? msg : "");
			}
			putchar('\n');
			free(msg);
		}
		res = PQexec(conn, "SET statement_timeout = '300s'");
		PQclear(res);
	}

	alive = PQstatus(conn) == CONNECTION_OK;
	{
		char	   *one = query_value(conn, "SELECT 1");

		select1_ok = one != NULL && strcmp(one, "1") == 0;
		free(one);
	}
	if (!alive || !select1_ok)
	{
		/* still tell whether the server restarted */
		PQfinish(conn);
		conn = connect_db(30);
	}
	start_after = query_value(conn, "SELECT pg_postmaster_start_time()");
	restarted = start_after == NULL || strcmp(start_after, start_before) != 0;
	if (!alive || !select1_ok || restarted)
		failures++;
	if (inv_accepted > 0)
		failures++;
	if (sent != ndocs || answered != sent)
		failures++;
	PQfinish(conn);

	printf("SUMMARY seed=%" PRIu64 " documents=%ld batches=%ld answered=%ld outcomes=%ld valid=%ld invalid=%ld pristine_rejected=%ld\n",
		   seed, sent, nbatches, answered, outcomes, valid, rejected, pristine_rejected);
	printf("SUMMARY seconds=%.1f docs_per_second=%.0f failed_batches=%ld\n",
		   t_docs, t_docs > 0 ? answered / t_docs : 0.0, failed_batches);
	printf("SUMMARY invalid_json_sent=%d invalid_json_22P02=%d invalid_json_other_error=%d invalid_json_accepted=%d\n",
		   inv_sent, inv_22p02, inv_other, inv_accepted);
	printf("SUMMARY stress_run=%d stress_ok=%d\n", stress_run, stress_ok);
	printf("SUMMARY connection_alive=%s select_1=%s crashes=%ld postmaster_start_before=\"%s\" postmaster_start_after=\"%s\" restarted=%s\n",
		   alive ? "yes" : "no", select1_ok ? "yes" : "no", crashes, start_before,
		   start_after ? start_after : "?", restarted ? "yes" : "no");
	printf("RESULT %s\n", failures == 0 ? "PASS" : "FAIL");
	return failures == 0 ? 0 : 1;
}
