/*-------------------------------------------------------------------------
 *
 * test_fhir_types.c
 *	  Stand-alone unit tests of src/fhir_types.c, printing TAP.
 *
 * Build and run (from the project root):
 *	  gcc -std=gnu99 -Wall -Wextra -Werror -I src src/fhir_types.c \
 *		  test/unit/test_fhir_types.c -o test_fhir_types && ./test_fhir_types
 *
 * Every value is passed with an exact length and copied into a buffer of
 * exactly that size first, so that valgrind or ASan catch any read past the
 * end (the functions must never rely on a terminating NUL).
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_lex.h"
#include "fhir_names.h"
#include "fhir_tables.h"
#include "fhir_types.h"
#include "fhir_xhtml.h"

static int	ntests = 0;
static int	nfailed = 0;

/* Names of the primitives, for test descriptions. */
static const char *
prim_name(FhirPrim p)
{
	switch (p)
	{
		case FP_NONE: return "none";
		case FP_BASE64BINARY: return "base64Binary";
		case FP_BOOLEAN: return "boolean";
		case FP_CANONICAL: return "canonical";
		case FP_CODE: return "code";
		case FP_DATE: return "date";
		case FP_DATETIME: return "dateTime";
		case FP_DECIMAL: return "decimal";
		case FP_ID: return "id";
		case FP_INSTANT: return "instant";
		case FP_INTEGER: return "integer";
		case FP_MARKDOWN: return "markdown";
		case FP_OID: return "oid";
		case FP_POSITIVEINT: return "positiveInt";
		case FP_STRING: return "string";
		case FP_TIME: return "time";
		case FP_UNSIGNEDINT: return "unsignedInt";
		case FP_URI: return "uri";
		case FP_URL: return "url";
		case FP_UUID: return "uuid";
		case FP_XHTML: return "xhtml";
		case FP_SYSTEM_STRING: return "System.String";
	}
	return "?";
}

