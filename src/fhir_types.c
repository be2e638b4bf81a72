/*-------------------------------------------------------------------------
 *
 * fhir_types.c
 *	  Lexical checks of FHIR R4 primitive values, currency codes and MIME
 *	  types, and date/dateTime/instant to UTC range conversion.
 *
 * The rules are those of the regular expressions in the R4 primitive type
 * StructureDefinitions (the "regex" extension of each <type>.value element),
 * plus what the specification says in prose: dates must exist on the
 * Gregorian calendar and strings are at most 1 MiB and not only
 * whitespace.  Narrative.div, a restricted XHTML fragment (txt-1, txt-2),
 * is fhir_xhtml.c's.
 *
 * Where a regex says \s or \S, \s is ASCII whitespace (space, tab, LF, VT,
 * FF, CR) and \S is any byte that is neither ASCII whitespace nor an ASCII
 * control character (so bytes of multi-byte UTF-8 characters count as \S).
 *
 * Everything here is hand-written, linear-time scanning over (s, len): no
 * regex library, no recursion, no global state and no allocation.  Inputs
 * are not NUL-terminated; every index is checked against len before use.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_lex.h"
#include "fhir_types.h"

/*
 * Free text is scanned sixteen bytes at a time with SSE2 where the
 * compiler has it (every x86-64), eight at a time otherwise;
 * FHIR_XHTML_NO_SIMD forces the latter here too (the unit tests run both).
 */
#if defined(__SSE2__) && !defined(FHIR_XHTML_NO_SIMD)
#include <emmintrin.h>
#define TEXT_SCAN16 1
#endif
#include "fhir_xhtml.h"

#define US_PER_SEC		INT64_C(1000000)
#define US_PER_MIN		(60 * US_PER_SEC)
#define US_PER_HOUR		FHIR_USECS_PER_HOUR
#define US_PER_DAY		(24 * US_PER_HOUR)

/* Largest FHIR integer, and the magnitude of the smallest. */
#define FHIR_INT_MAX	UINT64_C(2147483647)
#define FHIR_INT_NEGMAX UINT64_C(2147483648)

static const char R_NEED_BOOLEAN[] = "must be a JSON boolean";
static const char R_NEED_NUMBER[] = "must be a JSON number";
static const char R_NEED_STRING[] = "must be a JSON string";
static const char R_NOT_PRIM[] = "is not a FHIR primitive type";


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

#ifdef TEXT_SCAN16
		/* sixteen bytes at a time while none is a control character or DEL */
		if (len - i >= 16)
		{
			__m128i		v = _mm_loadu_si128((const __m128i *) (s + i));
			__m128i		ctl = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v),
										   _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));

			if (_mm_movemask_epi8(ctl) == 0)
			{
				if (blank &&
					_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))) != 0xffff)
					blank = false;
				i += 16;
				continue;
			}
		}
