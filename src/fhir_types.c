/*-------------------------------------------------------------------------
 *
 * fhir_types.c
 *	  Lexical checks of FHIR R4 primitive values, currency codes and MIME
 *	  types, and date/dateTime/instant to UTC range conversion.
 *
 * The rules are those of the regular expressions in the R4 primitive type
 * StructureDefinitions (the "regex" extension of each <type>.value element),
 * plus what the specification says in prose: dates must exist on the
 * Gregorian calendar, strings are at most 1 MiB and not only whitespace,
 * and Narrative.div is a restricted XHTML fragment (txt-1, txt-2).
 *
 * Where a regex says \s or \S, \s is ASCII whitespace (space, tab, LF, VT,
 * FF, CR) and \S is any byte that is neither ASCII whitespace nor an ASCII
 * control character (so bytes of multi-byte UTF-8 characters count as \S).
 *
 * Everything here is hand-written, linear-time scanning over (s, len): no
 * regex library, no recursion and no global state; the only allocation is
 * the stack of open elements of a narrative nested more than 128 deep
 * (malloc/free inside one call, never across calls).  Inputs
 * are not NUL-terminated; every index is checked against len before use.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_types.h"
#include "fhir_xhtml_tables.h"

#define US_PER_SEC		INT64_C(1000000)
#define US_PER_MIN		(60 * US_PER_SEC)
#define US_PER_HOUR		(60 * US_PER_MIN)
#define US_PER_DAY		(24 * US_PER_HOUR)

/* Widening of a value without a time: the extreme time zone offsets. */
#define UNZONED_SLACK	(14 * US_PER_HOUR)

/* Largest FHIR integer, and the magnitude of the smallest. */
#define FHIR_INT_MAX	UINT64_C(2147483647)
#define FHIR_INT_NEGMAX UINT64_C(2147483648)

/* Record a failure reason (if the caller wants one) and return false. */
#define FAIL(msg) \
	do { \
		if (why) \
			*why = (msg); \
		return false; \
	} while (0)

/* Record success (no reason) and return true. */
#define SUCCEED() \
	do { \
		if (why) \
			*why = NULL; \
		return true; \
	} while (0)

/* Common reasons, shared so that callers can compare pointers if they like. */
static const char R_EMPTY[] = "must not be empty";
static const char R_TOO_LONG[] = "must not be longer than 1 MiB (1048576 characters)";
static const char R_CONTROL[] = "must not contain control characters other than tab, CR and LF";
static const char W_CONTROL[] = "contains control characters (other than tab, CR and LF)";
static const char W_BLANK[] = "should not be only whitespace";

/* Record a warning (the first one wins) when the caller asked for them. */
#define WARN(msg) \
	do { \
		if (warn && *warn == NULL) \
			*warn = (msg); \
	} while (0)
static const char R_NEED_BOOLEAN[] = "must be a JSON boolean";
static const char R_NEED_NUMBER[] = "must be a JSON number";
static const char R_NEED_STRING[] = "must be a JSON string";
static const char R_NOT_PRIM[] = "is not a FHIR primitive type";


/* ----------------------------------------------------------------
 *		Character classes
 * ----------------------------------------------------------------
 */

/* ASCII decimal digit. */
static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ASCII lower- or upper-case letter. */
static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ASCII letter or digit. */
static inline bool
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* Lower-case hexadecimal digit, as a uuid requires. */
static inline bool
is_lower_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* ASCII whitespace, i.e. the regex class \s (space, tab, LF, VT, FF, CR). */
static inline bool
is_regex_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Whitespace that text may contain: space, tab, CR, LF (also XML's S). */
static inline bool
is_text_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ASCII control character (C0 or DEL). */
static inline bool
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The regex class \S as defined above: not whitespace, not a control. */
static inline bool
is_nonspace(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* ASCII lower-casing of one byte. */
static inline unsigned char
to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

/* True when the n bytes at s[i] exist and are all decimal digits. */
static bool
digits_at(const char *s, size_t len, size_t i, size_t n)
{
	size_t		k;

	if (i > len || n > len - i)
		return false;
	for (k = 0; k < n; k++)
		if (!is_digit((unsigned char) s[i + k]))
			return false;
	return true;
}

/* Value of the n (<= 9) decimal digits at s[i]; digits_at() must hold. */
static int
digits_value(const char *s, size_t i, size_t n)
{
	int			v = 0;
	size_t		k;

	for (k = 0; k < n; k++)
		v = v * 10 + (s[i + k] - '0');
	return v;
}

/* True when s[i..] starts with the NUL-terminated literal lit. */
static bool
has_prefix_at(const char *s, size_t len, size_t i, const char *lit)
{
	size_t		n = strlen(lit);

	return i <= len && n <= len - i && memcmp(s + i, lit, n) == 0;
}


/* A 64-bit word with every byte equal to c. */
#define WORD_OF(c)		(UINT64_C(0x0101010101010101) * (uint8_t) (c))

/*
 * True when some byte of w is below n (n <= 128).  Exact as a yes/no
 * answer (borrows can only make it wrong about which byte).
 */
static inline bool
word_has_less(uint64_t w, uint8_t n)
{
	return ((w - WORD_OF(n)) & ~w & WORD_OF(0x80)) != 0;
}

/* True when some byte of w equals c. */
static inline bool
word_has_byte(uint64_t w, uint8_t c)
{
	return word_has_less(w ^ WORD_OF(c), 1);
}

/* True when some byte of w is an ASCII control character (C0 or DEL). */
static inline bool
word_has_control(uint64_t w)
{
	return word_has_less(w, 0x20) || word_has_byte(w, 0x7f);
}


/* ----------------------------------------------------------------
 *		Text-like primitives
 * ----------------------------------------------------------------
 */

/*
 * True when the UTF-8 text of len bytes has at most FHIR_STRING_MAX_BYTES
 * characters (R4: "strings SHALL NOT exceed 1MB (1024*1024 characters)"):
 * every byte that is not a continuation byte (10xxxxxx) starts a character.
 */
static bool
within_char_limit(const char *s, size_t len)
{
	size_t		nchars = 0;
	size_t		i;

	if (len <= FHIR_STRING_MAX_BYTES)
		return true;
	if (len > (size_t) 4 * FHIR_STRING_MAX_BYTES)
		return false;
	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			nchars++;
	return nchars <= FHIR_STRING_MAX_BYTES;
}

/*
 * string, markdown, System.String: regex [ \r\n\t\S]+ and at most 1 MiB
 * characters.  Control characters other than tab, CR and LF are \S and
 * match, except vertical tab and form feed, which are \s but not in the
 * class; HL7's validator only warns about all of them (they cannot be
 * written in FHIR XML), and we follow it.  A value of only whitespace
 * matches the regex; the spec's "SHOULD have non-whitespace content" is a
 * warning for string and markdown.
 */
static bool
check_text(const char *s, size_t len, bool warn_blank, const char **why,
		   const char **warn)
{
	bool		blank = true;
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	if (!within_char_limit(s, len))
		FAIL(R_TOO_LONG);
	i = 0;
	while (i < len)
	{
		unsigned char c;

		/*
		 * Eight bytes at a time while none is a control character or DEL
		 * (spaces and bytes of 0x80 and up, UTF-8, are fine): the common case
		 * of long free text.  A word of eight spaces leaves blank as it is.
		 */
		if (len - i >= 8)
		{
			uint64_t	w;

			memcpy(&w, s + i, 8);
			if (!word_has_control(w))
			{
				if (w != WORD_OF(' '))
					blank = false;
				i += 8;
				continue;
			}
		}
		c = (unsigned char) s[i++];
		if (is_text_space(c))
			continue;
		if (is_control(c))
			WARN(W_CONTROL);
		blank = false;
	}
	if (warn_blank && blank)
		WARN(W_BLANK);
	SUCCEED();
}

/*
 * code: regex [^\s]+(\s[^\s]+)*, i.e. no leading or trailing whitespace and
 * single whitespace characters between words.  code is a specialisation of
 * string, so the separators are limited to what a string may hold (space,
 * tab, CR, LF), other control characters are refused, and so are values
 * longer than 1 MiB characters.  Other control characters are \S: a
 * warning, as for string.
 */
static bool
check_code(const char *s, size_t len, const char **why, const char **warn)
{
	bool		prev_space = false;
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	if (!within_char_limit(s, len))
		FAIL(R_TOO_LONG);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_text_space(c))
		{
			if (i == 0 || i == len - 1)
				FAIL("must not start or end with whitespace");
			if (prev_space)
				FAIL("must not contain more than one whitespace character in a row");
			prev_space = true;
		}
		else
		{
			if (is_control(c))
				WARN(W_CONTROL);
			prev_space = false;
		}
	}
	SUCCEED();
}