/* Writes a printable, shortened rendering of a value into buf. */
static const char *
show(const char *s, size_t len, char *buf, size_t bufsize)
{
	size_t		o = 0;
	size_t		i;

	for (i = 0; i < len && o + 8 < bufsize; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char) c;
		else
			o += (size_t) snprintf(buf + o, bufsize - o, "\\x%02x", c);
	}
	if (i < len)
	{
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Reports one test result. */
static void
report(bool pass, const char *desc)
{
	ntests++;
	if (!pass)
		nfailed++;
	printf("%s %d - %s\n", pass ? "ok" : "not ok", ntests, desc);
}

/* A copy of (s, len) in a heap block of exactly len bytes (1 if empty). */
static char *
exact_copy(const char *s, size_t len)
{
	char	   *p = malloc(len ? len : 1);

	if (!p)
	{
		perror("malloc");
		exit(2);
	}
	memcpy(p, s, len);
	return p;
}

/* A checker of one primitive's lexical form: fhir_check_string or fhir_check_number. */
typedef bool (*PrimChecker) (FhirPrim prim, const char *s, size_t len, const char **why);

/*
 * Checks check(prim, s, len); expect_ok says whether it should pass;
 * want_why (if not NULL) is a substring the reason must contain.  what and
 * quote shape the test's description ("string", "\"" or "number", "").
 */
static void
t_check(PrimChecker check, const char *what, const char *quote, FhirPrim prim,
		const char *s, size_t len, bool expect_ok, const char *want_why)
{
	char		desc[400];
	char		sh[200];
	char	   *copy = exact_copy(s, len);
	const char *why = "(unset)";
	bool		got = check(prim, copy, len, &why);
	bool		pass = (got == expect_ok);

	if (pass && !got && (why == NULL || (want_why && !strstr(why, want_why))))
		pass = false;
	if (pass && got && why != NULL)
		pass = false;
	snprintf(desc, sizeof(desc), "%s%s%s %s%s%s %s%s%s%s", what, *what ? " " : "",
			 prim_name(prim), quote, show(s, len, sh, sizeof(sh)), quote,
			 expect_ok ? "accepted" : "refused",
			 (!got && why) ? " (" : "", (!got && why) ? why : "",
			 (!got && why) ? ")" : "");
	report(pass, desc);
	free(copy);
}

/* Checks fhir_check_string(prim, s, len) (see t_check). */
static void
t_string(FhirPrim prim, const char *s, size_t len, bool expect_ok,
		 const char *want_why)
{
	t_check(fhir_check_string, "", "\"", prim, s, len, expect_ok, want_why);
}

/*
 * Checks that fhir_check_string_warn(prim, s, len) accepts the value with a
 * warning containing want_warn (or, when want_warn is NULL, without one),
 * and that fhir_check_string accepts it too.
 */
static void
t_warn(FhirPrim prim, const char *s, size_t len, const char *want_warn)
{
	char		desc[400];
	char		sh[200];
	char	   *copy = exact_copy(s, len);
	const char *why = "(unset)";
	const char *warn = "(unset)";
	bool		got = fhir_check_string_warn(prim, copy, len, &why, &warn);
	bool		pass = got && why == NULL &&
		(want_warn ? (warn != NULL && strstr(warn, want_warn) != NULL) : warn == NULL) &&
		fhir_check_string(prim, copy, len, NULL);

	snprintf(desc, sizeof(desc), "%s \"%s\" accepted %s%s%s", prim_name(prim),
			 show(s, len, sh, sizeof(sh)),
			 want_warn ? "with a warning (" : "without a warning",
			 want_warn ? (warn ? warn : "none") : "", want_warn ? ")" : "");
	report(pass, desc);
	free(copy);
}

/* Same for fhir_check_number. */
static void
t_number(FhirPrim prim, const char *s, size_t len, bool expect_ok,
		 const char *want_why)
{
	t_check(fhir_check_number, "number", "", prim, s, len, expect_ok, want_why);
}

/* Checks a currency code. */
static void
t_currency(const char *s, size_t len, bool expect_ok)
{
	char		desc[300];
	char		sh[200];
	char	   *copy = exact_copy(s, len);
	const char *why = NULL;
	bool		got = fhir_check_currency(copy, len, &why);

	snprintf(desc, sizeof(desc), "currency \"%s\" %s", show(s, len, sh, sizeof(sh)),
			 expect_ok ? "accepted" : "refused");
	report(got == expect_ok && (got || why != NULL), desc);
	free(copy);
}

/* Checks a MIME type. */
static void
t_mime(const char *s, size_t len, bool expect_ok)
{
	char		desc[300];
	char		sh[200];
	char	   *copy = exact_copy(s, len);
	const char *why = NULL;
	bool		got = fhir_check_mimetype(copy, len, &why);

	snprintf(desc, sizeof(desc), "mimetype \"%s\" %s", show(s, len, sh, sizeof(sh)),
			 expect_ok ? "accepted" : "refused");
	report(got == expect_ok && (got || why != NULL), desc);
	free(copy);
}

/* Parses a value into a range, failing the program's test if it does not parse. */
static FhirTimeRange
range_of(FhirPrim prim, const char *s)
{
	FhirTimeRange r = {0, 0};
	size_t		len = strlen(s);
	char	   *copy = exact_copy(s, len);
	const char *why = NULL;

	if (!fhir_parse_time_range(prim, copy, len, &r, &why))
	{
		char		desc[300];

		snprintf(desc, sizeof(desc), "range of %s %s parses (%s)",
				 prim_name(prim), s, why ? why : "?");
		report(false, desc);
	}
	free(copy);
	return r;
}

/* Checks the exact range of a value (lo/hi in microseconds since the epoch). */
static void
t_range(FhirPrim prim, const char *s, int64_t lo, int64_t hi)
{
	char		desc[300];
	FhirTimeRange r = range_of(prim, s);

	snprintf(desc, sizeof(desc), "range of %s %s is [%lld, %lld) (got [%lld, %lld))",
			 prim_name(prim), s, (long long) lo, (long long) hi,
			 (long long) r.lo, (long long) r.hi);
	report(r.lo == lo && r.hi == hi, desc);
}

/* Checks fhir_time_range_before(a, b) for two values. */
static void
t_before(FhirPrim pa, const char *a, FhirPrim pb, const char *b, bool expect)
{
	char		desc[300];
	FhirTimeRange ra = range_of(pa, a);
	FhirTimeRange rb = range_of(pb, b);

	snprintf(desc, sizeof(desc), "%s %s %s certainly before %s %s",
			 prim_name(pa), a, expect ? "is" : "is not", prim_name(pb), b);
	report(fhir_time_range_before(&ra, &rb) == expect, desc);
}

/* Checks that a value is refused by fhir_parse_time_range and *out untouched. */
static void
t_range_bad(FhirPrim prim, const char *s)
{
	char		desc[300];
	FhirTimeRange r = {123, 456};
	size_t		len = strlen(s);
	char	   *copy = exact_copy(s, len);
	const char *why = NULL;
	bool		got = fhir_parse_time_range(prim, copy, len, &r, &why);

	snprintf(desc, sizeof(desc), "range of %s \"%s\" refused (%s)",
			 prim_name(prim), s, why ? why : "no reason");
	report(!got && why != NULL && r.lo == 123 && r.hi == 456, desc);
	free(copy);
}

/* Literal helpers: the length includes embedded NULs, not the terminator. */
#define OK(prim, lit)			t_string(prim, lit, sizeof(lit) - 1, true, NULL)
#define BAD(prim, lit)			t_string(prim, lit, sizeof(lit) - 1, false, NULL)
#define BADW(prim, lit, w)		t_string(prim, lit, sizeof(lit) - 1, false, w)
#define WARNW(prim, lit, w)		t_warn(prim, lit, sizeof(lit) - 1, w)
#define NOK(prim, lit)			t_number(prim, lit, sizeof(lit) - 1, true, NULL)
#define NBAD(prim, lit)			t_number(prim, lit, sizeof(lit) - 1, false, NULL)
#define NBADW(prim, lit, w)		t_number(prim, lit, sizeof(lit) - 1, false, w)
#define MIME(lit, expect)		t_mime(lit, sizeof(lit) - 1, expect)
#define CUR(lit, expect)		t_currency(lit, sizeof(lit) - 1, expect)

#define XNS " xmlns=\"http://www.w3.org/1999/xhtml\""
#define XDIV(body)	"<div" XNS ">" body "</div>"

/* Microseconds of a UTC date-time, computed independently for range tests. */
static int64_t
utc_us(int y, int mo, int d, int h, int mi, int s)
{
	/* days from 1970-01-01: count whole years then months (slow but obvious) */
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t		days = 0;
	int			k;

	if (y >= 1970)
		for (k = 1970; k < y; k++)
			days += 365 + ((k % 4 == 0 && k % 100 != 0) || k % 400 == 0);
	else
		for (k = y; k < 1970; k++)
			days -= 365 + ((k % 4 == 0 && k % 100 != 0) || k % 400 == 0);
	for (k = 1; k < mo; k++)
		days += mdays[k - 1] + (k == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	days += d - 1;
	return ((days * 24 + h) * 60 + mi) * INT64_C(60000000) + (int64_t) s * 1000000;
}

#define H14 (INT64_C(14) * 3600 * 1000000)

/* ---------------------------------------------------------------- */

static void
test_dates(void)
{
	/* date */
	OK(FP_DATE, "2024");
	OK(FP_DATE, "2024-02");
	OK(FP_DATE, "2024-02-29");
	OK(FP_DATE, "2000-02-29");
	OK(FP_DATE, "0001-01-01");
	OK(FP_DATE, "9999-12-31");
	BADW(FP_DATE, "2023-02-29", "day does not exist");
	BADW(FP_DATE, "2100-02-29", "day does not exist");
	BADW(FP_DATE, "1900-02-29", "day does not exist");
	BADW(FP_DATE, "2024-02-30", "day does not exist");
	BADW(FP_DATE, "2024-04-31", "day does not exist");
	OK(FP_DATE, "2024-03-31");
	BADW(FP_DATE, "2024-01-32", "01 to 31");
	BADW(FP_DATE, "2024-01-00", "01 to 31");
	BADW(FP_DATE, "2024-13", "month");
	BADW(FP_DATE, "2024-00", "month");
	BADW(FP_DATE, "0000", "year");
	BADW(FP_DATE, "0000-01-01", "year");
	BAD(FP_DATE, "");
	BAD(FP_DATE, "202");
	BAD(FP_DATE, "20245");
	BAD(FP_DATE, "2024-1");
	BAD(FP_DATE, "2024-01-1");
	BAD(FP_DATE, "2024/01/01");
	BAD(FP_DATE, "2024-01-01 ");
	BAD(FP_DATE, " 2024-01-01");
	BAD(FP_DATE, "+2024");
	BAD(FP_DATE, "2024-");
	BAD(FP_DATE, "2024-01-");
	BADW(FP_DATE, "2024-01-01T10:00:00Z", "must not have a time");
	BAD(FP_DATE, "2024-01-01\0");
	BAD(FP_DATE, "2024\0-01");
	BAD(FP_DATE, "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94");	/* full-width digits */

	/* dateTime */
	OK(FP_DATETIME, "2024");
	OK(FP_DATETIME, "2024-02");
	OK(FP_DATETIME, "2024-02-29");
	OK(FP_DATETIME, "2024-02-29T13:28:17Z");
	OK(FP_DATETIME, "2015-02-07T13:28:17-05:00");
	OK(FP_DATETIME, "2017-01-01T00:00:00.000Z");
	OK(FP_DATETIME, "2017-01-01T00:00:00.1234567890123+01:00");
	OK(FP_DATETIME, "2016-12-31T23:59:60Z");
	OK(FP_DATETIME, "2024-01-01T10:00:00+14:00");
	OK(FP_DATETIME, "2024-01-01T10:00:00-14:00");
	OK(FP_DATETIME, "2024-01-01T10:00:00+13:59");
	OK(FP_DATETIME, "2024-01-01T10:00:00-00:00");
	OK(FP_DATETIME, "2024-01-01T10:00:00+00:00");
	OK(FP_DATETIME, "2024-01-01T23:59:59Z");
	OK(FP_DATETIME, "2024-01-01T00:00:00Z");
	BADW(FP_DATETIME, "2024-01-01T10:00:00+14:01", "at most 14:00");
	BADW(FP_DATETIME, "2024-01-01T10:00:00+15:00", "at most 14:00");
	BADW(FP_DATETIME, "2024-01-01T10:00:00-14:30", "at most 14:00");
	BADW(FP_DATETIME, "2024-01-01T10:00:00+05:60", "minutes");
	BAD(FP_DATETIME, "2024-01-01T10:00:00+0500");
	BAD(FP_DATETIME, "2024-01-01T10:00:00+05");
	BAD(FP_DATETIME, "2024-01-01T10:00:00+5:00");
	BAD(FP_DATETIME, "2024-01-01T10:00:00z");
	BAD(FP_DATETIME, "2024-01-01t10:00:00Z");
	BAD(FP_DATETIME, "2024-01-01 10:00:00Z");
	BAD(FP_DATETIME, "2024-01-01T10:00:00ZZ");
	BAD(FP_DATETIME, "2024-01-01T10:00:00Z ");
	BADW(FP_DATETIME, "2024-01-01T24:00:00Z", "hour");
	BADW(FP_DATETIME, "2024-01-01T10:60:00Z", "minute");
	BADW(FP_DATETIME, "2024-01-01T10:00:61Z", "second");
	BADW(FP_DATETIME, "2024-01-01T10:00:00", "seconds and a time zone");
	BADW(FP_DATETIME, "2024-01-01T10:00Z", "seconds and a time zone");
	BADW(FP_DATETIME, "2024-01-01T10:00", "seconds and a time zone");
	BADW(FP_DATETIME, "2024-01-01T10:00+01:00", "seconds and a time zone");
	BAD(FP_DATETIME, "2024-01-01T10");
	BAD(FP_DATETIME, "2024-01-01T");
	BAD(FP_DATETIME, "2024-01T10:00:00Z");
	BAD(FP_DATETIME, "2024T10:00:00Z");
	BADW(FP_DATETIME, "2024-01-01T10:00:00.Z", "followed by digits");
	BAD(FP_DATETIME, "2024-01-01T10:00:00,5Z");
	BADW(FP_DATETIME, "2023-02-29T10:00:00Z", "day does not exist");
	BADW(FP_DATETIME, "2100-02-29T10:00:00Z", "day does not exist");
	OK(FP_DATETIME, "2000-02-29T10:00:00Z");
	BAD(FP_DATETIME, "0000-01-01T10:00:00Z");
	BAD(FP_DATETIME, "");

	/* instant */
	OK(FP_INSTANT, "2024-02-29T13:28:17Z");
	OK(FP_INSTANT, "2015-02-07T13:28:17.239+02:00");
	OK(FP_INSTANT, "2016-06-30T23:59:60Z");
	OK(FP_INSTANT, "2024-01-01T10:00:00+14:00");
	BADW(FP_INSTANT, "2024-01-01T10:00:00+14:01", "at most 14:00");
	BADW(FP_INSTANT, "2024-01-01T10:00:00", "seconds and a time zone");
	BADW(FP_INSTANT, "2024-01-01T10:00Z", "seconds and a time zone");
	BADW(FP_INSTANT, "2024-01-01", "instant");
	BADW(FP_INSTANT, "2024-01", "instant");
	BADW(FP_INSTANT, "2024", "instant");
	BADW(FP_INSTANT, "2023-02-29T10:00:00Z", "day does not exist");
	BAD(FP_INSTANT, "2024-01-01T24:00:00Z");
	BAD(FP_INSTANT, "");

	/* time */
	OK(FP_TIME, "00:00:00");
	OK(FP_TIME, "23:59:59");
	OK(FP_TIME, "23:59:60");
	OK(FP_TIME, "12:30:00.5");
	OK(FP_TIME, "12:30:00.123456789");
	BADW(FP_TIME, "24:00:00", "hour");
	BADW(FP_TIME, "12:60:00", "minute");
	BADW(FP_TIME, "12:00:61", "second");
	BAD(FP_TIME, "12:00");
	BAD(FP_TIME, "12:00:00Z");
	BAD(FP_TIME, "12:00:00+01:00");
	BAD(FP_TIME, "12:00:00.");
	BAD(FP_TIME, "1:00:00");
	BAD(FP_TIME, "T12:00:00");
	BAD(FP_TIME, "");
}

static void
test_ranges(void)
{
	int64_t		day = INT64_C(86400000000);

	/* exact values */
	t_range(FP_INSTANT, "1970-01-01T00:00:00Z", 0, 1000000);
	t_range(FP_DATETIME, "1970-01-01T00:00:00.5Z", 500000, 600000);
	t_range(FP_DATETIME, "1970-01-01T00:00:00.25Z", 250000, 260000);
	t_range(FP_DATETIME, "1970-01-01T00:00:00.123456Z", 123456, 123457);
	t_range(FP_DATETIME, "1970-01-01T00:00:00.1234569Z", 123456, 123457);
	t_range(FP_DATETIME, "1970-01-01T01:00:00+01:00", 0, 1000000);
	t_range(FP_DATETIME, "1969-12-31T19:00:00-05:00", 0, 1000000);
	t_range(FP_INSTANT, "2020-01-01T10:00:00+02:00",
			utc_us(2020, 1, 1, 8, 0, 0), utc_us(2020, 1, 1, 8, 0, 1));
	t_range(FP_INSTANT, "2024-02-29T23:59:59Z",
			utc_us(2024, 2, 29, 23, 59, 59), utc_us(2024, 3, 1, 0, 0, 0));
	t_range(FP_INSTANT, "0001-01-01T00:00:00+14:00",
			utc_us(1, 1, 1, 0, 0, 0) - H14, utc_us(1, 1, 1, 0, 0, 0) - H14 + 1000000);
	t_range(FP_INSTANT, "9999-12-31T23:59:59-14:00",
			utc_us(9999, 12, 31, 23, 59, 59) + H14,
			utc_us(9999, 12, 31, 23, 59, 59) + H14 + 1000000);
	/* leap second reads as 23:59:59.999999 */
	t_range(FP_INSTANT, "2016-12-31T23:59:60Z",
			utc_us(2017, 1, 1, 0, 0, 0) - 1, utc_us(2017, 1, 1, 0, 0, 0));
	t_range(FP_INSTANT, "2016-12-31T23:59:60.5Z",
			utc_us(2017, 1, 1, 0, 0, 0) - 1, utc_us(2017, 1, 1, 0, 0, 0));

	/* reduced precision: no zone, so widened by 14 h each side */
	t_range(FP_DATE, "1970-01-01", -H14, day + H14);
	t_range(FP_DATETIME, "1970-01-01", -H14, day + H14);
	t_range(FP_DATE, "2024-02",
			utc_us(2024, 2, 1, 0, 0, 0) - H14, utc_us(2024, 3, 1, 0, 0, 0) + H14);
	t_range(FP_DATE, "2023-12",
			utc_us(2023, 12, 1, 0, 0, 0) - H14, utc_us(2024, 1, 1, 0, 0, 0) + H14);
	t_range(FP_DATE, "2024",
			utc_us(2024, 1, 1, 0, 0, 0) - H14, utc_us(2025, 1, 1, 0, 0, 0) + H14);
	t_range(FP_DATE, "9999",
			utc_us(9999, 1, 1, 0, 0, 0) - H14, utc_us(10000, 1, 1, 0, 0, 0) + H14);
	t_range(FP_DATE, "0001",
			utc_us(1, 1, 1, 0, 0, 0) - H14, utc_us(2, 1, 1, 0, 0, 0) + H14);
	t_range(FP_DATE, "2000-02-29",
			utc_us(2000, 2, 29, 0, 0, 0) - H14, utc_us(2000, 3, 1, 0, 0, 0) + H14);

	/* refusals */
	t_range_bad(FP_DATE, "2023-02-29");
	t_range_bad(FP_DATETIME, "2024-01-01T10:00:00");
	t_range_bad(FP_INSTANT, "2024-01-01");
	t_range_bad(FP_TIME, "10:00:00");
	t_range_bad(FP_STRING, "2024");
	t_range_bad(FP_DATE, "");

	/* before: time zones */
	t_before(FP_INSTANT, "2020-01-01T10:00:00+02:00",
			 FP_INSTANT, "2020-01-01T09:00:00Z", true);
	t_before(FP_INSTANT, "2020-01-01T09:00:00Z",
			 FP_INSTANT, "2020-01-01T10:00:00+02:00", false);
	t_before(FP_INSTANT, "2020-01-01T10:00:00+01:00",
			 FP_INSTANT, "2020-01-01T09:00:00Z", false);	/* equal */
	t_before(FP_INSTANT, "2020-01-01T09:00:00Z",
			 FP_INSTANT, "2020-01-01T10:00:00+01:00", false);	/* equal */
	t_before(FP_INSTANT, "2020-01-01T09:00:00Z",
			 FP_INSTANT, "2020-01-01T09:00:01Z", true);
	t_before(FP_INSTANT, "2020-01-01T21:00:00-05:00",
			 FP_INSTANT, "2020-01-02T03:00:00Z", true);
	t_before(FP_INSTANT, "2020-01-02T03:00:00Z",
			 FP_INSTANT, "2020-01-01T21:00:00-05:00", false);
	t_before(FP_INSTANT, "2020-01-01T23:00:00-05:00",
			 FP_INSTANT, "2020-01-02T03:00:00Z", false);	/* 04:00Z */
	t_before(FP_INSTANT, "2020-01-02T03:00:00Z",
			 FP_INSTANT, "2020-01-01T23:00:00-05:00", true);
	t_before(FP_DATETIME, "2020-01-01T00:00:00+14:00",
			 FP_DATETIME, "2019-12-31T11:00:00-00:00", true);
	/* before: precision */
	t_before(FP_INSTANT, "2020-01-01T09:00:00Z",
			 FP_INSTANT, "2020-01-01T09:00:00.5Z", false);
	t_before(FP_INSTANT, "2020-01-01T09:00:00.4Z",
			 FP_INSTANT, "2020-01-01T09:00:00.5Z", true);
	t_before(FP_INSTANT, "2020-01-01T09:00:00.49Z",
			 FP_INSTANT, "2020-01-01T09:00:00.5Z", true);
	t_before(FP_INSTANT, "2020-01-01T09:00:00.5Z",
			 FP_INSTANT, "2020-01-01T09:00:00.49Z", false);
	t_before(FP_INSTANT, "2020-01-01T09:00:00.123456Z",
			 FP_INSTANT, "2020-01-01T09:00:00.1234567Z", false);
	/* 60 reads as 59.999999: conservative against fractions of second 59 */
	t_before(FP_INSTANT, "2016-12-31T23:59:59.999Z",
			 FP_INSTANT, "2016-12-31T23:59:60Z", false);
	t_before(FP_INSTANT, "2016-12-31T23:59:58Z",
			 FP_INSTANT, "2016-12-31T23:59:60Z", true);
	t_before(FP_INSTANT, "2016-12-31T23:59:60Z",
			 FP_INSTANT, "2016-12-31T23:59:59.999Z", false);
	t_before(FP_INSTANT, "2016-12-31T23:59:60Z",
			 FP_INSTANT, "2017-01-01T00:00:00Z", true);
	t_before(FP_DATE, "2020-01-01", FP_DATETIME, "2020-01-01T12:00:00Z", false);
	t_before(FP_DATETIME, "2020-01-01T12:00:00Z", FP_DATE, "2020-01-01", false);
	t_before(FP_DATE, "2020-01-01", FP_DATETIME, "2020-01-02T05:00:00Z", false);
	t_before(FP_DATE, "2020-01-01", FP_DATETIME, "2020-01-02T13:59:59Z", false);
	t_before(FP_DATE, "2020-01-01", FP_DATETIME, "2020-01-02T14:00:00Z", true);
	t_before(FP_DATETIME, "2019-12-31T09:59:59Z", FP_DATE, "2020-01-01", true);
	t_before(FP_DATETIME, "2019-12-31T10:00:00Z", FP_DATE, "2020-01-01", false);
	t_before(FP_DATE, "2020-01-01", FP_DATE, "2020-01-01", false);
	t_before(FP_DATE, "2020-01-01", FP_DATE, "2020-01-02", false);
	/* unzoned dates: each may be read in any zone from -14:00 to +14:00 */
	t_before(FP_DATE, "2020-01-01", FP_DATE, "2020-01-03", false);
	t_before(FP_DATE, "2020-01-01", FP_DATE, "2020-01-04", true);
	t_before(FP_DATE, "2020", FP_DATE, "2020-06", false);
	t_before(FP_DATE, "2020-06", FP_DATE, "2020", false);
	t_before(FP_DATE, "2020", FP_DATE, "2021", false);
	t_before(FP_DATE, "2020", FP_DATE, "2021-01-02", false);
	t_before(FP_DATE, "2020", FP_DATE, "2021-01-03", true);
	t_before(FP_DATE, "2020-01", FP_DATETIME, "2020-01-31T23:00:00Z", false);
	t_before(FP_DATETIME, "2020-02-29T12:00:00Z", FP_DATE, "2020-03", false);
	t_before(FP_DATETIME, "2020-02-28T12:00:00Z", FP_DATE, "2020-03", true);
}

static void
test_numbers(void)
{
	/* integer */
	NOK(FP_INTEGER, "0");
	NOK(FP_INTEGER, "12");
	NOK(FP_INTEGER, "-12");
	NOK(FP_INTEGER, "2147483647");
	NOK(FP_INTEGER, "-2147483648");
	NOK(FP_INTEGER, "-0");
	NBADW(FP_INTEGER, "2147483648", "between");
	NBADW(FP_INTEGER, "-2147483649", "between");
	NBADW(FP_INTEGER, "99999999999999999999999999", "between");
	NBADW(FP_INTEGER, "-99999999999999999999999999", "between");
	NBADW(FP_INTEGER, "1.0", "fraction");
	NBADW(FP_INTEGER, "1.5", "fraction");
	NBADW(FP_INTEGER, "1e3", "fraction or exponent");
	NBADW(FP_INTEGER, "NaN", "NaN");
	NBADW(FP_INTEGER, "Infinity", "NaN");
	NBADW(FP_INTEGER, "-Infinity", "NaN");
	NBAD(FP_INTEGER, "01");
	NBAD(FP_INTEGER, "-01");
	NBAD(FP_INTEGER, "+1");
	NBAD(FP_INTEGER, "-");
	NBAD(FP_INTEGER, "");
	NBAD(FP_INTEGER, " 1");
	NBAD(FP_INTEGER, "1 ");
	NBAD(FP_INTEGER, "1\0");
	NBAD(FP_INTEGER, "0x10");
	/* positiveInt */
	NOK(FP_POSITIVEINT, "1");
	NOK(FP_POSITIVEINT, "2147483647");
	NBADW(FP_POSITIVEINT, "0", "at least 1");
	NBADW(FP_POSITIVEINT, "-0", "at least 1");
	NBADW(FP_POSITIVEINT, "-1", "at least 1");
	NBADW(FP_POSITIVEINT, "2147483648", "between 1 and 2147483647");
	NBAD(FP_POSITIVEINT, "1.0");
	NBAD(FP_POSITIVEINT, "NaN");
	/* unsignedInt */
	NOK(FP_UNSIGNEDINT, "0");
	NOK(FP_UNSIGNEDINT, "7");
	NOK(FP_UNSIGNEDINT, "2147483647");
	NBADW(FP_UNSIGNEDINT, "-1", "negative");
	NBADW(FP_UNSIGNEDINT, "-0", "negative");
	NBADW(FP_UNSIGNEDINT, "2147483648", "between 0 and 2147483647");
	NBAD(FP_UNSIGNEDINT, "0.0");
	NBAD(FP_UNSIGNEDINT, "00");
	/* decimal */
	NOK(FP_DECIMAL, "0");
	NOK(FP_DECIMAL, "-0");
	NOK(FP_DECIMAL, "-3.50");
	NOK(FP_DECIMAL, "12");
	NOK(FP_DECIMAL, "0.0000001");
	NOK(FP_DECIMAL, "1e10");
	NOK(FP_DECIMAL, "1.5E-10");
	NOK(FP_DECIMAL, "1.5e+10");
	NOK(FP_DECIMAL, "123456789012345678901234567890.123456789012345678901234567890");
	NBADW(FP_DECIMAL, "NaN", "NaN");
	NBADW(FP_DECIMAL, "Infinity", "NaN");
	NBADW(FP_DECIMAL, "-Infinity", "NaN");
	NBAD(FP_DECIMAL, "01");
	NBAD(FP_DECIMAL, "1.");
	NBAD(FP_DECIMAL, ".5");
	NBAD(FP_DECIMAL, "1e");
	NBAD(FP_DECIMAL, "1e+");
	NBAD(FP_DECIMAL, "+1");
	NBAD(FP_DECIMAL, "-");
	NBAD(FP_DECIMAL, "");
	NBAD(FP_DECIMAL, "1.5.5");
	NBAD(FP_DECIMAL, "1,5");
	/* wrong JSON kind */
	NBADW(FP_STRING, "12", "must be a JSON string");
	NBADW(FP_DATE, "2024", "must be a JSON string");
	NBADW(FP_CODE, "1", "must be a JSON string");
	NBADW(FP_BOOLEAN, "1", "must be a JSON boolean");
	NBADW(FP_NONE, "1", "not a FHIR primitive");
	BADW(FP_INTEGER, "12", "must be a JSON number");
	BADW(FP_DECIMAL, "1.5", "must be a JSON number");
	BADW(FP_POSITIVEINT, "1", "must be a JSON number");
	BADW(FP_UNSIGNEDINT, "1", "must be a JSON number");
	BADW(FP_BOOLEAN, "true", "must be a JSON boolean");
	BADW(FP_NONE, "x", "not a FHIR primitive");
	BADW((FhirPrim) 999, "x", "not a FHIR primitive");
	NBADW((FhirPrim) 999, "1", "not a FHIR primitive");
}

static void
test_strings(void)
{
	static char big[FHIR_STRING_MAX_BYTES + 1];

	/* string, markdown, System.String */
	OK(FP_STRING, "hello");
	OK(FP_STRING, "a");
	OK(FP_STRING, " leading and trailing ");
	OK(FP_STRING, "tab\there\r\nnew line");
	OK(FP_STRING, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	OK(FP_STRING, "\x7e");
	BADW(FP_STRING, "", "empty");
	/* only whitespace and C0/DEL controls (VT and FF too): warnings, as HL7's validator */
	WARNW(FP_STRING, " ", "only whitespace");
	WARNW(FP_STRING, " \t\r\n ", "only whitespace");
	WARNW(FP_STRING, "a\x01" "b", "control");
	WARNW(FP_STRING, "a\0b", "control");
	WARNW(FP_STRING, "\x7f", "control");
	WARNW(FP_STRING, "a\x0b" "b", "control");
	WARNW(FP_STRING, "a\x0c" "b", "control");
	WARNW(FP_STRING, "a\x1f", "control");
	WARNW(FP_STRING, "a\x13" "b", "control");
	WARNW(FP_STRING, "plain text", NULL);
	OK(FP_MARKDOWN, "# Title\n\n*emphasis*");
	WARNW(FP_MARKDOWN, "\n\n", "only whitespace");
	WARNW(FP_MARKDOWN, "x\x01", "control");
	BADW(FP_MARKDOWN, "", "empty");
	OK(FP_SYSTEM_STRING, "abc");
	OK(FP_SYSTEM_STRING, " ");	/* System.String has no blank rule */
	BADW(FP_SYSTEM_STRING, "", "empty");
	WARNW(FP_SYSTEM_STRING, "\x01", "control");
	WARNW(FP_SYSTEM_STRING, " ", NULL);

	memset(big, 'x', sizeof(big));
	t_string(FP_STRING, big, FHIR_STRING_MAX_BYTES, true, NULL);
	t_string(FP_STRING, big, FHIR_STRING_MAX_BYTES + 1, false, "1 MiB");
	t_string(FP_MARKDOWN, big, FHIR_STRING_MAX_BYTES + 1, false, "1 MiB");
	t_string(FP_SYSTEM_STRING, big, FHIR_STRING_MAX_BYTES + 1, false, "1 MiB");
	t_string(FP_CODE, big, FHIR_STRING_MAX_BYTES + 1, false, "1 MiB");
	t_string(FP_URI, big, FHIR_STRING_MAX_BYTES + 1, true, NULL);

	/* code */
	OK(FP_CODE, "active");
	OK(FP_CODE, "a b");
	OK(FP_CODE, "in-progress");
	OK(FP_CODE, "a\tb");
	OK(FP_CODE, "mg/dL");
	OK(FP_CODE, "\xc3\xa9t\xc3\xa9");
	BADW(FP_CODE, "a  b", "more than one whitespace");
	BADW(FP_CODE, "a \tb", "more than one whitespace");
	BADW(FP_CODE, " a", "start or end");
	BADW(FP_CODE, "a ", "start or end");
	BADW(FP_CODE, " ", "start or end");
	BADW(FP_CODE, "", "empty");
	WARNW(FP_CODE, "a\x01" "b", "control");
	WARNW(FP_CODE, "a\x0b" "b", "control");
	WARNW(FP_CODE, "a\0", "control");

	/* id */
	OK(FP_ID, "a");
	OK(FP_ID, "example-1.2");
	OK(FP_ID, "ABCxyz019");
	OK(FP_ID, "1234567890123456789012345678901234567890123456789012345678901234");
	BADW(FP_ID, "12345678901234567890123456789012345678901234567890123456789012345", "[A-Za-z0-9\\-\\.]{1,64}");
	BADW(FP_ID, "", "empty");
	BADW(FP_ID, "a_b", "[A-Za-z0-9\\-\\.]{1,64}");
	BAD(FP_ID, "a b");
	BAD(FP_ID, "a/b");
	BAD(FP_ID, "#a");
	BAD(FP_ID, "\xc3\xa9");
	BAD(FP_ID, "a\0");

	/* uri, url, canonical */
	OK(FP_URI, "http://hl7.org/fhir");
	OK(FP_URI, "urn:oid:1.2.3");
	OK(FP_URI, "#p1");
	OK(FP_URI, "x");
	OK(FP_URI, "http://ex.org/caf\xc3\xa9");
	BADW(FP_URI, "", "empty");
	BADW(FP_URI, "http://a b", "whitespace");
	BADW(FP_URI, " http://a", "whitespace");
	BADW(FP_URI, "http://a\t", "whitespace");
	WARNW(FP_URI, "http://a\x01", "control");
	WARNW(FP_URI, "a\0", "control");
	WARNW(FP_CANONICAL, "#a\x7f", "control");
	OK(FP_URL, "https://example.org/fhir/Task/1");
	OK(FP_URL, "mailto:a@b.org");
	BAD(FP_URL, "");
	BAD(FP_URL, "http://a\nb");
	OK(FP_CANONICAL, "http://hl7.org/fhir/StructureDefinition/Task|4.0.1");
	BAD(FP_CANONICAL, "");
	BAD(FP_CANONICAL, "http://a |1");

	/* oid */
	OK(FP_OID, "urn:oid:1.2.3");
	OK(FP_OID, "urn:oid:2.16.840.1.113883");
	OK(FP_OID, "urn:oid:0.0");
	OK(FP_OID, "urn:oid:1.0.10");
	BAD(FP_OID, "urn:oid:1");
	BAD(FP_OID, "urn:oid:3.1");
	BAD(FP_OID, "urn:oid:1.02");
	BAD(FP_OID, "urn:oid:1..2");
	BAD(FP_OID, "urn:oid:1.2.");
	BAD(FP_OID, "urn:oid:.1.2");
	BAD(FP_OID, "urn:oid:");
	BAD(FP_OID, "URN:OID:1.2");
	BAD(FP_OID, "1.2.3");
	BAD(FP_OID, "urn:oid:1.2 ");
	BAD(FP_OID, "");

	/* uuid */
	OK(FP_UUID, "urn:uuid:c757873d-ec9a-4326-a141-556f43239520");
	OK(FP_UUID, "urn:uuid:00000000-0000-0000-0000-000000000000");
	BAD(FP_UUID, "urn:uuid:C757873D-EC9A-4326-A141-556F43239520");
	BAD(FP_UUID, "urn:uuid:c757873d-ec9a-4326-a141-556F43239520");
	BAD(FP_UUID, "c757873d-ec9a-4326-a141-556f43239520");
	BAD(FP_UUID, "urn:uuid:c757873dec9a4326a141556f43239520");
	BAD(FP_UUID, "urn:uuid:c757873d-ec9a-4326-a141-556f4323952");
	BAD(FP_UUID, "urn:uuid:c757873d-ec9a-4326-a141-556f432395200");
	BAD(FP_UUID, "urn:uuid:g757873d-ec9a-4326-a141-556f43239520");
	BAD(FP_UUID, "urn:uuid:{c757873d-ec9a-4326-a141-556f43239520}");
	BAD(FP_UUID, "URN:UUID:c757873d-ec9a-4326-a141-556f43239520");
	BAD(FP_UUID, "");

	/* base64Binary */
	OK(FP_BASE64BINARY, "AAAA");
	OK(FP_BASE64BINARY, "aGVsbG8=");
	OK(FP_BASE64BINARY, "aGVsbA==");
	OK(FP_BASE64BINARY, "aGVs bG8=");
	OK(FP_BASE64BINARY, "aGVs\r\nbG8=\n");
	OK(FP_BASE64BINARY, " +/+/ ");
	BADW(FP_BASE64BINARY, "", "empty");
	BADW(FP_BASE64BINARY, "   ", "not only whitespace");
	BADW(FP_BASE64BINARY, "aGVsbG8", "multiple of 4");
	BADW(FP_BASE64BINARY, "aGVsbG", "multiple of 4");
	BADW(FP_BASE64BINARY, "a", "multiple of 4");
	BADW(FP_BASE64BINARY, "aGV=bG8=", "padding at the end");
	BADW(FP_BASE64BINARY, "=AAA", "padding at the end");
	BADW(FP_BASE64BINARY, "aGVsbA==AAAA", "padding at the end");
	BADW(FP_BASE64BINARY, "aGVsb===", "two '='");
	BADW(FP_BASE64BINARY, "A===", "two '='");
	BADW(FP_BASE64BINARY, "====", "two '='");
	BADW(FP_BASE64BINARY, "aGVsbG8-", "base64 characters");
	BADW(FP_BASE64BINARY, "aGVsbG8_", "base64 characters");
	BADW(FP_BASE64BINARY, "aGVs\0bG8=", "base64 characters");
	BADW(FP_BASE64BINARY, "aGVs\xc3\xa9", "base64 characters");

	/* currency and MIME type */
	CUR("EUR", true);
	CUR("USD", true);
	CUR("eur", false);
	CUR("EU", false);
	CUR("EURO", false);
	CUR("E1R", false);
	CUR("", false);
	CUR("EU\0", false);
	MIME("text/plain", true);
	MIME("text/plain; charset=utf-8", true);
	MIME("text/plain;charset=UTF-8", true);
	MIME("application/fhir+json", true);
	MIME("application/fhir+json;fhirVersion=4.0", true);
	MIME("image/svg+xml", true);
	MIME("application/vnd.ms-excel", true);
	MIME("multipart/form-data; boundary=\"a b;c\"", true);
	MIME("text/plain; a=1; b=\"x\\\"y\"", true);
	MIME("TEXT/HTML", true);
	MIME("text", false);
	MIME("text/", false);
	MIME("/plain", false);
	MIME("text/plain;", false);
	MIME("text/plain; charset", false);
	MIME("text/plain; charset=", false);
	MIME("text/plain ", false);
	MIME("text /plain", false);
	MIME("text/plain/x", false);
	MIME("*/*", false);
	MIME("text/plain; a=\"unclosed", false);
	MIME("text/pl\x01" "ain", false);
	MIME("", false);
}

static void
test_xhtml(void)
{
	char		deep[4096];
	size_t		o;
	int			k;

	OK(FP_XHTML, XDIV("hello"));
	OK(FP_XHTML, "<div xmlns='http://www.w3.org/1999/xhtml'>hello</div>");
	OK(FP_XHTML, "  \n<div" XNS ">x</div>\n  ");
	OK(FP_XHTML, XDIV("<p>Para <b>bold</b> <i>it</i> <a href=\"http://x.org/\">link</a></p>"));
	OK(FP_XHTML, XDIV("<br/>text<br />"));
	OK(FP_XHTML, XDIV("<img src=\"a.png\" alt=\"\"/>"));
	OK(FP_XHTML, XDIV("<img src=\"a.png\"></img>"));
	OK(FP_XHTML, XDIV("<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>"));
	OK(FP_XHTML, XDIV("<h1>a</h1><h6>b</h6><ul><li>x</li></ul><ol><li>y</li></ol><dl><dt>t</dt><dd>d</dd></dl>"));
	OK(FP_XHTML, XDIV("&lt;&gt;&amp;&quot;&apos;&#65;&#x41;&#x4a;&#x4A;"));
	OK(FP_XHTML, XDIV("a<!-- comment -->b"));
	OK(FP_XHTML, XDIV("<!---->x"));
	OK(FP_XHTML, XDIV("<span class=\"c\" style=\"color: red\" title='a &amp; b'>x</span>"));
	OK(FP_XHTML, "<div" XNS " xml:lang=\"en\" lang=\"en\">x</div>");
	OK(FP_XHTML, XDIV("<div xmlns=\"http://www.w3.org/1999/xhtml\">nested with ns</div>"));
	OK(FP_XHTML, XDIV("<p class = \"a\" >x</p >"));
	OK(FP_XHTML, XDIV("caf\xc3\xa9"));
	OK(FP_XHTML, XDIV("a > b"));
	OK(FP_XHTML, XDIV("&#160;"));
	OK(FP_XHTML, "<div" XNS "><a href=\"#javascript\">x</a></div>");
	OK(FP_XHTML, XDIV("<a href=\"notjavascript:x\">x</a>"));

	/* bare start tags and end tags naming the open element (fast paths) */
	OK(FP_XHTML, XDIV("<img></img>"));
	OK(FP_XHTML, XDIV("<p><b>x</b><i>y</i></p><blockquote>z</blockquote>"));
	OK(FP_XHTML, XDIV("<p>x</p\t>"));
	BADW(FP_XHTML, XDIV("<p></p>"), "txt-2");
	BADW(FP_XHTML, XDIV("<bogus>x</bogus>"), "txt-1");
	BADW(FP_XHTML, XDIV("<b>x</bb>"), "not properly nested");
	BADW(FP_XHTML, XDIV("<bb>x</b>"), "txt-1");
	BADW(FP_XHTML, XDIV("<b>x</b"), "end tag is malformed");
	BADW(FP_XHTML, XDIV("<b>x</b/>"), "end tag is malformed");
	BADW(FP_XHTML, "<div" XNS "><p>", "not closed");
	BADW(FP_XHTML, "<div" XNS "><p>x</p", "end tag is malformed");

	/* not well-formed */
	BADW(FP_XHTML, "", "empty");
	BADW(FP_XHTML, "   ", "<div>");
	BADW(FP_XHTML, "<div" XNS ">x", "not closed");
	BADW(FP_XHTML, XDIV("<p>x"), "not properly nested");
	BADW(FP_XHTML, XDIV("<p>x</b></p>"), "not properly nested");
	BADW(FP_XHTML, XDIV("<b><i>x</b></i>"), "not properly nested");
	BADW(FP_XHTML, XDIV("<br>"), "not properly nested");
	BADW(FP_XHTML, XDIV("x</p>"), "not properly nested");
	BADW(FP_XHTML, XDIV("<p class=a>x</p>"), "quoted");
	BADW(FP_XHTML, XDIV("<p class>x</p>"), "value");
	BADW(FP_XHTML, XDIV("<p class=\"a>x</p>"), "'<'");
	BADW(FP_XHTML, XDIV("<p class=\"a\"title=\"b\">x</p>"), "separated by whitespace");
	BADW(FP_XHTML, XDIV("<p class=\"a\" class=\"b\">x</p>"), "twice");
	BADW(FP_XHTML, XDIV("a < b"), "&lt;");
	BADW(FP_XHTML, XDIV("a & b"), "entities");
	BADW(FP_XHTML, XDIV("&nbsp;"), "entities");
	BADW(FP_XHTML, XDIV("&amp"), "entities");
	BADW(FP_XHTML, XDIV("&#;"), "character reference");
	BADW(FP_XHTML, XDIV("&#X41;"), "character reference");
	BADW(FP_XHTML, XDIV("&#x;"), "character reference");
	BADW(FP_XHTML, XDIV("&#12a;"), "character reference");
	BADW(FP_XHTML, XDIV("&#0;"), "XML does not allow");
	BADW(FP_XHTML, XDIV("&#x110000;"), "XML does not allow");
	BADW(FP_XHTML, XDIV("&#99999999999999999999;"), "XML does not allow");
	BADW(FP_XHTML, XDIV("&#xD800;"), "XML does not allow");
	BADW(FP_XHTML, XDIV("a\x01" "b"), "control");
	BADW(FP_XHTML, XDIV("a\0b"), "control");
	BADW(FP_XHTML, XDIV("a]]>b"), "]]>");
	BADW(FP_XHTML, XDIV("<!-- a -- b -->x"), "'--'");
	BADW(FP_XHTML, XDIV("<!-- a --->x"), "'--'");
	BADW(FP_XHTML, XDIV("<!-- a x"), "not closed");
	BADW(FP_XHTML, XDIV("<![CDATA[x]]>"), "CDATA");
	BADW(FP_XHTML, "<!DOCTYPE html><div" XNS ">x</div>", "DOCTYPE");
	BADW(FP_XHTML, "<?xml version=\"1.0\"?><div" XNS ">x</div>", "processing instructions");
	BADW(FP_XHTML, XDIV("<?php x ?>"), "processing instructions");
	BADW(FP_XHTML, "<div" XNS ">x</div", "end tag is malformed");
	BADW(FP_XHTML, "<div" XNS, "not closed");
	BADW(FP_XHTML, "<div" XNS " class=\"x", "not closed");
	BADW(FP_XHTML, XDIV("<p/ >x"), "'/'");

	/* root, namespace, outside text */
	BADW(FP_XHTML, "<div>x</div>", "xmlns");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtml/\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/TR/xhtml\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns:h=\"http://www.w3.org/1999/xhtml\">x</div>", "xmlns");
	BADW(FP_XHTML, "<p" XNS ">x</p>", "root element must be a <div>");
	BADW(FP_XHTML, "<DIV" XNS ">x</DIV>", "txt-1");
	BADW(FP_XHTML, "text<div" XNS ">x</div>", "outside");
	BADW(FP_XHTML, XDIV("x") "text", "follow");
	BADW(FP_XHTML, XDIV("x") XDIV("y"), "follow");
	BADW(FP_XHTML, XDIV("x") "<!-- c -->", "follow");
	BADW(FP_XHTML, "<!-- c -->" XDIV("x"), "outside");
	BADW(FP_XHTML, "</div>", "no matching start tag");
	BADW(FP_XHTML, XDIV("<p xmlns=\"http://example.org/\">x</p>"), "namespace");
	BADW(FP_XHTML, "<div" XNS " xmlns=\"http://www.w3.org/1999/xhtml\">x</div>", "twice");

	/* txt-1: elements and attributes */
	BADW(FP_XHTML, XDIV("<script>alert(1)</script>"), "txt-1");
	BADW(FP_XHTML, XDIV("<style>p{}</style>x"), "txt-1");
	BADW(FP_XHTML, XDIV("<iframe src=\"x\"></iframe>x"), "txt-1");
	BADW(FP_XHTML, XDIV("<form>x</form>"), "txt-1");
	BADW(FP_XHTML, XDIV("<h:p>x</h:p>"), "XHTML namespace");	/* h: not declared */
	BADW(FP_XHTML, XDIV("<P>x</P>"), "txt-1");
	BADW(FP_XHTML, XDIV("<p onclick=\"alert(1)\">x</p>"), "on...");
	BADW(FP_XHTML, XDIV("<p ONCLICK=\"alert(1)\">x</p>"), "on...");
	BADW(FP_XHTML, XDIV("<img src=\"a\" onError=\"alert(1)\"/>"), "on...");
	BADW(FP_XHTML, XDIV("<a href=\"javascript:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<a href=\"JavaScript:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<a href=\" javascript:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<a href=\"java&#9;script:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<a href=\"&#106;avascript:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<a href=\"java\nscript:alert(1)\">x</a>"), "javascript:");
	BADW(FP_XHTML, XDIV("<img src='javascript:alert(1)'/>"), "javascript:");

	/* txt-2: some content */
	BADW(FP_XHTML, XDIV(""), "txt-2");
	BADW(FP_XHTML, XDIV("   \n "), "txt-2");
	BADW(FP_XHTML, XDIV("<p> </p><br/>"), "txt-2");
	BADW(FP_XHTML, XDIV("<!-- only a comment -->"), "txt-2");
	BADW(FP_XHTML, XDIV("&#32;&#x9;"), "txt-2");
	BADW(FP_XHTML, "<div" XNS "/>", "txt-2");
	OK(FP_XHTML, XDIV("<img src=\"a.png\"/>"));
	OK(FP_XHTML, XDIV("<p><span>&amp;</span></p>"));

	/* depth: no fixed limit (the open elements go to the heap past 128) */
	for (k = 100; k <= 130; k += 30)
	{
		int			j;

		o = 0;
		o += (size_t) sprintf(deep + o, "<div" XNS ">");
		for (j = 1; j < k; j++)
			o += (size_t) sprintf(deep + o, "<b>");
		deep[o++] = 'x';
		for (j = 1; j < k; j++)
			o += (size_t) sprintf(deep + o, "</b>");
		o += (size_t) sprintf(deep + o, "</div>");
		t_string(FP_XHTML, deep, o, true, NULL);
	}
	/* ... and a mismatch deep down is still found */
	o = 0;
	o += (size_t) sprintf(deep + o, "<div" XNS ">x");
	for (k = 1; k < 200; k++)
		o += (size_t) sprintf(deep + o, "<b>");
	o += (size_t) sprintf(deep + o, "<br/>");
	for (k = 1; k < 199; k++)
		o += (size_t) sprintf(deep + o, "</b>");
	o += (size_t) sprintf(deep + o, "</i></div>");
	t_string(FP_XHTML, deep, o, false, "not properly nested");

	/* attribute limit */
	o = 0;
	o += (size_t) sprintf(deep + o, "<div" XNS ">x<p");
	for (k = 0; k < 65; k++)
		o += (size_t) sprintf(deep + o, " xmlns:a%d=\"urn:x\"", k);
	o += (size_t) sprintf(deep + o, ">y</p></div>");
	t_string(FP_XHTML, deep, o, false, "64 attributes");
	o = 0;
	o += (size_t) sprintf(deep + o, "<div" XNS ">x<p");
	for (k = 0; k < 64; k++)
		o += (size_t) sprintf(deep + o, " xmlns:a%d=\"urn:x\"", k);
	o += (size_t) sprintf(deep + o, ">y</p></div>");
	t_string(FP_XHTML, deep, o, true, NULL);

	/* every prefix of a valid fragment is refused (and read no further) */
	{
		static const char full[] = XDIV("<p class=\"a\">t&amp;<br/><!--c--></p>");
		bool		all = true;
		size_t		n;

		for (n = 0; n + 1 < sizeof(full) - 1; n++)
		{
			char	   *copy = exact_copy(full, n);
			const char *why;

			if (fhir_check_string(FP_XHTML, copy, n, &why))
				all = false;
			free(copy);
		}
		report(all, "xhtml: every proper prefix of a valid fragment is refused");
	}
}

/* Every prefix of valid values is handled without reading past len. */
static void
test_prefixes(void)
{
	static const struct
	{
		FhirPrim	prim;
		const char *s;
	}			vals[] = {
		{FP_DATETIME, "2015-02-07T13:28:17.239+02:00"},
		{FP_INSTANT, "2015-02-07T13:28:17.239-14:00"},
		{FP_TIME, "13:28:17.239"},
		{FP_OID, "urn:oid:1.2.840.10008"},
		{FP_UUID, "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"},
		{FP_BASE64BINARY, "aGVsbA=="},
		{FP_CODE, "a b"},
	};
	size_t		v;

	for (v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
	{
		size_t		n = strlen(vals[v].s);
		size_t		k;
		bool		okall = true;
		char		desc[200];

		for (k = 0; k <= n; k++)
		{
			char	   *copy = exact_copy(vals[v].s, k);
			const char *why = NULL;
			FhirTimeRange r;
			bool		got = fhir_check_string(vals[v].prim, copy, k, &why);

			if (!got && why == NULL)
				okall = false;
			if (k == n && !got)
				okall = false;
			if (vals[v].prim == FP_DATETIME || vals[v].prim == FP_INSTANT)
			{
				bool		got2 = fhir_parse_time_range(vals[v].prim, copy, k, &r, NULL);

				if (got2 != got || (got2 && r.lo >= r.hi))
					okall = false;
			}
			free(copy);
		}
		snprintf(desc, sizeof(desc), "%s: every prefix of %s handled consistently",
				 prim_name(vals[v].prim), vals[v].s);
		report(okall, desc);
	}
	/* why may be NULL */
	report(!fhir_check_string(FP_ID, "", 0, NULL) &&
		   fhir_check_string(FP_ID, "a", 1, NULL) &&
		   !fhir_check_number(FP_INTEGER, "x", 1, NULL) &&
		   !fhir_check_currency("x", 1, NULL) &&
		   !fhir_check_mimetype("x", 1, NULL),
		   "a NULL why pointer is accepted");
}

/*
 * Issue 12: the HTML 4 elements and attributes txt-1 allows (generated
 * lists), namespace prefixes, U+FFFE/U+FFFF, very deep nesting, and the
 * 1 MiB limit counted in characters.
 */
static void
test_xhtml_conformance(void)
{
	static const char *const allowed[] = {
		"<address>a</address>", "<bdo dir=\"rtl\">b</bdo>", "<kbd>c</kbd>",
		"<map name=\"m\"><area shape=\"rect\" coords=\"0,0,1,1\" href=\"#a\" alt=\"a\"/></map>x",
		"<a name=\"n\" href=\"#n\" title=\"t\">x</a>", "<img src=\"a.png\" alt=\"a\" width=\"1\" height=\"1\"/>",
		"<table border=\"1\" cellpadding=\"2\" summary=\"s\"><tr><td colspan=\"2\" nowrap=\"nowrap\">x</td></tr></table>",
		"<ol start=\"3\" type=\"a\"><li value=\"4\">x</li></ol>", "<q cite=\"http://x\">q</q>",
		"<p id=\"i\" class=\"c\" style=\"color: red\" lang=\"en\" xml:lang=\"en\" dir=\"ltr\">x</p>",
	};
	static const char *const refused_attr[] = {
		"<a href=\"http://x.org\" target=\"_blank\">x</a>", "<p foo=\"1\">x</p>",
		"<p data-x=\"1\">x</p>", "<img src=\"a.png\" srcset=\"b.png 2x\"/>",
		"<p href=\"http://x\">x</p>", "<a src=\"x\">x</a>", "<p xml:space=\"preserve\">x</p>",
		"<p h:class=\"a\">x</p>",
	};
	size_t		k;
	size_t		n,
				o;
	char	   *big;
	char		x[600];

	for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
	{
		snprintf(x, sizeof(x), "<div" XNS ">%s</div>", allowed[k]);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
	}
	for (k = 0; k < sizeof(refused_attr) / sizeof(refused_attr[0]); k++)
	{
		snprintf(x, sizeof(x), "<div" XNS ">%s</div>", refused_attr[k]);
		t_string(FP_XHTML, x, strlen(x), false, "txt-1");
	}
	/* a namespace prefix bound to XHTML, on the root or below */
	OK(FP_XHTML, "<h:div xmlns:h=\"http://www.w3.org/1999/xhtml\"><h:p>x</h:p></h:div>");
	OK(FP_XHTML, XDIV("<x:p xmlns:x=\"http://www.w3.org/1999/xhtml\">x</x:p>"));
	OK(FP_XHTML, "<h:div xmlns:h=\"http://www.w3.org/1999/xhtml\" xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></h:div>");
	BADW(FP_XHTML, "<h:div xmlns:h=\"http://www.w3.org/1999/xhtml\"><p>x</p></h:div>", "XHTML namespace");
	BADW(FP_XHTML, "<h:div xmlns:h=\"http://example.org\"><h:p>x</h:p></h:div>", "xmlns");
	BADW(FP_XHTML, XDIV("<s:svg xmlns:s=\"http://www.w3.org/2000/svg\">x</s:svg>"), "XHTML namespace");
	/* a prefix declared on an element is out of scope after it */
	BADW(FP_XHTML, XDIV("<x:p xmlns:x=\"http://www.w3.org/1999/xhtml\">x</x:p><x:p>y</x:p>"), "XHTML namespace");
	BADW(FP_XHTML, XDIV("<x:br xmlns:x=\"http://www.w3.org/1999/xhtml\"/><x:p>y</x:p>"), "XHTML namespace");
	BADW(FP_XHTML, XDIV("<x:p xmlns:x=\"http://www.w3.org/1999/xhtml\">x</p>"), "not properly nested");
	/* U+FFFE / U+FFFF in text, attributes and comments; U+FFFD and U+EFBF are fine */
	BADW(FP_XHTML, XDIV("a\xef\xbf\xbf" "b"), "U+FFFE");
	BADW(FP_XHTML, XDIV("0123456789abcdef\xef\xbf\xbe" "0123456789"), "U+FFFE");
	BADW(FP_XHTML, XDIV("<p title=\"\xef\xbf\xbe\">a</p>"), "U+FFFE");
	BADW(FP_XHTML, XDIV("a<!-- \xef\xbf\xbf -->"), "U+FFFE");
	OK(FP_XHTML, XDIV("a\xef\xbf\xbd" "b \xee\xbe\xbf 0123456789abcdef\xef\xbf"));
	/* 100,000 nested spans: accepted, and a missing end tag still found */
	n = 100000;
	big = malloc(n * 13 + 200);
	if (!big)
		exit(2);
	o = (size_t) sprintf(big, "<div" XNS ">");
	for (k = 0; k < n; k++)
		o += (size_t) sprintf(big + o, "<span>");
	big[o++] = 'x';
	for (k = 0; k < n; k++)
		o += (size_t) sprintf(big + o, "</span>");
	o += (size_t) sprintf(big + o, "</div>");
	t_string(FP_XHTML, big, o, true, NULL);
	t_string(FP_XHTML, big, o - 13, false, "not closed");
	free(big);
	/* 1 MiB in characters: 1,048,576 two-byte characters pass, one more does not */
	big = malloc(2 * 1048577 + 1);
	if (!big)
		exit(2);
	for (k = 0; k < 1048577; k++)
	{
		big[2 * k] = '\xc3';
		big[2 * k + 1] = '\xa9';
	}
	t_string(FP_STRING, big, 2 * 1048576, true, NULL);
	t_string(FP_STRING, big, 2 * 1048577, false, "1048576 characters");
	t_string(FP_CODE, big, 2 * 1048576, true, NULL);
	t_string(FP_CODE, big, 2 * 1048577, false, "1048576 characters");
	memset(big, 'a', 1048577);
	t_string(FP_STRING, big, 1048576, true, NULL);
	t_string(FP_STRING, big, 1048577, false, "1048576 characters");
	free(big);
}

/*
 * The word-at-a-time scans of string and xhtml text: a control character,
 * DEL or markup byte at every position of a long value (inside or across
 * an eight-byte word), and values of only spaces in whole words.
 */
static void
test_word_scans(void)
{
	static const char bad[] = {'\x01', '\x1f', '\x7f', '\0', '\x0b'};	/* warned */
	char		buf[64];
	char		x[160];
	size_t		pos;
	size_t		k;

	for (pos = 0; pos < 24; pos++)
	{
		for (k = 0; k < sizeof(bad); k++)
		{
			memset(buf, 'a', 24);
			memset(buf, ' ', pos);	/* spaces before: words of blanks, then text */
			buf[pos] = bad[k];
			t_warn(FP_STRING, buf, 24, "control");
			t_warn(FP_SYSTEM_STRING, buf, 24, "control");
		}
		memset(buf, ' ', 24);
		buf[pos] = 'x';
		t_string(FP_STRING, buf, 24, true, NULL);
		buf[pos] = '\t';
		t_warn(FP_STRING, buf, 24, "only whitespace");
		t_warn(FP_SYSTEM_STRING, buf, 24, NULL);
		buf[pos] = '\x80';
		t_string(FP_STRING, buf, 24, true, NULL);

		/* xhtml text: a run of 24 bytes with one special byte somewhere */
		memset(buf, ' ', 24);
		buf[pos] = '\x01';
		snprintf(x, sizeof(x), "<div" XNS ">a%.24s</div>", buf);
		t_string(FP_XHTML, x, strlen(x), false, "control");
		buf[pos] = '<';
		snprintf(x, sizeof(x), "<div" XNS ">a%.24s</div>", buf);
		t_string(FP_XHTML, x, strlen(x), false, "&lt;");
		buf[pos] = '&';
		snprintf(x, sizeof(x), "<div" XNS ">a%.24s</div>", buf);
		t_string(FP_XHTML, x, strlen(x), false, "entities");
		memset(buf, ' ', 24);
		buf[pos] = 'y';
		snprintf(x, sizeof(x), "<div" XNS ">%.24s</div>", buf);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
		buf[pos] = '\t';
		snprintf(x, sizeof(x), "<div" XNS ">%.24s</div>", buf);
		t_string(FP_XHTML, x, strlen(x), false, "txt-2");
	}
	WARNW(FP_STRING, "                        ", "only whitespace");
	BADW(FP_XHTML, XDIV("                        "), "txt-2");
	BADW(FP_XHTML, XDIV("lorem ipsum dolor sit amet ]]> consectetur"), "]]>");
	OK(FP_XHTML, XDIV("lorem ipsum dolor sit amet ]] > consectetur adipiscing"));
}

/*
 * A narrative whose text is pos bytes of fill, then mid, then 24 - pos
 * bytes of fill, then tail, checked as xhtml (expected valid, or refused
 * for want_why).
 */
static void
t_xhtml_at(size_t pos, char fill, const char *mid, const char *tail,
		   bool expect_ok, const char *want_why)
{
	char		buf[24];
	char		x[200];

	memset(buf, fill, sizeof(buf));
	snprintf(x, sizeof(x), "<div" XNS ">%.*s%s%.*s%s</div>", (int) pos, buf, mid,
			 (int) (sizeof(buf) - pos), buf, tail);
	t_string(FP_XHTML, x, strlen(x), expect_ok, want_why);
}

/*
 * The three parts of a narrative (whitespace and the root's start tag, the
 * root's content, whitespace after its end tag), and the namespace URI
 * written as its very bytes or with character references.
 */
static void
test_xhtml_parts(void)
{
	OK(FP_XHTML, "\t\r\n <div" XNS ">x</div> \t\r\n");
	OK(FP_XHTML, "<div" XNS ">x</div >\n");
	OK(FP_XHTML, "<div" XNS "><img src=\"a.png\"/></div>");
	BADW(FP_XHTML, "<div" XNS "/>", "txt-2");
	BADW(FP_XHTML, " <div" XNS "/> ", "txt-2");
	BADW(FP_XHTML, "<div" XNS "/>x", "follow");
	BADW(FP_XHTML, "<div" XNS "/><p/>", "follow");
	BADW(FP_XHTML, XDIV("x") " <!-- c -->", "follow");
	BADW(FP_XHTML, XDIV("x") " </div>", "follow");
	BADW(FP_XHTML, XDIV("x") " &amp;", "follow");
	BADW(FP_XHTML, XDIV("x") "\x01", "follow");
	BADW(FP_XHTML, " </div>", "no matching start tag");
	BADW(FP_XHTML, " <!DOCTYPE html>" XDIV("x"), "DOCTYPE");
	BADW(FP_XHTML, " <?xml version=\"1.0\"?>" XDIV("x"), "processing instructions");
	BADW(FP_XHTML, " <!-- c -->" XDIV("x"), "outside the root");
	BADW(FP_XHTML, " x", "outside the root");
	BADW(FP_XHTML, "\n", "<div>");
	BADW(FP_XHTML, "<p" XNS ">x</p>", "root element must be a <div>");
	BADW(FP_XHTML, "<div" XNS ">x</div", "end tag is malformed");
	BADW(FP_XHTML, "<div" XNS "><p>x</p>", "not closed");
	BADW(FP_XHTML, "<div" XNS "><p>x</div>", "not properly nested");
	/* the namespace URI: its bytes, or the same characters through references */
	OK(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtm&#108;\">x</div>");
	OK(FP_XHTML, "<div xmlns=\"&#x68;ttp://www.w3.org/1999/xhtml\">x</div>");
	OK(FP_XHTML, "<h:div xmlns:h=\"http://www.w3.org/1999/xhtm&#x6c;\">x</h:div>");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtmk\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtm\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtml&#32;\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns=\"http://www.w3.org/1999/xhtm&amp;\">x</div>", "namespace");
	BADW(FP_XHTML, "<div xmlns=\"\">x</div>", "namespace");
}

/*
 * End tags matched against the open element's name (compared as one word
 * of eight bytes where both names have eight bytes to read, byte by byte
 * near the end of the text and for names longer than eight bytes): names
 * of 1 to 16 bytes, with and without a namespace prefix, as the last
 * element of the text and as the root (whose end tag ends the text),
 * refused when the end tag differs from the start tag in its first, last
 * or any byte, or in its length.
 */
static void
test_xhtml_end_names(void)
{
	static const char *const names[] = {
		"b", "em", "dfn", "abbr", "small", "strong", "caption", "h:strong",
		"h:caption", "blockquote", "xh:blockquote", "xhtm:blockquote",
		"xhtml:blockquote"
	};
	static const char *const prefixes[] = {"", "h", "xh", "xht", "xhtm", "xhtml", "xhtml1", "x0123456789"};
	int			i,
				k;

	for (i = 0; i < (int) (sizeof(names) / sizeof(names[0])); i++)
	{
		const char *n = names[i];
		const char *colon = strchr(n, ':');
		const char *local = colon ? colon + 1 : n;
		int			plen = colon ? (int) (colon - n) : 0;
		char		decl[80] = "";
		char		wrap[80];
		char		x[400];

		if (colon)
			snprintf(decl, sizeof(decl), " xmlns:%.*s=\"http://www.w3.org/1999/xhtml\"", plen, n);
		/* caption only inside a table */
		if (strcmp(local, "caption") == 0)
			snprintf(wrap, sizeof(wrap), "table");
		else
			wrap[0] = '\0';
#define END_CASE(endname, ok, why) \
		do { \
			snprintf(x, sizeof(x), "<div" XNS "%s>%s%s%s<%s>x</%s>%s%s%s</div>", decl, \
					 wrap[0] ? "<" : "", wrap, wrap[0] ? ">" : "", n, (endname), \
					 wrap[0] ? "</" : "", wrap, wrap[0] ? ">" : ""); \
			t_string(FP_XHTML, x, strlen(x), (ok), (why)); \
		} while (0)
		END_CASE(n, true, NULL);
		for (k = 0; n[k]; k++)
		{
			char		bad[40];

			snprintf(bad, sizeof(bad), "%s", n);
			bad[k] = bad[k] == 'q' ? 'r' : 'q';
			END_CASE(bad, false, "not properly nested");
		}
		{
			char		longer[40];
			char		shorter[40];

			snprintf(longer, sizeof(longer), "%sa", n);
			END_CASE(longer, false, "not properly nested");
			if (strlen(local) > 1)
			{
				snprintf(shorter, sizeof(shorter), "%.*s", (int) strlen(n) - 1, n);
				END_CASE(shorter, false, "not properly nested");
			}
		}
#undef END_CASE
	}

	/* the root's end tag ends the text: fewer than eight bytes follow its name */
	for (i = 0; i < (int) (sizeof(prefixes) / sizeof(prefixes[0])); i++)
	{
		const char *p = prefixes[i];
		const char *c = *p ? ":" : "";
		char		x[300];
		char		decl[80];

		if (*p)
			snprintf(decl, sizeof(decl), " xmlns:%s=\"http://www.w3.org/1999/xhtml\"", p);
		else
			snprintf(decl, sizeof(decl), "%s", XNS);
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdiv>", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdiv> \n", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdiv >", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdix>", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), false, "not properly nested");
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdi>", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), false, "not properly nested");
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdivv>", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), false, "not properly nested");
		snprintf(x, sizeof(x), "<%s%sdiv%s>x</%s%sdiv", p, c, decl, p, c);
		t_string(FP_XHTML, x, strlen(x), false, "end tag is malformed");
	}
}

/*
 * The ends of the word-at-a-time scans: a string whose length is not a
 * multiple of eight (its last eight bytes read as one word, overlapping
 * the previous one) with a control character, a non-space or nothing but
 * spaces at every position; and xhtml text whose run ends inside a word
 * (the scan jumps to the first byte that ends it): U+FFFE/U+FFFF, "]]>",
 * other characters starting with 0xEF, and whether the bytes before the
 * end count as content.
 */
static void
test_word_tails(void)
{
	char		buf[64];
	size_t		n;
	size_t		pos;

	for (n = 8; n <= 23; n++)
	{
		memset(buf, ' ', n);
		t_warn(FP_STRING, buf, n, "only whitespace");
		t_warn(FP_SYSTEM_STRING, buf, n, NULL);
		for (pos = 0; pos < n; pos++)
		{
			memset(buf, 'a', n);
			buf[pos] = '\x01';
			t_warn(FP_STRING, buf, n, "control");
			buf[pos] = '\x7f';
			t_warn(FP_SYSTEM_STRING, buf, n, "control");
			memset(buf, ' ', n);
			buf[pos] = 'x';
			t_string(FP_STRING, buf, n, true, NULL);
			buf[pos] = '\n';
			t_warn(FP_STRING, buf, n, "only whitespace");
		}
	}
	/* values of 16 to 48 bytes: sixteen at a time, then words, then a tail */
	for (n = 16; n <= 48; n++)
	{
		memset(buf, ' ', n);
		t_warn(FP_STRING, buf, n, "only whitespace");
		for (pos = 0; pos < n; pos++)
		{
			memset(buf, 'a', n);
			buf[pos] = '\x1f';
			t_warn(FP_STRING, buf, n, "control");
			buf[pos] = '\x7f';
			t_warn(FP_MARKDOWN, buf, n, "control");
			buf[pos] = '\xff';
			t_warn(FP_STRING, buf, n, NULL);
			memset(buf, ' ', n);
			buf[pos] = 'x';
			t_warn(FP_STRING, buf, n, NULL);
			buf[pos] = '\r';
			t_warn(FP_STRING, buf, n, "only whitespace");
			buf[pos] = '\x0c';
			t_warn(FP_SYSTEM_STRING, buf, n, "control");
		}
	}
	for (pos = 0; pos < 24; pos++)
	{
		/* spaces, then the run's end: a reference to a space is no content */
		t_xhtml_at(pos, ' ', "&#32;", "", false, "txt-2");
		/* ... but a letter before it is */
		t_xhtml_at(pos, ' ', "y&#32;", "", true, NULL);
		t_xhtml_at(pos, ' ', "y<b/>", "", true, NULL);
		/* U+FFFE and U+FFFF are refused, U+F000 and U+FEFF are text */
		t_xhtml_at(pos, 'a', "\xef\xbf\xbe", "", false, "U+FFFE");
		t_xhtml_at(pos, 'a', "\xef\xbf\xbf", "", false, "U+FFFE");
		t_xhtml_at(pos, 'a', "\xef\x80\x80", "\xef\xbb\xbf", true, NULL);
		t_xhtml_at(pos, 'a', "]]>", "", false, "]]>");
		t_xhtml_at(pos, 'a', "]]", "", true, NULL);
	}
}

/*
 * bytes_equal(), the validator's member-name compare: equal names of 0 to
 * 24 bytes, and names that differ in one byte at every position (each of
 * the overlapping loads must see it).
 */
static void
test_bytes_equal(void)
{
	char		a[32];
	char		b[32];
	char		desc[80];
	size_t		n;
	size_t		pos;

	for (n = 0; n <= 24; n++)
	{
		memset(a, 'x', sizeof(a));
		memcpy(b, a, sizeof(b));
		snprintf(desc, sizeof(desc), "bytes_equal: %zu equal bytes", n);
		report(bytes_equal(a, b, n), desc);
		for (pos = 0; pos < n; pos++)
		{
			b[pos] = 'y';
			snprintf(desc, sizeof(desc), "bytes_equal: %zu bytes, byte %zu differs", n, pos);
			report(!bytes_equal(a, b, n) && !bytes_equal(b, a, n), desc);
			b[pos] = 'x';
		}
		/* a difference just past the n bytes does not count */
		b[n] = 'y';
		snprintf(desc, sizeof(desc), "bytes_equal: %zu bytes, the byte after differs", n);
		report(bytes_equal(a, b, n), desc);
	}
}

/*
 * Every month 00-13 and day 00-32 of a common, a leap and two century
 * years, as a dateTime and an instant with a time (a whole date is parsed
 * the short way when valid) and as a date: accepted exactly when the day
 * exists, refused with the field's reason otherwise.
 */
static void
test_calendar_days(void)
{
	static const int years[] = {2023, 2024, 2100, 2000};
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	char		buf[40];
	size_t		k;
	int			m,
				d;

	for (k = 0; k < sizeof(years) / sizeof(years[0]); k++)
		for (m = 0; m <= 13; m++)
			for (d = 0; d <= 32; d++)
			{
				int			y = years[k];
				bool		leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
				const char *want = NULL;

				if (m < 1 || m > 12)
					want = "month must be";
				else if (d < 1 || d > 31)
					want = "day must be";
				else if (d > mdays[m - 1] + (m == 2 && leap ? 1 : 0))
					want = "day does not exist";
				snprintf(buf, sizeof(buf), "%04d-%02d-%02dT10:00:00+01:00", y, m, d);
				t_string(FP_DATETIME, buf, strlen(buf), want == NULL, want);
				t_string(FP_INSTANT, buf, strlen(buf), want == NULL, want);
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
				t_string(FP_DATE, buf, strlen(buf), want == NULL, want);
				t_string(FP_INSTANT, buf, strlen(buf), false, want ? want : "an instant needs");
				snprintf(buf, sizeof(buf), "%04d-%02d-%02dX10:00:00Z", y, m, d);
				t_string(FP_DATETIME, buf, strlen(buf), false, want ? want : "must have the form");
			}
}

/*
 * The word-at-a-time scans of code and uri: values of 1 to 40 bytes (whole
 * words, a tail read as the value's last eight bytes, shorter than a word)
 * with a space, a tab, a control character or DEL at every position, two
 * spaces in a row across a word boundary, and plain values of every length.
 */
static void
test_code_uri_words(void)
{
	char		buf[48];
	size_t		n;
	size_t		pos;

	for (n = 1; n <= 40; n++)
	{
		memset(buf, 'a', n);
		t_string(FP_CODE, buf, n, true, NULL);
		t_string(FP_URI, buf, n, true, NULL);
		t_string(FP_CANONICAL, buf, n, true, NULL);
		t_warn(FP_CODE, buf, n, NULL);
		t_warn(FP_URL, buf, n, NULL);
		for (pos = 0; pos < n; pos++)
		{
			bool		edge = (pos == 0 || pos == n - 1);

			memset(buf, 'a', n);
			buf[pos] = ' ';
			t_string(FP_CODE, buf, n, !edge, edge ? "start or end" : NULL);
			t_string(FP_URI, buf, n, false, "whitespace");
			buf[pos] = '\t';
			t_string(FP_CODE, buf, n, !edge, edge ? "start or end" : NULL);
			t_string(FP_URL, buf, n, false, "whitespace");
			buf[pos] = '\x0b';
			t_string(FP_CANONICAL, buf, n, false, "whitespace");
			t_warn(FP_CODE, buf, n, "control");
			buf[pos] = '\x01';
			t_warn(FP_CODE, buf, n, "control");
			t_warn(FP_URI, buf, n, "control");
			buf[pos] = '\x7f';
			t_warn(FP_CODE, buf, n, "control");
			t_warn(FP_URI, buf, n, "control");
			buf[pos] = '\x80';
			t_string(FP_CODE, buf, n, true, NULL);
			t_string(FP_URI, buf, n, true, NULL);
			if (pos >= 1 && pos + 2 < n)
			{
				memset(buf, 'a', n);
				buf[pos] = ' ';
				buf[pos + 1] = '\n';
				t_string(FP_CODE, buf, n, false, "more than one whitespace");
			}
		}
	}
}

/*
 * Every element name txt-1 allows, in start and end tags, and names next
 * to them (one letter more, one less, another case) that it does not.
 */
static void
test_xhtml_names(void)
{
	static const char *const allowed[] = {
		"a", "abbr", "acronym", "b", "big", "blockquote", "br", "caption",
		"cite", "code", "col", "colgroup", "dd", "dfn", "div", "dl", "dt",
		"em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li",
		"ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub",
		"sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt",
		"ul", "var"
	};
	static const char *const refused[] = {
		"ab", "abb", "acronyms", "bi", "blockquot", "blockquotes", "c",
		"capt", "col_", "colgroups", "d", "dv", "e", "h0", "h7", "h", "hx",
		"im", "imgs", "l", "o", "pr", "qq", "s", "sam", "smal", "spans",
		"stron", "su", "sux", "tab", "tbod", "t", "ta", "tf", "the", "theads",
		"trs", "u", "va", "x", "Div", "TD", "B", "blockquotE", "colGroup",
		"script", "style", "iframe", "form", "font", "center", "abcdefghijk"
	};
	char		x[200];
	size_t		k;

	for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
	{
		snprintf(x, sizeof(x), "<div" XNS "><%s>x</%s></div>", allowed[k], allowed[k]);
		t_string(FP_XHTML, x, strlen(x), true, NULL);
		snprintf(x, sizeof(x), "<div" XNS "><%s>x</%sx></div>", allowed[k], allowed[k]);
		t_string(FP_XHTML, x, strlen(x), false, "not properly nested");
	}
	for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++)
	{
		snprintf(x, sizeof(x), "<div" XNS "><%s>x</%s></div>", refused[k], refused[k]);
		t_string(FP_XHTML, x, strlen(x), false, "txt-1");
	}
	/* well-formed attribute names that HTML 4 does not have: txt-1 */
	BADW(FP_XHTML, XDIV("<p class-1.x_y:z=\"a\" \xc3\xa9t\xc3\xa9=\"b\">x</p>"), "txt-1");
	BADW(FP_XHTML, XDIV("<p 1a=\"a\">x</p>"), "attribute name is malformed");
	test_xhtml_conformance();
	test_xhtml_end_names();
	test_xhtml_parts();
	BADW(FP_XHTML, XDIV("<p -a=\"a\">x</p>"), "attribute name is malformed");
}

/*
 * The usual root tag, <div xmlns="http://www.w3.org/1999/xhtml"> byte for
 * byte, is taken without parse_start_tag(): every narrative gets the same
 * verdict and reason as with the root written another way that parses it
 * (a space before the '>', single quotes), and the same as the general
 * path for texts that only begin like the usual root.
 */
static void
test_xhtml_usual_root(void)
{
	static const char *const bodies[] = {
		"", "text", "<p>x</p>", "<p>x", "</p>", "<p></b></p>", "</div>",
		"<b>a</b><i>b</i>", "<x:p xmlns:x=\"" FHIR_XHTML_NS "\">x</x:p>",
		"<p xmlns=\"urn:other\">x</p>", "<script>x</script>", "<p onclick=\"a\">x</p>",
		"a &amp; b", "a &nbsp; b", "a < b", "<![CDATA[x]]>", "<!-- c -->x",
		"<div>x</div>", "<img src=\"a.png\"/>", " \t\n", "x]]>y", "\x01",
	};
	static const char *const tails[] = {"</div>", "</div> ", "</div>x", "", "</div><p/>", "</p>"};
	static const char *const roots[] = {
		"<div xmlns=\"" FHIR_XHTML_NS "\" >",
		"<div xmlns='" FHIR_XHTML_NS "'>",
	};
	static const char *const near[] = {
		"<div xmlns=\"" FHIR_XHTML_NS "\"",
		"<div xmlns=\"" FHIR_XHTML_NS,
		"<div xmlns=\"http://www.w3.org/1999/xhtmlx\">x</div>",
		"<div xmlns=\"" FHIR_XHTML_NS "\"/>",
		"<div xmlns=\"" FHIR_XHTML_NS "\">",
		"  <div xmlns=\"" FHIR_XHTML_NS "\">x</div>  ",
		"<div xmlns=\"" FHIR_XHTML_NS "\" xmlns=\"" FHIR_XHTML_NS "\">x</div>",
		"<div xmlns=\"" FHIR_XHTML_NS "\" class=\"c\">x</div>",
	};
	char		a[256];
	char		b[256];
	char		desc[400];
	char		shown[160];
	size_t		i,
				j,
				r;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		for (j = 0; j < sizeof(tails) / sizeof(tails[0]); j++)
			for (r = 0; r < sizeof(roots) / sizeof(roots[0]); r++)
			{
				const char *why_a = NULL;
				const char *why_b = NULL;
				char	   *pa,
						   *pb;
				bool		ok_a,
							ok_b;

				snprintf(a, sizeof(a), "<div xmlns=\"%s\">%s%s", FHIR_XHTML_NS, bodies[i], tails[j]);
				snprintf(b, sizeof(b), "%s%s%s", roots[r], bodies[i], tails[j]);
				pa = exact_copy(a, strlen(a));
				pb = exact_copy(b, strlen(b));
				ok_a = fhir_check_xhtml(pa, strlen(a), &why_a);
				ok_b = fhir_check_xhtml(pb, strlen(b), &why_b);
				free(pa);
				free(pb);
				snprintf(desc, sizeof(desc), "usual root: \"%s\" as \"%s\"",
						 show(a, strlen(a), shown, sizeof(shown)), roots[r]);
				report(ok_a == ok_b && (ok_a || (why_a && why_b && strcmp(why_a, why_b) == 0)), desc);
			}
	for (i = 0; i < sizeof(near) / sizeof(near[0]); i++)
	{
		const char *why = NULL;
		char	   *p = exact_copy(near[i], strlen(near[i]));
		bool		ok = fhir_check_xhtml(p, strlen(near[i]), &why);
		bool		want = i == 5 || i == 7;

		free(p);
		snprintf(desc, sizeof(desc), "usual root near miss \"%s\" %s",
				 show(near[i], strlen(near[i]), shown, sizeof(shown)), want ? "accepted" : "refused");
		report(ok == want, desc);
	}
}

/* ----------------------------------------------------------------
 *		Name lookups (fhir_names.h): the generated perfect hashes
 * ----------------------------------------------------------------
 */

/* A list of names and its lookup (an index into the list, or -1). */
typedef struct NameList
{
	const char *what;
	int			n;
	const char *const *names;
	int			(*find) (const void *ctx, const char *s, size_t len);
	const void *ctx;
} NameList;

/* The lookups under test, as NameList.find. */
static int
find_el(const void *ctx, const char *s, size_t len)
{
	const FhirType *t = ctx;
	const FhirElement *el = fhir_find_element(t, s, len);

	return el ? (int) (el - t->elements) : -1;
}

static int
find_code(const void *ctx, const char *s, size_t len)
{
	const FhirValueSet *vs = ctx;
	int			i;

	if (!fhir_valueset_has(vs, s, len))
		return -1;
	for (i = 0; i < vs->ncodes; i++)
		if (strlen(vs->codes[i]) == len && memcmp(vs->codes[i], s, len) == 0)
			return i;
	return -2;					/* found, but not a code: a failure */
}

static int
find_rtype(const void *ctx, const char *s, size_t len)
{
	(void) ctx;
	return fhir_resource_type_index(s, len);
}

/* The right answer for (s, len): the index of the equal name, or -1. */
static int
oracle(const NameList *l, const char *s, size_t len)
{
	int			i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->names[i]) == len && memcmp(l->names[i], s, len) == 0)
			return i;
	return -1;
}