#endif

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
		else if (len >= 8)
		{
			/*
			 * the last few bytes: the value's last eight bytes as one word
			 * (the ones already scanned again are harmless: a control
			 * character among them sends the tail to the byte loop below,
			 * and any byte that is not a space means not blank)
			 */
			uint64_t	w;

			memcpy(&w, s + len - 8, 8);
			if (!word_has_control(w))
			{
				if (w != WORD_OF(' '))
					blank = false;
				break;
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
 * The word-at-a-time step of the code and uri scans at s[*pi]: when the
 * eight bytes there hold no space or control character, moves *pi past
 * them and returns false (nothing to look at one by one).  Fewer than
 * eight bytes left: when the value's last eight bytes (some scanned
 * again) hold none, moves *pi to the end and returns true, as it does,
 * leaving *pi alone, whenever the next byte needs a look of its own.
 */
static inline bool
plain_word_at(const char *s, size_t len, size_t *pi)
{
	uint64_t	w;

	if (len - *pi >= 8)
	{
		memcpy(&w, s + *pi, 8);
		if (!word_has_space_or_control(w))
		{
			*pi += 8;
			return false;
		}
	}
	else if (len >= 8)
	{
		memcpy(&w, s + len - 8, 8);
		if (!word_has_space_or_control(w))
			*pi = len;
	}
	return true;
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
	i = 0;
	while (i < len)
	{
		unsigned char c;

		/* eight bytes at a time while none is a space or a control */
		if (!plain_word_at(s, len, &i))
		{
			prev_space = false;
			continue;
		}
		if (i >= len)
			break;
		c = (unsigned char) s[i++];
		if (is_text_space(c))
		{
			if (i == 1 || i == len)
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
	i = 0;
	while (i < len)
	{
		unsigned char c;

		/* eight bytes at a time while none is a space or a control */
		if (!plain_word_at(s, len, &i))
			continue;
		if (i >= len)
			break;
		c = (unsigned char) s[i++];
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

/* The date fields of a date, dateTime or instant: where, how long, range. */
typedef struct DateField
{
	size_t		pos;			/* offset in the text (a '-' before it) */
	int			ndigits;
	int			min;
	int			max;
	const char *range;			/* the problem when out of range */
	DtPrecision prec;			/* the precision of a value ending here */
} DateField;

static const DateField date_fields[] = {
	{0, 4, 1, 9999, "the year must be 0001 to 9999", DTP_YEAR},
	{5, 2, 1, 12, "the month must be 01 to 12", DTP_MONTH},
	{8, 2, 1, 31, "the day must be 01 to 31", DTP_DAY},
};

#ifdef FHIR_TYPES_UNIT_TEST
/* Set false by the unit tests, which compare both ways' verdicts. */
bool		fhir_types_datetime_fast = true;
#endif

/*
 * The value 0..99 of the two decimal digits at s, or -1 when either is not
 * a digit.
 */
static inline int
two_digits(const char *s)
{
	unsigned int d0 = (unsigned int) (unsigned char) s[0] - '0';
	unsigned int d1 = (unsigned int) (unsigned char) s[1] - '0';

	return (d0 | d1) > 9 ? -1 : (int) (d0 * 10 + d1);
}

/*
 * The usual dateTime and instant, whole and valid: YYYY-MM-DDThh:mm:ss
 * followed by Z or (+|-)hh:mm (20 or 25 bytes, no fraction), parsed into
 * *p as parse_datelike() would, in one pass without its general steps.
 * False, with *p undefined, for anything else, including every error: the
 * caller then parses the general way, which reports it.
 */
static inline bool
parse_datetime_usual(const char *s, size_t len, DtParts *p)
{
	int			yh = two_digits(s);
	int			yl = two_digits(s + 2);
	int			mo = two_digits(s + 5);
	int			d = two_digits(s + 8);
	int			h = two_digits(s + 11);
	int			mi = two_digits(s + 14);
	int			sec = two_digits(s + 17);
	int			y;
	int			zone = 0;

	if ((yh | yl | mo | d | h | mi | sec) < 0 ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	y = yh * 100 + yl;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 ||
		d > days_in_month(y, mo))
		return false;
	if (len == 20)
	{
		if (s[19] != 'Z')
			return false;
	}
	else
	{
		int			zh = two_digits(s + 20);
		int			zm = two_digits(s + 23);

		if ((s[19] != '+' && s[19] != '-') || s[22] != ':' || (zh | zm) < 0 ||
			zm > 59 || zh > FHIR_MAX_ZONE_HOURS ||
			(zh == FHIR_MAX_ZONE_HOURS && zm != 0))
			return false;
		zone = (zh * 60 + zm) * (s[19] == '-' ? -1 : 1);
	}
	/* no fraction: frac_us and frac_digits are 0 */
	*p = (DtParts) {
		.prec = DTP_TIME, .year = y, .month = mo, .day = d,
		.hour = h, .minute = mi, .second = sec, .zone_minutes = zone
	};
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
	bool		have_date = false;	/* the date part is parsed, a time follows */

	if (mode != DT_DATE && (len == 20 || len == 25) && fhir_types_datetime_fast &&
		parse_datetime_usual(s, len, p))
		return true;
	memset(p, 0, sizeof(*p));
	if (len == 0)
		FAIL(R_EMPTY);

	/*
	 * The common case first: a whole, valid YYYY-MM-DD (the loop below
	 * finds the same fields; anything else, including every error, is
	 * left to it)
	 */
	if (len >= 10 && s[4] == '-' && s[7] == '-' && digits_at(s, len, 0, 4) &&
		digits_at(s, len, 5, 2) && digits_at(s, len, 8, 2))
	{
		int			y = digits_value(s, 0, 4);
		int			m = digits_value(s, 5, 2);
		int			d = digits_value(s, 8, 2);

		if (y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m))
		{
			p->year = y;
			p->month = m;
			p->day = d;
			p->prec = DTP_DAY;
			have_date = len > 10;
		}
	}

	/* year, month, day: a date, or a dateTime may end after each */
	for (i = 0; !have_date && i < sizeof(date_fields) / sizeof(date_fields[0]); i++)
	{
		const DateField *f = &date_fields[i];
		int		   *value = i == 0 ? &p->year : i == 1 ? &p->month : &p->day;

		if ((f->pos > 0 && s[f->pos - 1] != '-') || !digits_at(s, len, f->pos, f->ndigits))
			FAIL(form);
		*value = digits_value(s, f->pos, f->ndigits);
		if (*value < f->min || *value > f->max)
			FAIL(f->range);
		if (f->prec == DTP_DAY && p->day > days_in_month(p->year, p->month))
			FAIL(R_DAY_MISSING);
		p->prec = f->prec;
		if (len == f->pos + f->ndigits)
		{
			if (mode == DT_INSTANT)
				FAIL(R_INSTANT_FORM);
			return true;
		}
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
		if (zh > FHIR_MAX_ZONE_HOURS || (zh == FHIR_MAX_ZONE_HOURS && zm != 0))
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
	/* no time, hence no zone: any offset FHIR allows may apply */
	r.lo -= FHIR_UNZONED_SLACK;
	r.hi += FHIR_UNZONED_SLACK;
	return r;
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
			return fhir_check_xhtml(s, len, why);
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