/*
 * id: regex [A-Za-z0-9\-\.]{1,64}.
 */
static bool
check_id(const char *s, size_t len, const char **why)
{
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	if (len > 64)
		FAIL("must match [A-Za-z0-9\\-\\.]{1,64} (at most 64 characters)");
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!is_alnum(c) && c != '-' && c != '.')
			FAIL("must match [A-Za-z0-9\\-\\.]{1,64}");
	}
	SUCCEED();
}

/*
 * uri, url, canonical: regex \S*, and not empty (FHIR JSON has no empty
 * strings).  No whitespace anywhere; control characters match \S and get
 * the same warning as in a string.
 */
static bool
check_uri(const char *s, size_t len, const char **why, const char **warn)
{
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_regex_space(c))
			FAIL("must not contain whitespace");
		if (!is_nonspace(c))
			WARN(W_CONTROL);
	}
	SUCCEED();
}

/*
 * oid: regex urn:oid:[0-2](\.(0|[1-9][0-9]*))+.
 */
static bool
check_oid(const char *s, size_t len, const char **why)
{
	static const char msg[] = "must match urn:oid:[0-2](\\.(0|[1-9][0-9]*))+";
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	if (!has_prefix_at(s, len, 0, "urn:oid:"))
		FAIL(msg);
	i = 8;
	if (i >= len || s[i] < '0' || s[i] > '2')
		FAIL(msg);
	i++;
	if (i >= len)
		FAIL(msg);				/* at least one further arc */
	while (i < len)
	{
		if (s[i] != '.')
			FAIL(msg);
		i++;
		if (i >= len || !is_digit((unsigned char) s[i]))
			FAIL(msg);
		if (s[i] == '0')
		{
			i++;
			if (i < len && is_digit((unsigned char) s[i]))
				FAIL(msg);		/* leading zero */
		}
		else
		{
			while (i < len && is_digit((unsigned char) s[i]))
				i++;
		}
	}
	SUCCEED();
}

/*
 * uuid: regex urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
 * (lower case only).
 */
static bool
check_uuid(const char *s, size_t len, const char **why)
{
	static const char msg[] =
		"must be urn:uuid: followed by a lower-case 8-4-4-4-12 hex UUID";
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	if (len != 9 + 36 || !has_prefix_at(s, len, 0, "urn:uuid:"))
		FAIL(msg);
	for (i = 0; i < 36; i++)
	{
		unsigned char c = (unsigned char) s[9 + i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (c != '-')
				FAIL(msg);
		}
		else if (!is_lower_hex(c))
			FAIL(msg);
	}
	SUCCEED();
}

/*
 * base64Binary: only the base64 alphabet, '=' and whitespace; the
 * non-whitespace characters number a multiple of 4 and '=' appears only as
 * padding at the very end, at most twice.  (The R4 regex is
 * (\s*([0-9a-zA-Z\+/=]){4}\s*)+; the padding rule is RFC 4648's.)
 */
static bool
check_base64(const char *s, size_t len, const char **why)
{
	size_t		count = 0;
	int			pad = 0;
	size_t		i;

	if (len == 0)
		FAIL(R_EMPTY);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_regex_space(c))
			continue;
		if (is_alnum(c) || c == '+' || c == '/')
		{
			if (pad > 0)
				FAIL("'=' may only appear as padding at the end");
		}
		else if (c == '=')
		{
			if (++pad > 2)
				FAIL("must not have more than two '=' padding characters");
		}
		else
			FAIL("must contain only base64 characters (A-Z a-z 0-9 + /), '=' and whitespace");
		count++;
	}
	if (count == 0)
		FAIL("must contain some base64 data, not only whitespace");
	if (count % 4 != 0)
		FAIL("the number of base64 characters must be a multiple of 4");
	SUCCEED();
}


/* ----------------------------------------------------------------
 *		Dates and times
 * ----------------------------------------------------------------
 */

/* Which of the three date-like primitives is being parsed. */
typedef enum DtMode
{
	DT_DATE,
	DT_DATETIME,
	DT_INSTANT
} DtMode;

/* Precision of a parsed date-like value. */
typedef enum DtPrecision
{
	DTP_YEAR,
	DTP_MONTH,
	DTP_DAY,
	DTP_TIME
} DtPrecision;

/* The fields of a parsed date, dateTime or instant. */
typedef struct DtParts
{
	DtPrecision prec;
	int			year;
	int			month;			/* 1..12 when prec >= DTP_MONTH */
	int			day;			/* 1..31 when prec >= DTP_DAY */
	int			hour;			/* the rest only when prec == DTP_TIME */
	int			minute;
	int			second;			/* 0..60 */
	int32_t		frac_us;		/* fraction truncated to microseconds */
	int			frac_digits;	/* digits given after '.', 0 if none */
	int			zone_minutes;	/* offset east of UTC */
} DtParts;

static const char R_TIME_NEEDS[] = "a time needs seconds and a time zone";
static const char R_DATE_FORM[] = "must have the form YYYY, YYYY-MM or YYYY-MM-DD";
static const char R_DATETIME_FORM[] =
	"must have the form YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)";
static const char R_INSTANT_FORM[] =
	"an instant needs the form YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)";
static const char R_DAY_MISSING[] = "the day does not exist in that month";

/* Gregorian leap year. */
static bool
is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Number of days of month m (1..12) of year y. */
static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && is_leap_year(y))
		return 29;
	return mdays[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil; y >= 1 so no negative division).
 */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t		yy = y - (m <= 2 ? 1 : 0);
	int64_t		era = yy / 400;
	int64_t		yoe = yy - era * 400;
	int64_t		doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/*
 * Parses the time part "hh:mm:ss[.f+]" at s[*pi]; shared by dateTime,
 * instant and time.  Missing seconds are reported as R_TIME_NEEDS when
 * time_needs_zone (dateTime/instant), else as bad_form.
 */
static bool
parse_clock(const char *s, size_t len, size_t *pi, DtParts *p,
			bool time_needs_zone, const char *bad_form, const char **why)
{
	size_t		i = *pi;

	if (!digits_at(s, len, i, 2) || i + 2 >= len || s[i + 2] != ':' ||
		!digits_at(s, len, i + 3, 2))
		FAIL(bad_form);
	p->hour = digits_value(s, i, 2);
	p->minute = digits_value(s, i + 3, 2);
	if (p->hour > 23)
		FAIL("the hour must be 00 to 23");
	if (p->minute > 59)
		FAIL("the minute must be 00 to 59");
	i += 5;
	if (i >= len || s[i] != ':')
	{
		if (time_needs_zone &&
			(i >= len || s[i] == 'Z' || s[i] == '+' || s[i] == '-'))
			FAIL(R_TIME_NEEDS);
		FAIL(bad_form);
	}
	i++;
	if (!digits_at(s, len, i, 2))
		FAIL(bad_form);
	p->second = digits_value(s, i, 2);
	if (p->second > 60)
		FAIL("the second must be 00 to 60");
	i += 2;
	p->frac_us = 0;
	p->frac_digits = 0;
	if (i < len && s[i] == '.')
	{
		i++;
		if (i >= len || !is_digit((unsigned char) s[i]))
			FAIL("a decimal point in the seconds must be followed by digits");
		while (i < len && is_digit((unsigned char) s[i]))
		{
			if (p->frac_digits < 6)
				p->frac_us = p->frac_us * 10 + (s[i] - '0');
			if (p->frac_digits < 7)
				p->frac_digits++;	/* 7 means "more than 6" */
			i++;
		}
		/* scale to microseconds */
		{
			int			k;

			for (k = p->frac_digits; k < 6; k++)
				p->frac_us *= 10;
		}
	}
	*pi = i;
	return true;
}

