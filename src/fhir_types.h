/*-------------------------------------------------------------------------
 *
 * fhir_types.h
 *	  Checks of FHIR R4 primitive values (the lexical rules of each primitive
 *	  type), of currency codes and MIME types, and the conversion of
 *	  date/dateTime/instant values into ranges of UTC instants.
 *
 * This is plain C99 with no PostgreSQL headers, no regex library and no
 * global state (a narrative nested deeper than 128 elements keeps its open
 * elements in a malloc'd stack, freed before the call returns), so that it can be unit-tested and fuzzed on
 * its own as well as used inside the server.
 *
 * Every input is a (pointer, length) pair: it need not be NUL-terminated
 * and may contain any bytes; nothing is ever read at or past s[len].  All
 * checks run in time linear in len.
 *
 * On failure a function returns false and, when why is not NULL, sets *why
 * to a short static English reason that never quotes the value.  On success
 * *why is set to NULL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_TYPES_H
#define FHIR_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>				/* size_t */

#include "fhir_schema.h"

/* Longest string, markdown, System.String or code value, in characters (1 MiB). */
#define FHIR_STRING_MAX_BYTES	1048576

/* Most attributes on one XHTML element (needed for the duplicate check). */
#define FHIR_XHTML_MAX_ATTRS	64

/* XHTML namespace the root <div> of a narrative must declare. */
#define FHIR_XHTML_NS			"http://www.w3.org/1999/xhtml"

/*
 * Microsecond instants since 1970-01-01T00:00:00Z; a value of reduced
 * precision is the range [lo, hi).
 */
typedef struct FhirTimeRange
{
	int64_t		lo;
	int64_t		hi;
} FhirTimeRange;

/* Microseconds in an hour, for the constants below. */
#define FHIR_USECS_PER_HOUR		(INT64_C(3600) * 1000000)

/* The largest time zone offset FHIR allows, either way: 14:00. */
#define FHIR_MAX_ZONE_HOURS		14

/*
 * Widening of a date or dateTime without a time: the extreme time zone
 * offsets, in microseconds.
 */
#define FHIR_UNZONED_SLACK	(FHIR_MAX_ZONE_HOURS * FHIR_USECS_PER_HOUR)

/*
 * Microseconds from the Unix epoch (FhirTimeRange) to the PostgreSQL epoch
 * (TimestampTz, 2000-01-01): 10957 days.
 */
#define FHIR_UNIX_TO_PG_EPOCH	(INT64_C(10957) * 24 * FHIR_USECS_PER_HOUR)

/*
 * Checks a JSON string value against primitive prim (every string-valued
 * FP_*).  Boolean and number primitives are refused ("must be a JSON
 * boolean", "must be a JSON number").
 */
extern bool fhir_check_string(FhirPrim prim, const char *s, size_t len,
							  const char **why);

/*
 * The same, and *warn (when warn is not NULL) is set to a short static
 * reason for a valid value that deserves a warning (control characters in
 * string/markdown/code/uri, a string of only whitespace), else to NULL.
 */
extern bool fhir_check_string_warn(FhirPrim prim, const char *s, size_t len,
								   const char **why, const char **warn);

/*
 * Checks the canonical text of a JSON number (as numeric_out prints it) for
 * FP_INTEGER, FP_POSITIVEINT, FP_UNSIGNEDINT or FP_DECIMAL.  Other
 * primitives are refused ("must be a JSON string", "must be a JSON boolean").
 */
extern bool fhir_check_number(FhirPrim prim, const char *s, size_t len,
							  const char **why);

/*
 * Parses a date, dateTime or instant into the UTC range it denotes.  A value
 * with a time is exact to its precision; a value without a time has no zone
 * and its range is widened by 14 hours on each side.
 */
extern bool fhir_parse_time_range(FhirPrim prim, const char *s, size_t len,
								  FhirTimeRange *out, const char **why);

/*
 * Whether the usual dateTime and instant (YYYY-MM-DDThh:mm:ss with Z or
 * +hh:mm) are parsed in one pass: always in the server; a variable only
 * in the unit tests' build (FHIR_TYPES_UNIT_TEST, test/run_tests.sh),
 * which compare the verdicts of both ways.
 */
#ifdef FHIR_TYPES_UNIT_TEST
extern bool fhir_types_datetime_fast;
#else
#define fhir_types_datetime_fast true
#endif

/* True when range a is certainly before range b (a.hi <= b.lo). */
extern bool fhir_time_range_before(const FhirTimeRange *a,
								   const FhirTimeRange *b);

/* ISO 4217 shape: exactly three ASCII upper-case letters. */
extern bool fhir_check_currency(const char *s, size_t len, const char **why);

/* RFC 6838/2045 shape: type "/" subtype, then optional ;name=value parts. */
extern bool fhir_check_mimetype(const char *s, size_t len, const char **why);

#endif							/* FHIR_TYPES_H */