/*
 * Looks (s, len) up in a heap block of exactly len bytes (valgrind sees a
 * read past it); true when the answer is the oracle's.  A wrong answer is
 * printed.
 */
static bool
probe(const NameList *l, const char *s, size_t len)
{
	char	   *p = exact_copy(s, len);
	int			got = l->find(l->ctx, p, len);
	int			want = oracle(l, p, len);
	char		buf[80];

	free(p);
	if (got != want)
		printf("# %s: \"%s\" (%zu bytes) gave %d, expected %d\n", l->what,
			   show(s, len, buf, sizeof(buf)), len, got, want);
	return got == want;
}

/*
 * Every name of the list is found, and near misses of each are not (or
 * are found as the name they happen to equal): every prefix, the name with
 * a byte before or after it (letters, '_', '"', '\\', a UTF-8 lead byte),
 * every byte replaced by those, "_name" (a twin key is looked up without
 * its '_'), and keys of every length up to 300 bytes.  One TAP line per
 * list.
 */
static void
check_name_list(const NameList *l)
{
	static const char subs[] = {'a', 'Z', 'x', '_', '"', '\\', '\xc3', '\0' + 1};
	char		buf[320];
	char		desc[160];
	bool		ok = true;
	int			nprobes = 0;
	int			i;
	size_t		k,
				c;

	for (i = 0; i < l->n; i++)
	{
		const char *name = l->names[i];
		size_t		len = strlen(name);

		ok &= l->find(l->ctx, name, len) == i;
		for (k = 0; k < len; k++, nprobes++)
			ok &= probe(l, name, k);
		for (c = 0; c < sizeof(subs); c++)
		{
			buf[0] = subs[c];
			memcpy(buf + 1, name, len);
			ok &= probe(l, buf, len + 1);
			memcpy(buf, name, len);
			buf[len] = subs[c];
			ok &= probe(l, buf, len + 1);
			for (k = 0; k < len; k++, nprobes++)
			{
				memcpy(buf, name, len);
				buf[k] = subs[c];
				ok &= probe(l, buf, len);
			}
			nprobes += 2;
		}
		buf[0] = '_';
		memcpy(buf + 1, name, len);
		ok &= probe(l, buf, len + 1);
		nprobes++;
	}
	for (k = 0; k <= 300; k++, nprobes++)
	{
		for (c = 0; c < k; c++)
			buf[c] = (char) ('a' + (c * 7 + k) % 26);
		ok &= probe(l, buf, k);
	}
	snprintf(desc, sizeof(desc), "%s: each of %d names found, %d near misses and other keys answered right",
			 l->what, l->n, nprobes);
	report(ok, desc);
}