/*
 * Parses a date, dateTime or instant exactly as the R4 regexes allow, plus
 * the calendar: the day must exist in its month (Gregorian leap years).
 */
static bool
parse_datelike(DtMode mode, const char *s, size_t len, DtParts *p,
			   const char **why)
{
	const char *form = mode == DT_DATE ? R_DATE_FORM :
		mode == DT_DATETIME ? R_DATETIME_FORM : R_INSTANT_FORM;
	size_t		i;

	memset(p, 0, sizeof(*p));
	if (len == 0)
		FAIL(R_EMPTY);

	/* year */
	if (!digits_at(s, len, 0, 4))
		FAIL(form);
	p->year = digits_value(s, 0, 4);
	if (p->year == 0)
		FAIL("the year must be 0001 to 9999");
	p->prec = DTP_YEAR;
	if (len == 4)
	{
		if (mode == DT_INSTANT)
			FAIL(R_INSTANT_FORM);
		return true;
	}

	/* month */
	if (s[4] != '-' || !digits_at(s, len, 5, 2))
		FAIL(form);
	p->month = digits_value(s, 5, 2);
	if (p->month < 1 || p->month > 12)
		FAIL("the month must be 01 to 12");
	p->prec = DTP_MONTH;
	if (len == 7)
	{
		if (mode == DT_INSTANT)
			FAIL(R_INSTANT_FORM);
		return true;
	}

	/* day */
	if (s[7] != '-' || !digits_at(s, len, 8, 2))
		FAIL(form);
	p->day = digits_value(s, 8, 2);
	if (p->day < 1 || p->day > 31)
		FAIL("the day must be 01 to 31");
	if (p->day > days_in_month(p->year, p->month))
		FAIL(R_DAY_MISSING);
	p->prec = DTP_DAY;
	if (len == 10)
	{
		if (mode == DT_INSTANT)
			FAIL(R_INSTANT_FORM);
		return true;
	}

	/* time */
	if (mode == DT_DATE)
	{
		if (s[10] == 'T')
			FAIL("a date must not have a time");
		FAIL(form);
	}
	if (s[10] != 'T')
		FAIL(form);
	i = 11;
	if (!parse_clock(s, len, &i, p, true, form, why))
		return false;
	p->prec = DTP_TIME;

	/* zone */
	if (i >= len)
		FAIL(R_TIME_NEEDS);
	if (s[i] == 'Z')
	{
		p->zone_minutes = 0;
		i++;
	}
	else if (s[i] == '+' || s[i] == '-')
	{
		int			zh,
					zm;

		if (!digits_at(s, len, i + 1, 2) || i + 3 >= len || s[i + 3] != ':' ||
			!digits_at(s, len, i + 4, 2))
			FAIL("a time zone must be Z, +hh:mm or -hh:mm");
		zh = digits_value(s, i + 1, 2);
		zm = digits_value(s, i + 4, 2);
		if (zm > 59)
			FAIL("the time zone minutes must be 00 to 59");
		if (zh > 14 || (zh == 14 && zm != 0))
			FAIL("the time zone offset must be at most 14:00");
		p->zone_minutes = (zh * 60 + zm) * (s[i] == '-' ? -1 : 1);
		i += 6;
	}
	else
		FAIL(form);
	if (i != len)
		FAIL(form);
	return true;
}

/*
 * time: regex ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?,
 * a time of day without a zone.
 */
static bool
check_time(const char *s, size_t len, const char **why)
{
	static const char form[] = "must have the form hh:mm:ss[.fff] (no time zone)";
	DtParts		p;
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (!parse_clock(s, len, &i, &p, false, form, why))
		return false;
	if (i != len)
		FAIL(form);
	SUCCEED();
}

/*
 * Converts parsed fields into the UTC range they denote (see
 * fhir_parse_time_range for the rules).
 */
static FhirTimeRange
parts_to_range(const DtParts *p)
{
	FhirTimeRange r;

	switch (p->prec)
	{
		case DTP_YEAR:
			r.lo = days_from_civil(p->year, 1, 1) * US_PER_DAY;
			r.hi = days_from_civil(p->year + 1, 1, 1) * US_PER_DAY;
			break;
		case DTP_MONTH:
			r.lo = days_from_civil(p->year, p->month, 1) * US_PER_DAY;
			if (p->month == 12)
				r.hi = days_from_civil(p->year + 1, 1, 1) * US_PER_DAY;
			else
				r.hi = days_from_civil(p->year, p->month + 1, 1) * US_PER_DAY;
			break;
		case DTP_DAY:
			r.lo = days_from_civil(p->year, p->month, p->day) * US_PER_DAY;
			r.hi = r.lo + US_PER_DAY;
			break;
		case DTP_TIME:
		default:
			{
				int64_t		base;
				int64_t		unit;
				int			k;

				base = days_from_civil(p->year, p->month, p->day) * US_PER_DAY
					+ p->hour * US_PER_HOUR + p->minute * US_PER_MIN
					- (int64_t) p->zone_minutes * US_PER_MIN;
				if (p->second == 60)
				{
					/* a leap second: read as hh:mm:59.999999, 1 us long */
					r.lo = base + 59 * US_PER_SEC + (US_PER_SEC - 1);
					r.hi = r.lo + 1;
					return r;
				}
				unit = US_PER_SEC;
				for (k = 0; k < p->frac_digits && k < 6; k++)
					unit /= 10;
				r.lo = base + p->second * US_PER_SEC + p->frac_us;
				r.hi = r.lo + unit;
				return r;
			}
	}
	/* no time, hence no zone: any offset from -14:00 to +14:00 may apply */
	r.lo -= UNZONED_SLACK;
	r.hi += UNZONED_SLACK;
	return r;
}


/* ----------------------------------------------------------------
 *		XHTML (Narrative.div)
 * ----------------------------------------------------------------
 */

/* A name inside the input: offset and length. */
typedef struct XSpan
{
	size_t		off;
	size_t		len;
} XSpan;

/* One open element: where its (qualified) name is in the input. */
typedef struct XOpen
{
	uint32_t	off;
	uint32_t	len;
} XOpen;

/* A namespace prefix declared (xmlns:p) on an open element. */
typedef struct XPrefix
{
	XSpan		prefix;
	size_t		depth;			/* the declaring element's depth */
	bool		xhtml;			/* bound to the XHTML namespace */
} XPrefix;

/* Most namespace prefixes declared at once on the open elements. */
#define XHTML_MAX_PREFIXES	64

/* Open elements kept without allocation; deeper nesting uses the heap. */
#define XHTML_LOCAL_DEPTH	128

/*
 * State of one narrative check: the stack of open elements (on the heap
 * once deeper than XHTML_LOCAL_DEPTH, so that nesting has no fixed limit
 * and costs no C stack) and the namespace prefixes in scope.
 */
typedef struct XState
{
	XOpen	   *open;
	size_t		depth;
	size_t		cap;
	XOpen		local[XHTML_LOCAL_DEPTH];
	XPrefix		prefixes[XHTML_MAX_PREFIXES];
	int			nprefixes;
	size_t		default_ns_depth;	/* depth + 1 of the xmlns declaration, 0 if none */
} XState;

