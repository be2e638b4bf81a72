/*-------------------------------------------------------------------------
 *
 * fuzz_fhir_types.c
 *	  libFuzzer entry point for src/fhir_types.c (and src/fhir_xhtml.c).
 *
 * Build and run (from the project root):
 *	  clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *		  -fno-sanitize-recover=undefined -I src src/fhir_types.c src/fhir_xhtml.c \
 *		  test/unit/fuzz_fhir_types.c -o fuzz_fhir_types
 *	  ./fuzz_fhir_types -max_total_time=120 CORPUS_DIR
 *
 * Every public function is called with every primitive on the input bytes
 * (libFuzzer hands over a buffer of exactly size bytes, so ASan catches any
 * read past len).  Besides crashes, the harness aborts on broken
 * invariants:
 *	- a refusal always comes with a non-empty reason, a success with none;
 *	- string and number primitives refuse each other's JSON kind;
 *	- date, dateTime and instant agree with fhir_parse_time_range, ranges
 *	  are non-empty, and what instant or date accepts dateTime accepts
 *	  with the same range;
 *	- fhir_time_range_before is irreflexive and asymmetric;
 *	- a differential check against the R4 regexes (POSIX ERE, C locale,
 *	  for inputs without NUL bytes): id, oid, uuid, time, decimal, code,
 *	  uri, string and base64Binary must agree exactly; date, dateTime,
 *	  instant and the integer types may only refuse more than the regex
 *	  for the calendar or the 32-bit range.
 *
 *-------------------------------------------------------------------------
 */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_types.h"

#define LAST_PRIM	FP_SYSTEM_STRING

/* Stops the run with a message (libFuzzer saves the input). */
static void
fail(const char *what, FhirPrim prim, const char *why)
{
	fprintf(stderr, "invariant broken: %s (prim %d, why %s)\n", what,
			(int) prim, why ? why : "NULL");
	abort();
}

/* The regexes of the R4 primitives, translated to anchored POSIX ERE. */
enum
{
	RX_ID, RX_OID, RX_UUID, RX_TIME, RX_DECIMAL, RX_CODE, RX_URI, RX_STRING,
	RX_DATE, RX_DATETIME, RX_INSTANT, RX_INTEGER, RX_POSITIVEINT,
	RX_UNSIGNEDINT, RX_BASE64, RX_COUNT
};

#define NS "[^[:space:][:cntrl:]]"	/* \S as fhir_types.c defines it */
#define YEAR "([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
#define CLOCK "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?"
#define ZONE "(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"

static const char *const rx_src[RX_COUNT] = {
	[RX_ID] = "^[A-Za-z0-9.-]{1,64}$",
	[RX_OID] = "^urn:oid:[0-2](\\.(0|[1-9][0-9]*))+$",
	[RX_UUID] = "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
	[RX_TIME] = "^" CLOCK "$",
	[RX_DECIMAL] = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$",
	[RX_CODE] = "^" NS "+([ \t\r\n]" NS "+)*$",
	[RX_URI] = "^" NS "+$",
	[RX_STRING] = "^([ \r\n\t]|" NS ")+$",
	[RX_DATE] = "^" YEAR "(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$",
	[RX_DATETIME] = "^" YEAR "(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
		"(T" CLOCK ZONE ")?)?)?$",
	[RX_INSTANT] = "^" YEAR "-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T"
		CLOCK ZONE "$",
	[RX_INTEGER] = "^-?(0|[1-9][0-9]*)$",
	[RX_POSITIVEINT] = "^[1-9][0-9]*$",
	[RX_UNSIGNEDINT] = "^(0|[1-9][0-9]*)$",
	/* applied to the input with whitespace removed */
	[RX_BASE64] = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$",
};

static regex_t rx[RX_COUNT];
static bool rx_ready = false;

/* Compiles the regexes once (C locale, so bytes >= 0x80 are single chars). */
static void
rx_init(void)
{
	int			k;

	if (rx_ready)
		return;
	for (k = 0; k < RX_COUNT; k++)
	{
		int			rc = regcomp(&rx[k], rx_src[k], REG_EXTENDED | REG_NOSUB);

		if (rc != 0)
		{
			char		msg[200];

			regerror(rc, &rx[k], msg, sizeof(msg));
			fprintf(stderr, "regex %d: %s\n", k, msg);
			abort();
		}
	}
	rx_ready = true;
}

/* Does the NUL-terminated text match regex k? */
static bool
rx_match(int k, const char *z)
{
	return regexec(&rx[k], z, 0, NULL, 0) == 0;
}

