/*-------------------------------------------------------------------------
 *
 * fhir_xhtml.c
 *	  The restricted XHTML of Narrative.div (txt-1, txt-2): a well-formed
 *	  fragment in the XHTML namespace using only the elements and attributes
 *	  FHIR allows, with no scripts, event handlers or javascript: URLs.
 *
 * Security-relevant: a narrative is shown to users by FHIR clients, so
 * this is what keeps active content out of stored Tasks.  The element and
 * attribute lists are generated (fhir_xhtml_tables.h).
 *
 * Hand-written, linear-time scanning over (s, len) with no recursion and
 * no global state; the only allocation is the stack of open elements of a
 * narrative nested more than XHTML_LOCAL_DEPTH deep (malloc/free inside
 * one call, never across calls).  Inputs are not NUL-terminated; every
 * index is checked against len before use.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir_lex.h"
#include "fhir_types.h"
#include "fhir_xhtml.h"
#include "fhir_xhtml_tables.h"

/*
 * Text runs are scanned sixteen bytes at a time with SSE2 where the
 * compiler has it (every x86-64), eight at a time otherwise;
 * FHIR_XHTML_NO_SIMD forces the latter (the unit tests run both).
 */
#if defined(__SSE2__) && !defined(FHIR_XHTML_NO_SIMD)
#include <emmintrin.h>
#define XHTML_SCAN16 1
#endif

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

/* The usual root tag of a narrative, taken without parsing its attribute. */
#define XHTML_USUAL_ROOT	"<div xmlns=\"" FHIR_XHTML_NS "\">"

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

/*
 * True when the names of n bytes at a and b are equal, where b comes
 * before a in a text that may be read as far as limit (a name is short: on
 * a little-endian machine one compare of eight bytes under a mask where a,
 * and so b, has eight bytes to read, else byte by byte).
 */
static inline XHTML_ALWAYS_INLINE bool
same_name(const char *a, const char *b, size_t n, const char *limit)
{
	size_t		k;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n <= 8 && limit - a >= 8)
	{
		uint64_t	x;
		uint64_t	y;

		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		x ^= y;
		return n == 8 ? x == 0 : word_first_bytes(x, n) == 0;
	}
#else
	(void) limit;
#endif
	for (k = 0; k < n; k++)
		if (a[k] != b[k])
			return false;
	return true;
}

/* True when the name s[off..off+n) is exactly the literal lit. */
static inline bool
span_is(const char *s, size_t off, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s + off, lit, n) == 0;
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
static inline XHTML_ALWAYS_INLINE bool
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

/*
 * True when the (decoded) attribute value is exactly lit, which has no
 * '&' (a namespace URI): a value written as lit's very bytes is equal
 * without decoding (the usual xmlns="http://www.w3.org/1999/xhtml"); any
 * other is decoded and compared character by character.
 */
static bool
attr_value_equals(const char *v, size_t vlen, const char *lit)
{
	size_t		i = 0;
	size_t		n = strlen(lit);
	size_t		k = 0;

	if (vlen == n && memcmp(v, lit, n) == 0)
		return true;
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

#ifdef XHTML_SCAN16
/*
 * The sixteen bytes at p that end a run of narrative text, as a bit mask
 * (bit k for p[k]): a control character, '<', '&', ']', or 0xEF, which may
 * start U+FFFE/U+FFFF.
 */
static inline unsigned int
text_stops16(const char *p)
{
	__m128i		v = _mm_loadu_si128((const __m128i *) p);
	__m128i		ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
	__m128i		st = _mm_or_si128(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8('<'))),
								  _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
											   _mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));

	st = _mm_or_si128(st, _mm_cmpeq_epi8(v, _mm_set1_epi8((char) 0xEF)));
	return (unsigned int) _mm_movemask_epi8(st);
}

/*
 * The sixteen bytes at p that are not ' ', as a bit mask: looked at only
 * until the narrative is known to have content.
 */
static inline unsigned int
text_nonspace16(const char *p)
{
	__m128i		v = _mm_loadu_si128((const __m128i *) p);

	return ~(unsigned int) _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' '))) & 0xffff;
}
#endif

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
			same_name(s + i, s + top->off, top->len, s + len))
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
	if (top->len != nlen || !same_name(s + noff, s + top->off, nlen, s + len))
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
 * The body of fhir_check_xhtml(), with its state (whose heap part the caller
 * frees on every path).
 */