static const char R_X_ELEMENT[] =
	"only the XHTML elements allowed by FHIR may be used (txt-1)";
static const char R_X_ATTRIBUTE[] =
	"only the XHTML attributes allowed by FHIR may be used (txt-1)";
static const char R_X_NS[] =
	"elements must be in the XHTML namespace http://www.w3.org/1999/xhtml";
static const char R_X_NOCHAR[] =
	"U+FFFE and U+FFFF are not XML characters";
static const char R_X_REF[] =
	"only the entities &lt; &gt; &amp; &quot; &apos; and numeric character references are allowed";

/* True when the name s[off..off+n) is exactly the literal lit. */
static inline bool
span_is(const char *s, size_t off, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s + off, lit, n) == 0;
}

/* True when the n bytes at a and b are equal (short names: no call). */
static inline bool
same_bytes(const char *a, const char *b, size_t n)
{
	size_t		k;

	for (k = 0; k < n; k++)
		if (a[k] != b[k])
			return false;
	return true;
}

/* True when the n bytes at p are one of the n-byte names packed in list. */
static inline bool
name_in_list(const char *p, size_t n, const char *list)
{
	for (; *list; list += n)
		if (p[0] == list[0] && memcmp(p, list, n) == 0)
			return true;
	return false;
}

/*
 * True when the (local) element name is one that txt-1 allows
 * (case-sensitive), from the generated HTML 4 list.  Called for every tag
 * of every narrative: one indexed lookup by length and a few compares.
 */
static inline bool
xhtml_element_allowed(const char *s, size_t off, size_t n)
{
	return xhtml_element_name_allowed(s + off, n);
}

/*
 * True when the unprefixed attribute name (or xml:lang) is allowed by
 * txt-1 on the element whose local name is given: an attribute of every
 * element, or one of that element's own (generated HTML 4 lists).
 */
static bool
xhtml_attribute_allowed(const char *s, size_t eoff, size_t elen,
						size_t aoff, size_t alen)
{
	char		key[XHTML_ELEMENT_ATTRS_MAXLEN + 1];

	if (alen > 0 && alen <= XHTML_GLOBAL_ATTRS_MAXLEN &&
		name_in_list(s + aoff, alen, xhtml_global_attrs_by_len[alen]))
		return true;
	if (elen + 1 + alen > XHTML_ELEMENT_ATTRS_MAXLEN)
		return false;
	memcpy(key, s + eoff, elen);
	key[elen] = '.';
	memcpy(key + elen + 1, s + aoff, alen);
	return name_in_list(key, elen + 1 + alen,
						xhtml_element_attrs_by_len[elen + 1 + alen]);
}

/* Bits of xml_name_class[]. */
#define XC_NAME_START	0x01
#define XC_NAME_CHAR	0x02

/*
 * XML NameStartChar and NameChar, restricted to ASCII plus any non-ASCII
 * byte, as a table: letters, '_', ':' and bytes >= 0x80 start a name;
 * those, digits, '-' and '.' continue one.
 */
#define XC_S	(XC_NAME_START | XC_NAME_CHAR)
#define XC_C	XC_NAME_CHAR
#define XC_16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const uint8_t xml_name_class[256] = {
	/* 0x00-0x1f */
	XC_16(0), XC_16(0),
	/* 0x20-0x2f: '-' '.' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, XC_C, XC_C, 0,
	/* 0x30-0x3f: digits, ':' */
	XC_C, XC_C, XC_C, XC_C, XC_C, XC_C, XC_C, XC_C, XC_C, XC_C, XC_S, 0, 0, 0, 0, 0,
	/* 0x40-0x4f: 'A'-'O' */
	0, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S,
	/* 0x50-0x5f: 'P'-'Z', '_' */
	XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, 0, 0, 0, 0, XC_S,
	/* 0x60-0x6f: 'a'-'o' */
	0, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S,
	/* 0x70-0x7f: 'p'-'z' */
	XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, XC_S, 0, 0, 0, 0, 0,
	/* 0x80-0xff */
	XC_16(XC_S), XC_16(XC_S), XC_16(XC_S), XC_16(XC_S),
	XC_16(XC_S), XC_16(XC_S), XC_16(XC_S), XC_16(XC_S)
};
#undef XC_16
#undef XC_C
#undef XC_S

/* XML NameStartChar, restricted to ASCII plus any non-ASCII byte. */
static inline bool
is_name_start(unsigned char c)
{
	return (xml_name_class[c] & XC_NAME_START) != 0;
}

/* XML NameChar, restricted to ASCII plus any non-ASCII byte. */
static inline bool
is_name_char(unsigned char c)
{
	return (xml_name_class[c] & XC_NAME_CHAR) != 0;
}

/* Scans an XML Name at s[*pi]; returns its length (0 if none). */
static inline size_t
scan_name(const char *s, size_t len, size_t *pi)
{
	size_t		start = *pi;
	size_t		i = start;

	if (i >= len || !is_name_start((unsigned char) s[i]))
		return 0;
	i++;
	while (i < len && is_name_char((unsigned char) s[i]))
		i++;
	*pi = i;
	return i - start;
}

/* Skips XML whitespace at s[*pi]; returns true if there was any. */
static inline bool
skip_xml_space(const char *s, size_t len, size_t *pi)
{
	size_t		i = *pi;

	while (i < len && is_text_space((unsigned char) s[i]))
		i++;
	if (i == *pi)
		return false;
	*pi = i;
	return true;
}

/*
 * True when the byte 0xEF at s[i] starts U+FFFE or U+FFFF (EF BF BE or
 * EF BF BF), the two non-characters XML's Char production leaves out that
 * valid UTF-8 can spell (surrogates cannot be spelt in valid UTF-8).
 */
static inline bool
is_xml_nonchar_at(const char *s, size_t len, size_t i)
{
	return i + 2 < len && (unsigned char) s[i + 1] == 0xBF &&
		((unsigned char) s[i + 2] == 0xBE || (unsigned char) s[i + 2] == 0xBF);
}

/* A code point that XML 1.0 allows (production Char). */
static bool
is_xml_char(uint32_t cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD ||
		(cp >= 0x20 && cp <= 0xD7FF) ||
		(cp >= 0xE000 && cp <= 0xFFFD) ||
		(cp >= 0x10000 && cp <= 0x10FFFF);
}

/*
 * Parses a reference at s[*pi] (which is '&'): one of the five XML entities
 * or a numeric character reference naming an XML Char.  On success sets
 * *cp to the code point and advances *pi past the ';'.
 */
static bool
parse_reference(const char *s, size_t len, size_t *pi, uint32_t *cp,
				const char **why)
{
	size_t		i = *pi + 1;

	if (i < len && s[i] == '#')
	{
		bool		hex = false;
		uint32_t	v = 0;
		size_t		ndigits = 0;

		i++;
		if (i < len && s[i] == 'x')
		{
			hex = true;
			i++;
		}
		while (i < len)
		{
			unsigned char c = (unsigned char) s[i];
			uint32_t	d;

			if (is_digit(c))
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				break;
			v = v * (hex ? 16 : 10) + d;
			if (v > 0x10FFFF)
				v = 0x110000;	/* saturate: out of range anyway */
			ndigits++;
			i++;
		}
		if (ndigits == 0 || i >= len || s[i] != ';')
			FAIL("a character reference must be &#digits; or &#xhex;");
		if (!is_xml_char(v))
			FAIL("a character reference names a character that XML does not allow");
		*cp = v;
		*pi = i + 1;
		return true;
	}
	else
	{
		static const struct
		{
			const char *name;
			uint32_t	cp;
		}			ents[] = {
			{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}
		};
		size_t		start = i;
		size_t		k;

		while (i < len && i - start < 5 && is_alpha((unsigned char) s[i]))
			i++;
		if (i >= len || s[i] != ';')
			FAIL(R_X_REF);
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
		{
			if (span_is(s, start, i - start, ents[k].name))
			{
				*cp = ents[k].cp;
				*pi = i + 1;
				return true;
			}
		}
		FAIL(R_X_REF);
	}
}