/* fhir_check_string with the success/reason invariant checked. */
static bool
check_s(FhirPrim prim, const char *s, size_t len, const char **why)
{
	bool		ok = fhir_check_string(prim, s, len, why);

	if (ok && *why != NULL)
		fail("success with a reason", prim, *why);
	if (!ok && (*why == NULL || (*why)[0] == '\0'))
		fail("refusal without a reason", prim, *why);
	return ok;
}

/* fhir_check_number with the success/reason invariant checked. */
static bool
check_n(FhirPrim prim, const char *s, size_t len, const char **why)
{
	bool		ok = fhir_check_number(prim, s, len, why);

	if (ok && *why != NULL)
		fail("number success with a reason", prim, *why);
	if (!ok && (*why == NULL || (*why)[0] == '\0'))
		fail("number refusal without a reason", prim, *why);
	return ok;
}

/* Compares a check with its regex: equal, or (loose) only refusing more for `extra`. */
static void
differ(FhirPrim prim, bool ours, const char *why, int k, const char *z,
	   const char *extra)
{
	bool		theirs = rx_match(k, z);

	if (ours && !theirs)
		fail("accepted what the regex refuses", prim, why);
	if (!ours && theirs && (extra == NULL || strstr(why, extra) == NULL))
		fail("refused what the regex accepts", prim, why);
}

/* Differential checks against the R4 regexes for a NUL-free input. */
static void
differential(const uint8_t *data, size_t size)
{
	char	   *z = malloc(size + 1);
	char	   *b = malloc(size + 1);
	const char *s = (const char *) data;
	const char *why;
	bool		ours;
	bool		b64chars = true;
	bool		allspace = true;
	size_t		i,
				n = 0;

	if (!z || !b)
		abort();
	memcpy(z, data, size);
	z[size] = '\0';

	ours = check_s(FP_ID, s, size, &why);
	differ(FP_ID, ours, why, RX_ID, z, NULL);
	ours = check_s(FP_OID, s, size, &why);
	differ(FP_OID, ours, why, RX_OID, z, NULL);
	ours = check_s(FP_UUID, s, size, &why);
	differ(FP_UUID, ours, why, RX_UUID, z, NULL);
	ours = check_s(FP_TIME, s, size, &why);
	differ(FP_TIME, ours, why, RX_TIME, z, NULL);
	ours = check_s(FP_CODE, s, size, &why);
	differ(FP_CODE, ours, why, RX_CODE, z, NULL);
	ours = check_s(FP_URI, s, size, &why);
	differ(FP_URI, ours, why, RX_URI, z, NULL);
	ours = check_s(FP_SYSTEM_STRING, s, size, &why);
	differ(FP_SYSTEM_STRING, ours, why, RX_STRING, z, NULL);
	ours = check_s(FP_STRING, s, size, &why);
	differ(FP_STRING, ours, why, RX_STRING, z, "only whitespace");
	ours = check_s(FP_DATE, s, size, &why);
	differ(FP_DATE, ours, why, RX_DATE, z, "the day does not exist");
	ours = check_s(FP_DATETIME, s, size, &why);
	differ(FP_DATETIME, ours, why, RX_DATETIME, z, "the day does not exist");
	ours = check_s(FP_INSTANT, s, size, &why);
	differ(FP_INSTANT, ours, why, RX_INSTANT, z, "the day does not exist");
	ours = check_n(FP_DECIMAL, s, size, &why);
	differ(FP_DECIMAL, ours, why, RX_DECIMAL, z, NULL);
	ours = check_n(FP_INTEGER, s, size, &why);
	differ(FP_INTEGER, ours, why, RX_INTEGER, z, "between");
	ours = check_n(FP_POSITIVEINT, s, size, &why);
	differ(FP_POSITIVEINT, ours, why, RX_POSITIVEINT, z, "between");
	ours = check_n(FP_UNSIGNEDINT, s, size, &why);
	differ(FP_UNSIGNEDINT, ours, why, RX_UNSIGNEDINT, z, "between");

	/* base64Binary: exactly the padded alphabet once whitespace is removed */
	for (i = 0; i < size; i++)
	{
		unsigned char c = data[i];

		if (c == ' ' || (c >= '\t' && c <= '\r'))
			continue;
		allspace = false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			b64chars = false;
		b[n++] = (char) c;
	}
	b[n] = '\0';
	ours = check_s(FP_BASE64BINARY, s, size, &why);
	if (ours != (b64chars && !allspace && rx_match(RX_BASE64, b)))
		fail("base64Binary disagrees with the padded-alphabet regex",
			 FP_BASE64BINARY, why);

	free(z);
	free(b);
}