static bool
check_xhtml_in(const char *s, size_t len, XState *st, const char **why)
{
	bool		seen_root = false;
	bool		inside;
	bool		has_content = false;
	size_t		i = 0;

	if (len == 0)
		FAIL(R_EMPTY);
	if (len > UINT32_MAX)
		FAIL("the narrative is too long to be checked");

	/*
	 * Three parts, so that the loop over the root's content does not ask
	 * at every step whether it is inside the root: whitespace and the
	 * root's start tag, the content up to the root's end tag, whitespace.
	 */
	while (i < len && is_text_space((unsigned char) s[i]))
		i++;
	if (i < len)
	{
		bool		self_closed,
					is_img;

		if (s[i] != '<')
			FAIL("nothing but whitespace may appear outside the root <div>");
		if (has_prefix_at(s, len, i, "<!DOCTYPE"))
			FAIL("a DOCTYPE is not allowed");
		if (has_prefix_at(s, len, i, "<?"))
			FAIL("processing instructions are not allowed");
		if (has_prefix_at(s, len, i, "</"))
			FAIL("an end tag has no matching start tag");
		if (has_prefix_at(s, len, i, "<!"))
			FAIL("nothing but whitespace may appear outside the root <div>");
		if (has_prefix_at(s, len, i, XHTML_USUAL_ROOT))
		{
			/*
			 * The root tag almost every narrative opens with, byte for
			 * byte: what parse_start_tag() does for it (its one attribute
			 * makes XHTML the default namespace of the root's content),
			 * without reading the attribute.
			 */
			st->default_ns_depth = 1;
			st->open[0].off = (uint32_t) (i + 1);
			st->open[0].len = 3;
			st->depth = 1;
			i += sizeof(XHTML_USUAL_ROOT) - 1;
		}
		else if (!parse_start_tag(s, len, &i, st, true, &self_closed, &is_img, why))
			return false;
		seen_root = true;
	}
	/*
	 * inside the root element, until its end tag brings the depth back to
	 * 0 (a local flag: st->depth would be read again at every step)
	 */
	inside = st->depth > 0;
	while (inside && i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '<')
		{
			char		next = i + 1 < len ? s[i + 1] : '\0';

			if (next == '/')
			{
				if (!parse_end_tag(s, len, &i, st, why))
					return false;
				if (st->depth == 0)
					break;
			}
			else if (next == '!' || next == '?')
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
			bool		found = false;	/* i is at the first stop */

#ifdef XHTML_SCAN16
			/* sixteen bytes at a time, then as below from the first stop */
			while (len - i >= 16)
			{
				unsigned int stops = text_stops16(s + i);

				if (stops != 0)
				{
					unsigned int n = (unsigned int) __builtin_ctz(stops);

					if (!has_content &&
						(text_nonspace16(s + i) & ((1u << n) - 1)) != 0)
						has_content = true;
					i += n;
					found = true;
					break;
				}
				if (!has_content && text_nonspace16(s + i) != 0)
					has_content = true;
				i += 16;
			}
#endif

			/*
			 * eight bytes at a time while none ends the run; in the word
			 * that has one, straight to the first such byte (bytes before
			 * it are 0x20 or above: only ' ' is a space)
			 */
			while (!found && len - i >= 8)
			{
				uint64_t	w;
				uint64_t	stop;

				memcpy(&w, s + i, 8);
				stop = word_mark_less(w, 0x20) | word_mark_byte(w, '<') |
					word_mark_byte(w, '&') | word_mark_byte(w, ']');
				if ((w & WORD_OF(0x80)) != 0)
					stop |= word_mark_byte(w, 0xEF);
				if (stop != 0)
				{
					size_t		n = word_first_marked(stop);

					if (word_first_bytes(w ^ WORD_OF(' '), n) != 0)
						has_content = true;
					i += n;
					found = true;
					break;
				}
				if (w != WORD_OF(' '))
					has_content = true;
				i += 8;
			}

			/*
			 * the common end of a run, at markup: the bytes before it are
			 * plain text (and counted), the tag is parsed next
			 */
			if (found && s[i] == '<')
				continue;
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
	/* after the root element: only whitespace */
	if (st->depth == 0)
	{
		for (; i < len; i++)
			if (!is_text_space((unsigned char) s[i]))
				FAIL("nothing but whitespace may follow the root </div>");
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
bool
fhir_check_xhtml(const char *s, size_t len, const char **why)
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