/*
 * Returns the next code point of an attribute value that has already been
 * validated, decoding references; bytes >= 0x80 come back one at a time
 * (callers only compare against ASCII).
 */
static uint32_t
attr_next(const char *v, size_t vlen, size_t *pi)
{
	if (v[*pi] == '&')
	{
		uint32_t	cp = 0;
		size_t		save = *pi;

		if (parse_reference(v, vlen, pi, &cp, NULL))
			return cp;
		*pi = save + 1;			/* cannot happen for a validated value */
		return '&';
	}
	return (unsigned char) v[(*pi)++];
}

/* True when the (decoded) attribute value is exactly lit. */
static bool
attr_value_equals(const char *v, size_t vlen, const char *lit)
{
	size_t		i = 0;
	size_t		n = strlen(lit);
	size_t		k = 0;

	while (i < vlen)
	{
		uint32_t	cp = attr_next(v, vlen, &i);

		if (k >= n || cp != (unsigned char) lit[k])
			return false;
		k++;
	}
	return k == n;
}

/*
 * True when a URL attribute value would run script: after decoding, and
 * ignoring control characters and whitespace (as browsers do), it starts
 * with "javascript:" in any case.
 */
static bool
attr_value_is_javascript(const char *v, size_t vlen)
{
	static const char js[] = "javascript:";
	size_t		i = 0;
	size_t		k = 0;

	while (i < vlen && k < sizeof(js) - 1)
	{
		uint32_t	cp = attr_next(v, vlen, &i);

		if (cp <= 0x20 || cp == 0x7f)
			continue;
		if (cp >= 0x80 || to_lower((unsigned char) cp) != (unsigned char) js[k])
			return false;
		k++;
	}
	return k == sizeof(js) - 1;
}

/* The local part of a possibly prefixed name (after the last ':'). */
static void
local_name(const char *s, size_t off, size_t n, size_t *loff, size_t *ln)
{
	size_t		k;

	*loff = off;
	*ln = n;
	for (k = 0; k < n; k++)
	{
		if (s[off + k] == ':')
		{
			*loff = off + k + 1;
			*ln = n - k - 1;
		}
	}
}

/* Case-insensitive test of an ASCII name against a lower-case literal. */
static bool
span_is_ci(const char *s, size_t off, size_t n, const char *lit)
{
	size_t		k;

	if (strlen(lit) != n)
		return false;
	for (k = 0; k < n; k++)
		if (to_lower((unsigned char) s[off + k]) != (unsigned char) lit[k])
			return false;
	return true;
}

/*
 * Makes room for one more open element, moving the stack to the heap (and
 * doubling it there) when the local array is full.  False when memory runs
 * out: the caller reports the narrative as too deep to check.
 */
static bool
xstate_reserve(XState *st)
{
	XOpen	   *bigger;
	size_t		ncap;

	if (st->depth < st->cap)
		return true;
	if (st->cap > SIZE_MAX / 2 / sizeof(XOpen))
		return false;
	ncap = st->cap * 2;
	if (st->open == st->local)
	{
		bigger = malloc(ncap * sizeof(XOpen));
		if (bigger == NULL)
			return false;
		memcpy(bigger, st->local, st->depth * sizeof(XOpen));
	}
	else
	{
		bigger = realloc(st->open, ncap * sizeof(XOpen));
		if (bigger == NULL)
			return false;
	}
	st->open = bigger;
	st->cap = ncap;
	return true;
}

/* Ends the namespace scopes of elements deeper than the current depth. */
static inline void
xstate_pop_scopes(XState *st)
{
	while (st->nprefixes > 0 && st->prefixes[st->nprefixes - 1].depth > st->depth)
		st->nprefixes--;
	if (st->default_ns_depth > st->depth + 1)
		st->default_ns_depth = 0;
}

/*
 * True when the element name s[off..off+n) is in the XHTML namespace: an
 * unprefixed name under an xmlns declaration (FHIR requires it to be the
 * XHTML one), or a prefixed name whose nearest xmlns:prefix declaration is
 * the XHTML namespace.  Sets the local name.
 */
static bool
xstate_in_xhtml(const XState *st, const char *s, size_t off, size_t n,
				size_t *loff, size_t *ln)
{
	size_t		k;
	int			i;

	for (k = 0; k < n; k++)
		if (s[off + k] == ':')
			break;
	if (k == n)
	{
		*loff = off;
		*ln = n;
		return st->default_ns_depth > 0;
	}
	*loff = off + k + 1;
	*ln = n - k - 1;
	for (i = st->nprefixes - 1; i >= 0; i--)
	{
		const XPrefix *p = &st->prefixes[i];

		if (p->prefix.len == k && memcmp(s + p->prefix.off, s + off, k) == 0)
			return p->xhtml;
	}
	return false;
}

/*
 * Checks one attribute (name at s[noff..], value at s[voff..]) of the
 * element whose local name is at s[eoff..]: no event handlers, no
 * javascript: URLs, and only the attributes txt-1 allows (namespace
 * declarations apart, which the caller has handled).
 */
static bool
check_attribute(const char *s, size_t eoff, size_t elen, size_t noff,
				size_t nlen, size_t voff, size_t vlen, const char **why)
{
	size_t		loff,
				llen;

	if (span_is(s, noff, nlen, "xmlns") ||
		(nlen > 6 && memcmp(s + noff, "xmlns:", 6) == 0))
		return true;
	local_name(s, noff, nlen, &loff, &llen);
	if ((nlen >= 2 && to_lower((unsigned char) s[noff]) == 'o' &&
		 to_lower((unsigned char) s[noff + 1]) == 'n') ||
		(llen >= 2 && to_lower((unsigned char) s[loff]) == 'o' &&
		 to_lower((unsigned char) s[loff + 1]) == 'n'))
		FAIL("event handler attributes (on...) are not allowed (txt-1)");
	if ((span_is_ci(s, loff, llen, "href") || span_is_ci(s, loff, llen, "src")) &&
		attr_value_is_javascript(s + voff, vlen))
		FAIL("javascript: URLs are not allowed (txt-1)");
	if (!xhtml_attribute_allowed(s, eoff, elen, noff, nlen))
		FAIL(R_X_ATTRIBUTE);
	return true;
}

/*
 * Parses a start tag at s[*pi] (which is '<' followed by a name start).
 * Reads its attributes, records its namespace declarations, then checks
 * the element (in the XHTML namespace, allowed by txt-1) and each
 * attribute; pushes it on the stack unless it is self-closed.
 */