/* Checks the date-like primitives against each other and the range parser. */
static void
check_dates(const char *s, size_t len)
{
	static const FhirPrim dp[3] = {FP_DATE, FP_DATETIME, FP_INSTANT};
	FhirTimeRange r[3];
	bool		ok[3];
	int			k;

	for (k = 0; k < 3; k++)
	{
		const char *why1,
				   *why2;
		bool		c = check_s(dp[k], s, len, &why1);

		r[k].lo = 1;
		r[k].hi = 0;
		ok[k] = fhir_parse_time_range(dp[k], s, len, &r[k], &why2);
		if (c != ok[k])
			fail("fhir_check_string and fhir_parse_time_range disagree", dp[k], why2);
		if (!ok[k] && (why2 == NULL || r[k].lo != 1 || r[k].hi != 0))
			fail("failed range parse without reason or with output", dp[k], why2);
		if (ok[k] && r[k].lo >= r[k].hi)
			fail("empty range", dp[k], NULL);
		if (ok[k] && fhir_time_range_before(&r[k], &r[k]))
			fail("range before itself", dp[k], NULL);
	}
	if (ok[0] && (!ok[1] || r[0].lo != r[1].lo || r[0].hi != r[1].hi))
		fail("date accepted but dateTime differs", FP_DATE, NULL);
	if (ok[2] && (!ok[1] || r[2].lo != r[1].lo || r[2].hi != r[1].hi))
		fail("instant accepted but dateTime differs", FP_INSTANT, NULL);
	if (ok[1] && ok[0] == ok[2])
		fail("dateTime accepted but not exactly one of date/instant", FP_DATETIME, NULL);
}

/*
 * Splits the input at its first '|' and, when both halves are dateTimes,
 * checks that "before" is asymmetric and consistent with the bounds.
 */
static void
check_before(const char *s, size_t len)
{
	const char *bar = memchr(s, '|', len);
	FhirTimeRange a,
				b;
	size_t		alen;

	if (!bar)
		return;
	alen = (size_t) (bar - s);
	if (!fhir_parse_time_range(FP_DATETIME, s, alen, &a, NULL) ||
		!fhir_parse_time_range(FP_DATETIME, bar + 1, len - alen - 1, &b, NULL))
		return;
	if (fhir_time_range_before(&a, &b) && fhir_time_range_before(&b, &a))
		fail("before is not asymmetric", FP_DATETIME, NULL);
	if (fhir_time_range_before(&a, &b) != (a.hi <= b.lo))
		fail("before is not a.hi <= b.lo", FP_DATETIME, NULL);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	const char *why;
	int			p;

	rx_init();

	/* every public function with every primitive, including bad enum values */
	for (p = -1; p <= (int) LAST_PRIM + 1; p++)
	{
		FhirPrim	prim = (FhirPrim) p;
		FhirTimeRange r;
		bool		is_num = (prim == FP_INTEGER || prim == FP_POSITIVEINT ||
							  prim == FP_UNSIGNEDINT || prim == FP_DECIMAL);
		bool		is_str = (p > FP_NONE && p <= (int) LAST_PRIM &&
							  prim != FP_BOOLEAN && !is_num);

		if (check_s(prim, s, size, &why) && !is_str)
			fail("a non-string primitive accepted a string", prim, why);
		if (check_n(prim, s, size, &why) && !is_num)
			fail("a non-number primitive accepted a number", prim, why);
		if (fhir_parse_time_range(prim, s, size, &r, &why) &&
			prim != FP_DATE && prim != FP_DATETIME && prim != FP_INSTANT)
			fail("a non-date primitive parsed a range", prim, why);
	}
	if (fhir_check_currency(s, size, &why) != (size == 3 &&
											   data[0] >= 'A' && data[0] <= 'Z' &&
											   data[1] >= 'A' && data[1] <= 'Z' &&
											   data[2] >= 'A' && data[2] <= 'Z'))
		fail("currency", FP_NONE, why);
	(void) fhir_check_mimetype(s, size, &why);
	(void) fhir_check_string(FP_XHTML, s, size, NULL);

	check_dates(s, size);
	check_before(s, size);
	if (memchr(data, '\0', size) == NULL)
		differential(data, size);
	return 0;
}