/*
 * The generated hashes of fhir_names.h against a linear search: the
 * element names of every complex type, the codes of every enumerated value
 * set, the resource types; and each reference target set's bits are its
 * names.
 */
static void
test_name_hashes(void)
{
	NameList	l;
	int			i,
				j,
				k;

	for (i = 0; i < fhir_ntypes; i++)
	{
		const FhirType *t = &fhir_types[i];
		const char **names;

		if (t->kind != FK_COMPLEX)
		{
			report(fhir_find_element(t, "id", 2) == NULL, "a primitive type has no elements to find");
			continue;
		}
		names = malloc(sizeof(char *) * t->nelements);
		for (j = 0; j < t->nelements; j++)
		{
			names[j] = t->elements[j].name;
			if (t->elements[j].name_len != strlen(names[j]))
				report(false, "an element's name_len is its name's length");
		}
		l.what = t->name;
		l.n = t->nelements;
		l.names = names;
		l.find = find_el;
		l.ctx = t;
		check_name_list(&l);
		free(names);
	}
	for (i = 0; i < fhir_nvaluesets; i++)
	{
		const FhirValueSet *vs = &fhir_valuesets[i];

		if (vs->check != VS_ENUM)
			continue;
		l.what = vs->url;
		l.n = vs->ncodes;
		l.names = vs->codes;
		l.find = find_code;
		l.ctx = vs;
		check_name_list(&l);
	}
	l.what = "resource types";
	l.n = fhir_nresource_types;
	l.names = fhir_resource_types;
	l.find = find_rtype;
	l.ctx = NULL;
	check_name_list(&l);
	for (i = 0; i < fhir_ntarget_sets; i++)
	{
		const FhirTargetSet *ts = &fhir_target_sets[i];
		bool		ok = true;
		char		desc[80];

		for (j = 0; j < fhir_nresource_types; j++)
		{
			bool		listed = false;

			for (k = 0; k < ts->n; k++)
				listed |= strcmp(ts->names[k], fhir_resource_types[j]) == 0;
			ok &= fhir_target_set_has(ts, j) == listed;
		}
		snprintf(desc, sizeof(desc), "target set %d: its bits are its %d names", i, ts->n);
		report(ok, desc);
	}
}