static bool
parse_start_tag(const char *s, size_t len, size_t *pi, XState *st,
				bool is_root, bool *self_closed, bool *is_img,
				const char **why)
{
	XSpan		attrs[FHIR_XHTML_MAX_ATTRS];
	XSpan		values[FHIR_XHTML_MAX_ATTRS];
	int			nattrs = 0;
	size_t		i = *pi + 1;
	size_t		noff = i;
	size_t		nlen = scan_name(s, len, &i);
	size_t		loff,
				llen;
	int			k;

	if (nlen == 0)
		FAIL("a '<' in text must be written &lt;");
	*self_closed = false;

	for (;;)
	{
		bool		had_space = skip_xml_space(s, len, &i);
		size_t		aoff,
					alen,
					voff;
		unsigned char quote;

		if (i >= len)
			FAIL("a start tag is not closed with '>'");
		if (s[i] == '>')
		{
			i++;
			break;
		}
		if (s[i] == '/')
		{
			if (i + 1 < len && s[i + 1] == '>')
			{
				i += 2;
				*self_closed = true;
				break;
			}
			FAIL("a '/' in a start tag must be followed by '>'");
		}
		if (!had_space)
			FAIL("attributes must be separated by whitespace");
		aoff = i;
		alen = scan_name(s, len, &i);
		if (alen == 0)
			FAIL("an attribute name is malformed");
		skip_xml_space(s, len, &i);
		if (i >= len || s[i] != '=')
			FAIL("an attribute must have a value (name=\"value\")");
		i++;
		skip_xml_space(s, len, &i);
		if (i >= len || (s[i] != '"' && s[i] != '\''))
			FAIL("attribute values must be quoted");
		quote = (unsigned char) s[i];
		i++;
		voff = i;
		for (;;)
		{
			unsigned char c;

			if (i >= len)
				FAIL("an attribute value is not closed");
			c = (unsigned char) s[i];
			if (c == quote)
				break;
			if (c == '<')
				FAIL("an attribute value must not contain '<' (write &lt;)");
			if (c == '&')
			{
				uint32_t	cp;

				if (!parse_reference(s, len, &i, &cp, why))
					return false;
				continue;
			}
			if (c < 0x20 && !is_text_space(c))
				FAIL(R_CONTROL);
			if (c == 0xEF && is_xml_nonchar_at(s, len, i))
				FAIL(R_X_NOCHAR);
			i++;
		}

		for (k = 0; k < nattrs; k++)
			if (attrs[k].len == alen &&
				memcmp(s + attrs[k].off, s + aoff, alen) == 0)
				FAIL("an attribute must not appear twice on one element");
		if (nattrs >= FHIR_XHTML_MAX_ATTRS)
			FAIL("an element must not have more than 64 attributes");
		attrs[nattrs].off = aoff;
		attrs[nattrs].len = alen;
		values[nattrs].off = voff;
		values[nattrs].len = i - voff;
		nattrs++;
		i++;					/* closing quote */
	}

	/* namespace declarations first: they apply to the element itself */
	for (k = 0; k < nattrs; k++)
	{
		const char *v = s + values[k].off;
		size_t		vlen = values[k].len;

		if (span_is(s, attrs[k].off, attrs[k].len, "xmlns"))
		{
			if (!attr_value_equals(v, vlen, FHIR_XHTML_NS))
				FAIL("the XHTML namespace must be http://www.w3.org/1999/xhtml");
			if (st->default_ns_depth == 0)
				st->default_ns_depth = st->depth + 1;
		}
		else if (attrs[k].len > 6 && memcmp(s + attrs[k].off, "xmlns:", 6) == 0)
		{
			XPrefix    *p;

			if (st->nprefixes >= XHTML_MAX_PREFIXES)
				FAIL("a narrative must not declare more than 64 namespace prefixes at once");
			p = &st->prefixes[st->nprefixes++];
			p->prefix.off = attrs[k].off + 6;
			p->prefix.len = attrs[k].len - 6;
			p->depth = st->depth + 1;
			p->xhtml = attr_value_equals(v, vlen, FHIR_XHTML_NS);
		}
	}
	if (!xstate_in_xhtml(st, s, noff, nlen, &loff, &llen))
	{
		if (is_root)
			FAIL("the root <div> must have xmlns=\"http://www.w3.org/1999/xhtml\"");
		FAIL(R_X_NS);
	}
	if (!xhtml_element_allowed(s, loff, llen))
		FAIL(R_X_ELEMENT);
	if (is_root && !span_is(s, loff, llen, "div"))
		FAIL("the root element must be a <div>");
	for (k = 0; k < nattrs; k++)
		if (!check_attribute(s, loff, llen, attrs[k].off, attrs[k].len,
							 values[k].off, values[k].len, why))
			return false;
	*is_img = span_is(s, loff, llen, "img");

	if (!*self_closed)
	{
		if (st->depth >= st->cap && !xstate_reserve(st))
			FAIL("the narrative is nested too deeply to be checked");
		st->open[st->depth].off = (uint32_t) noff;
		st->open[st->depth].len = (uint32_t) nlen;
		st->depth++;
	}
	else
		xstate_pop_scopes(st);
	*pi = i;
	return true;
}

/*
 * Parses an end tag at s[*pi] (which is "</") and pops the matching
 * element, with the namespace declarations it made.
 */
static bool
parse_end_tag(const char *s, size_t len, size_t *pi, XState *st,
			  const char **why)
{
	size_t		i = *pi + 2;
	size_t		noff = i;
	size_t		nlen;
	const XOpen *top;

	/*
	 * The common case, the open element's name right before '>', needs no
	 * scan: the open name is a whole XML Name, so scanning would stop at
	 * the '>' and find the same name.
	 */
	if (st->depth > 0)
	{
		top = &st->open[st->depth - 1];
		if (len - i > top->len && s[i + top->len] == '>' &&
			same_bytes(s + i, s + top->off, top->len))
		{
			st->depth--;
			xstate_pop_scopes(st);
			*pi = i + top->len + 1;
			return true;
		}
	}
	nlen = scan_name(s, len, &i);

	if (nlen == 0)
		FAIL("an end tag is malformed");
	skip_xml_space(s, len, &i);
	if (i >= len || s[i] != '>')
		FAIL("an end tag is malformed");
	i++;
	if (st->depth == 0)
		FAIL("an end tag has no matching start tag");
	top = &st->open[st->depth - 1];
	if (top->len != nlen || !same_bytes(s + top->off, s + noff, nlen))
		FAIL("elements are not properly nested (an end tag does not match its start tag)");
	st->depth--;
	xstate_pop_scopes(st);
	*pi = i;
	return true;
}

/* Parses a comment at s[*pi] (which is "<!--"), which must not contain "--". */
static bool
parse_comment(const char *s, size_t len, size_t *pi, const char **why)
{
	size_t		i = *pi + 4;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '-' && i + 1 < len && s[i + 1] == '-')
		{
			if (i + 2 < len && s[i + 2] == '>')
			{
				*pi = i + 3;
				return true;
			}
			FAIL("a comment must not contain '--'");
		}
		if (c < 0x20 && !is_text_space(c))
			FAIL(R_CONTROL);
		if (c == 0xEF && is_xml_nonchar_at(s, len, i))
			FAIL(R_X_NOCHAR);
		i++;
	}
	FAIL("a comment is not closed with '-->'");
}

/*
 * The body of check_xhtml(), with its state (whose heap part the caller
 * frees on every path).
 */
static bool
check_xhtml_in(const char *s, size_t len, XState *st, const char **why)
{
	bool		seen_root = false;
	bool		root_closed = false;
	bool		has_content = false;
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (len > UINT32_MAX)
		FAIL("the narrative is too long to be checked");
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (st->depth == 0)
		{
			/* outside the root element: only whitespace, then the root */
			if (is_text_space(c))
			{
				i++;
				continue;
			}
			if (root_closed)
				FAIL("nothing but whitespace may follow the root </div>");
			if (c != '<')
				FAIL("nothing but whitespace may appear outside the root <div>");
			if (has_prefix_at(s, len, i, "<!DOCTYPE"))
				FAIL("a DOCTYPE is not allowed");
			if (has_prefix_at(s, len, i, "<?"))
				FAIL("processing instructions are not allowed");
			if (has_prefix_at(s, len, i, "</"))
				FAIL("an end tag has no matching start tag");
			if (has_prefix_at(s, len, i, "<!"))
				FAIL("nothing but whitespace may appear outside the root <div>");
			{
				bool		self_closed,
							is_img;

				if (!parse_start_tag(s, len, &i, st, true,
									 &self_closed, &is_img, why))
					return false;
				seen_root = true;
				if (self_closed)
					root_closed = true;
			}
			continue;
		}

		/* inside the root element */
		if (c == '<')
		{
			char		next = i + 1 < len ? s[i + 1] : '\0';

			if (next == '!' || next == '?')
			{
				if (has_prefix_at(s, len, i, "<!--"))
				{
					if (!parse_comment(s, len, &i, why))
						return false;
				}
				else if (has_prefix_at(s, len, i, "<![CDATA["))
					FAIL("CDATA sections are not allowed");
				else if (has_prefix_at(s, len, i, "<!DOCTYPE"))
					FAIL("a DOCTYPE is not allowed");
				else if (next == '!')
					FAIL("markup declarations are not allowed");
				else
					FAIL("processing instructions are not allowed");
			}
			else if (next == '/')
			{
				if (!parse_end_tag(s, len, &i, st, why))
					return false;
				if (st->depth == 0)
					root_closed = true;
			}
			else
			{
				/* the common case: a start tag */
				size_t		j = i + 1;
				size_t		noff = j;
				size_t		nlen = scan_name(s, len, &j);
				bool		self_closed,
							is_img;

				if (nlen > 0 && j < len && s[j] == '>' &&
					st->default_ns_depth > 0 &&
					xhtml_element_allowed(s, noff, nlen))
				{
					/*
					 * A bare <name> that txt-1 allows (so unprefixed: no
					 * allowed name has a ':') in the default (XHTML)
					 * namespace: what parse_start_tag would do for it,
					 * without its attribute loop.  Anything else goes
					 * through parse_start_tag, which reports the problem.
					 */
					if (nlen == 3 && span_is(s, noff, nlen, "img"))
						has_content = true;
					if (st->depth >= st->cap && !xstate_reserve(st))
						FAIL("the narrative is nested too deeply to be checked");
					st->open[st->depth].off = (uint32_t) noff;
					st->open[st->depth].len = (uint32_t) nlen;
					st->depth++;
					i = j + 1;
					continue;
				}
				if (!parse_start_tag(s, len, &i, st, false,
									 &self_closed, &is_img, why))
					return false;
				if (is_img)
					has_content = true;
			}
		}
		else if (c == '&')
		{
			uint32_t	cp;

			if (!parse_reference(s, len, &i, &cp, why))
				return false;
			if (!(cp < 0x80 && is_text_space((unsigned char) cp)))
				has_content = true;
		}
		else
		{
			/*
			 * a run of plain text, up to the next markup, reference, ']',
			 * control character or 0xEF (which may start U+FFFE/U+FFFF)
			 */
			size_t		start = i;

			/* eight bytes at a time while none ends the run */
			while (len - i >= 8)
			{
				uint64_t	w;

				memcpy(&w, s + i, 8);
				if (word_has_less(w, 0x20) || word_has_byte(w, '<') ||
					word_has_byte(w, '&') || word_has_byte(w, ']') ||
					((w & WORD_OF(0x80)) != 0 && word_has_byte(w, 0xEF)))
					break;
				/* every byte is 0x20 or above: only ' ' is a space */
				if (w != WORD_OF(' '))
					has_content = true;
				i += 8;
			}
			while (i < len)
			{
				unsigned char t = (unsigned char) s[i];

				if (t == '<' || t == '&' || t == ']' || t < 0x20)
					break;
				if (t == 0xEF && is_xml_nonchar_at(s, len, i))
					FAIL(R_X_NOCHAR);
				if (t != ' ')
					has_content = true;
				i++;
			}
			if (i > start)
				continue;
			if (c < 0x20 && !is_text_space(c))
				FAIL(R_CONTROL);
			if (c == ']' && has_prefix_at(s, len, i, "]]>"))
				FAIL("text must not contain ']]>'");
			if (!is_text_space(c))
				has_content = true;
			i++;
		}
	}
	if (!seen_root)
		FAIL("must be a <div> element");
	if (st->depth > 0)
		FAIL("an element is not closed");
	if (!has_content)
		FAIL("the narrative must contain some non-whitespace text or an image (txt-2)");
	SUCCEED();
}

/*
 * xhtml (Narrative.div): a well-formed XHTML fragment whose only root is a
 * <div> in the XHTML namespace (declared as the default namespace or with a
 * prefix), using only the elements and attributes txt-1 allows, without
 * event handlers or javascript: URLs, without characters XML does not
 * allow, and with some non-whitespace text or an image (txt-2).  Nesting
 * has no fixed limit: the open elements are kept in an explicit stack (no
 * recursion), on the heap when deep, freed here.
 */
static bool
check_xhtml(const char *s, size_t len, const char **why)
{
	XState		st;
	bool		ok;

	st.open = st.local;
	st.depth = 0;
	st.cap = XHTML_LOCAL_DEPTH;
	st.nprefixes = 0;
	st.default_ns_depth = 0;
	ok = check_xhtml_in(s, len, &st, why);
	if (st.open != st.local)
		free(st.open);
	return ok;
}


/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

/* True when the text is a NaN or infinity spelling (first byte tells). */
static bool
is_nan_or_inf(const char *s, size_t len)
{
	size_t		i = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	return i < len && (to_lower((unsigned char) s[i]) == 'n' ||
					   to_lower((unsigned char) s[i]) == 'i');
}

/*
 * integer -?(0|[1-9][0-9]*), positiveInt [1-9][0-9]*, unsignedInt
 * 0|([1-9][0-9]*), each within the 32-bit signed range FHIR requires.
 */
static bool
check_integer(FhirPrim prim, const char *s, size_t len, const char **why)
{
	static const char form[] = "must be a whole number without leading zeros";
	bool		neg = false;
	uint64_t	v = 0;
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (is_nan_or_inf(s, len))
		FAIL("NaN and Infinity are not allowed");
	if (s[0] == '-')
	{
		neg = true;
		i++;
	}
	if (i >= len || !is_digit((unsigned char) s[i]))
		FAIL(form);
	if (s[i] == '0' && i + 1 < len && is_digit((unsigned char) s[i + 1]))
		FAIL(form);
	while (i < len && is_digit((unsigned char) s[i]))
	{
		if (v <= FHIR_INT_NEGMAX)
			v = v * 10 + (uint64_t) (s[i] - '0');
		i++;
	}
	if (i < len)
	{
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			FAIL("must be a whole number without a fraction or exponent");
		FAIL(form);
	}
	switch (prim)
	{
		case FP_INTEGER:
			if (neg ? v > FHIR_INT_NEGMAX : v > FHIR_INT_MAX)
				FAIL("must be between -2147483648 and 2147483647");
			break;
		case FP_POSITIVEINT:
			if (neg || v == 0)
				FAIL("must be at least 1");
			if (v > FHIR_INT_MAX)
				FAIL("must be between 1 and 2147483647");
			break;
		case FP_UNSIGNEDINT:
		default:
			if (neg)
				FAIL("must not be negative");
			if (v > FHIR_INT_MAX)
				FAIL("must be between 0 and 2147483647");
			break;
	}
	SUCCEED();
}

/*
 * decimal: regex -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 */