/*
 * The generated element tags (FhirElement.tag): an element is tagged FE_x
 * exactly when its JSON name is x (the validator's EL_IS), FE_OTHER when
 * its name is none of the list, and every tag names some element.
 */
static void
test_element_tags(void)
{
	static const struct
	{
		FhirElementTag tag;
		const char *name;
	}			tags[] = {
		{FE_authoredOn, "authoredOn"},
		{FE_code, "code"},
		{FE_coding, "coding"},
		{FE_contained, "contained"},
		{FE_description, "description"},
		{FE_end, "end"},
		{FE_executionPeriod, "executionPeriod"},
		{FE_for, "for"},
		{FE_high, "high"},
		{FE_id, "id"},
		{FE_intent, "intent"},
		{FE_lastModified, "lastModified"},
		{FE_lastUpdated, "lastUpdated"},
		{FE_low, "low"},
		{FE_meta, "meta"},
		{FE_owner, "owner"},
		{FE_period, "period"},
		{FE_priority, "priority"},
		{FE_reference, "reference"},
		{FE_requester, "requester"},
		{FE_restriction, "restriction"},
		{FE_start, "start"},
		{FE_status, "status"},
		{FE_statusReason, "statusReason"},
		{FE_system, "system"},
		{FE_unit, "unit"},
		{FE_value, "value"},
		{FE_versionId, "versionId"},
	};
	size_t		k;
	int			i,
				j;

	for (i = 0; i < fhir_ntypes; i++)
	{
		const FhirType *t = &fhir_types[i];
		bool		ok = true;
		char		desc[160];

		for (j = 0; j < t->nelements; j++)
		{
			const FhirElement *el = &t->elements[j];
			FhirElementTag want = FE_OTHER;

			for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
				if (strcmp(el->name, tags[k].name) == 0)
					want = tags[k].tag;
			ok &= el->tag == want;
		}
		if (t->nelements == 0)
			continue;
		snprintf(desc, sizeof(desc), "%s: every element is tagged by its name", t->name);
		report(ok, desc);
	}
	for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
	{
		bool		found = false;
		char		desc[160];

		for (i = 0; i < fhir_ntypes; i++)
			for (j = 0; j < fhir_types[i].nelements; j++)
				found |= fhir_types[i].elements[j].tag == tags[k].tag &&
					strcmp(fhir_types[i].elements[j].name, tags[k].name) == 0;
		snprintf(desc, sizeof(desc), "tag FE_%s names an element of the tables", tags[k].name);
		report(found, desc);
	}
}