static bool
check_decimal(const char *s, size_t len, const char **why)
{
	static const char form[] = "must match -?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?";
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (is_nan_or_inf(s, len))
		FAIL("NaN and Infinity are not allowed");
	if (s[i] == '-')
		i++;
	if (i >= len || !is_digit((unsigned char) s[i]))
		FAIL(form);
	if (s[i] == '0')
	{
		i++;
		if (i < len && is_digit((unsigned char) s[i]))
			FAIL(form);
	}
	else
	{
		while (i < len && is_digit((unsigned char) s[i]))
			i++;
	}
	if (i < len && s[i] == '.')
	{
		i++;
		if (i >= len || !is_digit((unsigned char) s[i]))
			FAIL(form);
		while (i < len && is_digit((unsigned char) s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit((unsigned char) s[i]))
			FAIL(form);
		while (i < len && is_digit((unsigned char) s[i]))
			i++;
	}
	if (i != len)
		FAIL(form);
	SUCCEED();
}


/* ----------------------------------------------------------------
 *		Public entry points
 * ----------------------------------------------------------------
 */

/*
 * Checks a JSON string value against a string-valued primitive type.  The
 * caller has already decoded the JSON string; s holds its UTF-8 bytes.
 */
bool
fhir_check_string(FhirPrim prim, const char *s, size_t len, const char **why)
{
	return fhir_check_string_warn(prim, s, len, why, NULL);
}

/*
 * fhir_check_string, and when warn is not NULL, *warn is set to a short
 * static reason for a value that is valid but that HL7's validator warns
 * about (control characters, only whitespace), or to NULL.
 */
bool
fhir_check_string_warn(FhirPrim prim, const char *s, size_t len,
					   const char **why, const char **warn)
{
	if (warn)
		*warn = NULL;
	switch (prim)
	{
		case FP_STRING:
		case FP_MARKDOWN:
			return check_text(s, len, true, why, warn);
		case FP_SYSTEM_STRING:
			return check_text(s, len, false, why, warn);
		case FP_CODE:
			return check_code(s, len, why, warn);
		case FP_ID:
			return check_id(s, len, why);
		case FP_URI:
		case FP_URL:
		case FP_CANONICAL:
			return check_uri(s, len, why, warn);
		case FP_OID:
			return check_oid(s, len, why);
		case FP_UUID:
			return check_uuid(s, len, why);
		case FP_BASE64BINARY:
			return check_base64(s, len, why);
		case FP_XHTML:
			return check_xhtml(s, len, why);
		case FP_TIME:
			return check_time(s, len, why);
		case FP_DATE:
		case FP_DATETIME:
		case FP_INSTANT:
			{
				DtParts		p;
				DtMode		mode = prim == FP_DATE ? DT_DATE :
					prim == FP_DATETIME ? DT_DATETIME : DT_INSTANT;

				if (!parse_datelike(mode, s, len, &p, why))
					return false;
				SUCCEED();
			}
		case FP_BOOLEAN:
			FAIL(R_NEED_BOOLEAN);
		case FP_INTEGER:
		case FP_POSITIVEINT:
		case FP_UNSIGNEDINT:
		case FP_DECIMAL:
			FAIL(R_NEED_NUMBER);
		case FP_NONE:
		default:
			FAIL(R_NOT_PRIM);
	}
}

/*
 * Checks the text of a JSON number (PostgreSQL's numeric_out form) against
 * a number-valued primitive type.
 */
bool
fhir_check_number(FhirPrim prim, const char *s, size_t len, const char **why)
{
	switch (prim)
	{
		case FP_INTEGER:
		case FP_POSITIVEINT:
		case FP_UNSIGNEDINT:
			return check_integer(prim, s, len, why);
		case FP_DECIMAL:
			return check_decimal(s, len, why);
		case FP_BOOLEAN:
			FAIL(R_NEED_BOOLEAN);
		case FP_BASE64BINARY:
		case FP_CANONICAL:
		case FP_CODE:
		case FP_DATE:
		case FP_DATETIME:
		case FP_ID:
		case FP_INSTANT:
		case FP_MARKDOWN:
		case FP_OID:
		case FP_STRING:
		case FP_TIME:
		case FP_URI:
		case FP_URL:
		case FP_UUID:
		case FP_XHTML:
		case FP_SYSTEM_STRING:
			FAIL(R_NEED_STRING);
		case FP_NONE:
		default:
			FAIL(R_NOT_PRIM);
	}
}

/*
 * Parses a date, dateTime or instant into the UTC microsecond range it
 * denotes, for order checks such as inv-1 and per-1.  With a time the range
 * is exact to the last digit given (a leap second 60 reads as 59.999999);
 * without one there is no zone, so the range is widened by 14 hours on
 * either side.  On failure *out is left unchanged.
 */
bool
fhir_parse_time_range(FhirPrim prim, const char *s, size_t len,
					  FhirTimeRange *out, const char **why)
{
	DtParts		p;
	DtMode		mode;

	switch (prim)
	{
		case FP_DATE:
			mode = DT_DATE;
			break;
		case FP_DATETIME:
			mode = DT_DATETIME;
			break;
		case FP_INSTANT:
			mode = DT_INSTANT;
			break;
		default:
			FAIL("only date, dateTime and instant values denote a time range");
	}
	if (!parse_datelike(mode, s, len, &p, why))
		return false;
	*out = parts_to_range(&p);
	SUCCEED();
}

/*
 * True when every instant of a is before every instant of b.  Violations of
 * inv-1 and per-1 are reported only when this is certain.
 */
bool
fhir_time_range_before(const FhirTimeRange *a, const FhirTimeRange *b)
{
	return a->hi <= b->lo;
}

/*
 * Currency code for the urn:iso:std:iso:4217 value set: exactly three ASCII
 * upper-case letters (the shape only; the list of codes changes).
 */
bool
fhir_check_currency(const char *s, size_t len, const char **why)
{
	size_t		i;

	if (len != 3)
		FAIL("a currency code must be three upper-case letters (ISO 4217)");
	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			FAIL("a currency code must be three upper-case letters (ISO 4217)");
	SUCCEED();
}

/* RFC 6838 restricted-name-chars after the first (alphanumeric) one. */
static inline bool
is_mime_name_char(unsigned char c)
{
	return is_alnum(c) || c == '!' || c == '#' || c == '$' || c == '&' ||
		c == '-' || c == '^' || c == '_' || c == '.' || c == '+';
}

/* RFC 2045/7230 token character (tchar). */
static inline bool
is_tchar(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Scans an RFC 6838 restricted-name (1 to 127 characters); returns its length. */
static size_t
scan_mime_name(const char *s, size_t len, size_t *pi)
{
	size_t		start = *pi;
	size_t		i = start;

	if (i >= len || !is_alnum((unsigned char) s[i]))
		return 0;
	i++;
	while (i < len && is_mime_name_char((unsigned char) s[i]))
		i++;
	if (i - start > 127)
		return 0;
	*pi = i;
	return i - start;
}

/*
 * MIME type for the urn:ietf:bcp:13 value set: type "/" subtype as RFC 6838
 * restricted names, then any number of OWS ";" OWS name "=" value
 * parameters, the value a token or a quoted string.
 */
bool
fhir_check_mimetype(const char *s, size_t len, const char **why)
{
	static const char form[] =
		"a MIME type must have the form type/subtype[; name=value]";
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (scan_mime_name(s, len, &i) == 0)
		FAIL(form);
	if (i >= len || s[i] != '/')
		FAIL(form);
	i++;
	if (scan_mime_name(s, len, &i) == 0)
		FAIL(form);
	while (i < len)
	{
		size_t		start;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= len || s[i] != ';')
			FAIL(form);
		i++;
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		start = i;
		while (i < len && is_tchar((unsigned char) s[i]))
			i++;
		if (i == start || i >= len || s[i] != '=')
			FAIL("a MIME type parameter must have the form name=value");
		i++;
		if (i < len && s[i] == '"')
		{
			i++;
			for (;;)
			{
				unsigned char c;

				if (i >= len)
					FAIL("a quoted MIME type parameter value is not closed");
				c = (unsigned char) s[i];
				if (c == '"')
					break;
				if (c == '\\')
				{
					i++;
					if (i >= len)
						FAIL("a quoted MIME type parameter value is not closed");
					c = (unsigned char) s[i];
				}
				if (c != '\t' && is_control(c))
					FAIL("a MIME type must not contain control characters");
				i++;
			}
			i++;
		}
		else
		{
			start = i;
			while (i < len && is_tchar((unsigned char) s[i]))
				i++;
			if (i == start)
				FAIL("a MIME type parameter must have the form name=value");
		}
	}
	SUCCEED();
}