/*
 * One value checked with and without the usual dateTime's one-pass parse
 * (fhir_types_datetime_fast): the same verdict, reason and range.
 */
static bool
datetime_both_ways(FhirPrim prim, const char *s, size_t len)
{
	const char *why_fast = "(unset)";
	const char *why_slow = "(unset)";
	FhirTimeRange r_fast = {-1, -1};
	FhirTimeRange r_slow = {-1, -1};
	bool		ok_fast,
				ok_slow,
				rg_fast,
				rg_slow;
	char	   *copy = exact_copy(s, len);

	fhir_types_datetime_fast = true;
	ok_fast = fhir_check_string(prim, copy, len, &why_fast);
	rg_fast = fhir_parse_time_range(prim, copy, len, &r_fast, NULL);
	fhir_types_datetime_fast = false;
	ok_slow = fhir_check_string(prim, copy, len, &why_slow);
	rg_slow = fhir_parse_time_range(prim, copy, len, &r_slow, NULL);
	fhir_types_datetime_fast = true;
	free(copy);
	return ok_fast == ok_slow && rg_fast == rg_slow &&
		(why_fast == why_slow ||
		 (why_fast && why_slow && strcmp(why_fast, why_slow) == 0)) &&
		r_fast.lo == r_slow.lo && r_fast.hi == r_slow.hi;
}

/*
 * The usual dateTime's one-pass parse (YYYY-MM-DDThh:mm:ss with Z or a
 * zone) against the general one: every byte of valid and edge values
 * replaced by digits, separators and others, cut short and lengthened,
 * for date, dateTime and instant.
 */
static void
test_datetime_usual(void)
{
	static const char *const bases[] = {
		"2016-10-31T08:25:05+10:00", "2016-10-31T08:25:05Z",
		"2024-02-29T23:59:60-14:00", "0001-01-01T00:00:00+14:00",
		"9999-12-31T23:59:59Z", "2023-02-28T00:00:00-00:00",
		"2016-10-31T08:25:05.1234Z", "2016-10-31T08:25:05.123456789Z",
	};
	static const char subst[] = "0123456789-:+TZ. az/\x7f\x80";
	static const FhirPrim prims[] = {FP_DATE, FP_DATETIME, FP_INSTANT};
	char		buf[64];
	char		desc[200];
	size_t		b,
				k,
				i,
				c;

	for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
	{
		size_t		len = strlen(bases[b]);

		for (k = 0; k < sizeof(prims) / sizeof(prims[0]); k++)
		{
			bool		same = datetime_both_ways(prims[k], bases[b], len);

			/* every length from empty to one byte more, cut at the end */
			for (i = 0; i <= len; i++)
				same = same && datetime_both_ways(prims[k], bases[b], i);
			memcpy(buf, bases[b], len);
			buf[len] = '0';
			same = same && datetime_both_ways(prims[k], buf, len + 1);
			snprintf(desc, sizeof(desc), "%s \"%s\": the same verdict both ways, whole, cut and lengthened",
					 prim_name(prims[k]), bases[b]);
			report(same, desc);
			/* every byte replaced by each of subst */
			for (i = 0; i < len; i++)
			{
				same = true;
				for (c = 0; c < sizeof(subst) - 1; c++)
				{
					memcpy(buf, bases[b], len);
					buf[i] = subst[c];
					same = same && datetime_both_ways(prims[k], buf, len);
				}
				snprintf(desc, sizeof(desc), "%s \"%s\": byte %zu replaced, the same verdict both ways",
						 prim_name(prims[k]), bases[b], i);
				report(same, desc);
			}
		}
	}
}

int
main(void)
{
	test_dates();
	test_ranges();
	test_numbers();
	test_strings();
	test_xhtml();
	test_word_scans();
	test_word_tails();
	test_code_uri_words();
	test_calendar_days();
	test_bytes_equal();
	test_xhtml_names();
	test_prefixes();
	test_name_hashes();
	test_xhtml_usual_root();
	test_datetime_usual();
	test_element_tags();
	printf("1..%d\n", ntests);
	if (nfailed)
		fprintf(stderr, "# %d of %d tests failed\n", nfailed, ntests);
	return nfailed ? 1 : 0;
}
