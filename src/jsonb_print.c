/*-------------------------------------------------------------------------
 *
 * jsonb_print.c
 *	  Prints stored jsonb as JSON text, byte for byte the text jsonb_out
 *	  gives ("{"a": 1, "b": [true, null]}": ", " between members, ": "
 *	  after keys, keys in stored order, strings escaped as escape_json does,
 *	  numerics through numeric_out), and omnitask.fhir_json(jsonb) -> json.
 *
 *	  Why: a change-feed page of 100 is a Bundle of about 200 kB, and
 *	  jsonb_out spent 8.2 of the 12.8 million instructions of a page on it,
 *	  half in escape_json appending one character at a time.  Here the
 *	  containers are walked straight from their JEntry arrays (no iterator,
 *	  no JsonbValue per token) and each string is copied in runs: the bytes
 *	  between two characters that need escaping go in one memcpy.  The
 *	  result is sent as json, whose output and binary send functions copy
 *	  the text: PostgREST reads a json body as it is (a jsonb one gets a
 *	  version byte in front, see the README).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "jsonb_print.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(omnitask_fhir_json);

/*
 * For each byte: 0 when it is copied as it is, else the character after
 * the backslash of its escape ('u' for \u00XX), as escape_json writes them.
 */
static const char escape_char[256] = {
	['\b'] = 'b',['\f'] = 'f',['\n'] = 'n',['\r'] = 'r',['\t'] = 't',
	['"'] = '"',['\\'] = '\\',
	[0x00] = 'u',[0x01] = 'u',[0x02] = 'u',[0x03] = 'u',[0x04] = 'u',
	[0x05] = 'u',[0x06] = 'u',[0x07] = 'u',[0x0b] = 'u',[0x0e] = 'u',
	[0x0f] = 'u',[0x10] = 'u',[0x11] = 'u',[0x12] = 'u',[0x13] = 'u',
	[0x14] = 'u',[0x15] = 'u',[0x16] = 'u',[0x17] = 'u',[0x18] = 'u',
	[0x19] = 'u',[0x1a] = 'u',[0x1b] = 'u',[0x1c] = 'u',[0x1d] = 'u',
	[0x1e] = 'u',[0x1f] = 'u',
};

/*
 * Whether one of the 8 bytes at p may need escaping: a byte below 0x20, a
 * '"' or a '\\' (the classic word-at-a-time tests for a byte less than n
 * and for a zero byte after an XOR; exact about whether there is one).
 */
static inline bool
word_needs_escape(const unsigned char *p)
{
	uint64		w;
	uint64		q;
	uint64		b;

#define ONES	UINT64CONST(0x0101010101010101)
#define HIGHS	UINT64CONST(0x8080808080808080)
	memcpy(&w, p, sizeof(w));
	q = w ^ (ONES * '"');
	b = w ^ (ONES * '\\');
	return (((w - ONES * 0x20) & ~w) |
			((q - ONES) & ~q) |
			((b - ONES) & ~b)) & HIGHS;
#undef ONES
#undef HIGHS
}

/*
 * Appends s (len bytes, no NUL needed) as a quoted JSON string, escaped as
 * escape_json escapes it: \b \f \n \r \t \" \\, other control characters
 * as \u00xx (lower-case hex), everything else copied.  The buffer is
 * enlarged once for the usual string without escapes (checked inline: most
 * strings are short keys and the page's buffer is sized once); the bytes
 * between escapes are checked and copied 8 at a time, each word stored as
 * it was loaded (a memcpy call per run cost more than the copying: most
 * runs are a few bytes).
 */
void
jsonb_print_string(StringInfo out, const char *s, int len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;
	char	   *dst;

	/* the string unescaped and its quotes, and the NUL */
	if (out->maxlen - out->len <= len + 2)
		enlargeStringInfo(out, len + 2);
	dst = out->data + out->len;
	*dst++ = '"';
	for (;;)
	{
		char		e;

		while (end - p >= 8 && !word_needs_escape(p))
		{
			memcpy(dst, p, 8);
			dst += 8;
			p += 8;
		}
		while (p < end && escape_char[*p] == 0)
			*dst++ = (char) *p++;
		if (p == end)
			break;
		/* room for this escape (6 bytes at most), the rest and the quote */
		out->len = dst - out->data;
		enlargeStringInfo(out, 6 + (end - p));
		dst = out->data + out->len;
		e = escape_char[*p];
		*dst++ = '\\';
		*dst++ = e;
		if (e == 'u')
		{
			*dst++ = '0';
			*dst++ = '0';
			*dst++ = hex[*p >> 4];
			*dst++ = hex[*p & 0x0f];
		}
		p++;
	}
	*dst++ = '"';
	*dst = '\0';
	out->len = dst - out->data;
}

/* Appends two characters (", " and ": "). */
static inline void
append_pair(StringInfo out, char a, char b)
{
	appendStringInfoCharMacro(out, a);
	appendStringInfoCharMacro(out, b);
}

/* The offset of child index in the data of container c (jsonb_util.c's getJsonbOffset). */
static uint32
child_offset(const JsonbContainer *c, int index)
{
	uint32		offset = 0;
	int			i;

	for (i = index - 1; i >= 0; i--)
	{
		offset += JBE_OFFLENFLD(c->children[i]);
		if (JBE_HAS_OFF(c->children[i]))
			break;
	}
	return offset;
}

static void print_container(StringInfo out, const JsonbContainer *c);

/*
 * Appends one child value: its JEntry, the start of its container's data
 * and its offset there (numerics and containers start 4-byte aligned).
 */
static void
print_value(StringInfo out, JEntry entry, const char *data, uint32 offset, uint32 end)
{
	switch (entry & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			jsonb_print_string(out, data + offset, end - offset);
			break;
		case JENTRY_ISNUMERIC:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   PointerGetDatum(data + INTALIGN(offset)))));
			break;
		case JENTRY_ISBOOL_TRUE:
			appendBinaryStringInfo(out, "true", 4);
			break;
		case JENTRY_ISBOOL_FALSE:
			appendBinaryStringInfo(out, "false", 5);
			break;
		case JENTRY_ISNULL:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case JENTRY_ISCONTAINER:
			print_container(out, (const JsonbContainer *) (data + INTALIGN(offset)));
			break;
		default:
			elog(ERROR, "unrecognized jsonb entry type 0x%08x", entry & JENTRY_TYPEMASK);
	}
}

/* The end offset of a child given its start: an offset or a length. */
static inline uint32
child_end(JEntry entry, uint32 start)
{
	return JBE_HAS_OFF(entry) ? JBE_OFFLENFLD(entry) : start + JBE_OFFLENFLD(entry);
}

/*
 * Appends an array or object; the one element of a raw scalar's
 * pseudo-array goes without brackets, as jsonb_out prints it.
 */
static void
print_container(StringInfo out, const JsonbContainer *c)
{
	uint32		n = c->header & JB_CMASK;
	bool		object = (c->header & JB_FOBJECT) != 0;
	bool		raw_scalar = (c->header & JB_FSCALAR) != 0;
	const char *data = (const char *) &c->children[object ? 2 * n : n];
	uint32		koff = 0;
	uint32		voff = object ? child_offset(c, n) : 0;
	uint32		i;

	check_stack_depth();
	if (!raw_scalar)
		appendStringInfoCharMacro(out, object ? '{' : '[');
	for (i = 0; i < n; i++)
	{
		JEntry		ventry = c->children[object ? n + i : i];
		uint32		vend = child_end(ventry, voff);

		if (i > 0)
			append_pair(out, ',', ' ');
		if (object)
		{
			uint32		kend = child_end(c->children[i], koff);

			jsonb_print_string(out, data + koff, kend - koff);
			append_pair(out, ':', ' ');
			koff = kend;
		}
		print_value(out, ventry, data, voff, vend);
		voff = vend;
	}
	if (!raw_scalar)
		appendStringInfoCharMacro(out, object ? '}' : ']');
}

/* Appends the text of a whole jsonb value. */
void
jsonb_print(StringInfo out, Jsonb *jb)
{
	print_container(out, &jb->root);
}

/* The text of a jsonb value as a text (json) datum, sized once. */
text *
jsonb_print_text(Jsonb *jb)
{
	StringInfoData buf;

	initStringInfo(&buf);
	enlargeStringInfo(&buf, VARHDRSZ + VARSIZE(jb) + VARSIZE(jb) / 4);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	jsonb_print(&buf, jb);
	SET_VARSIZE(buf.data, buf.len);
	return (text *) buf.data;
}

/*
 * omnitask.fhir_json(jsonb) -> json: the text jsonb_out gives, as json
 * (what every endpoint of schema fhir answers with).
 */
Datum
omnitask_fhir_json(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(jsonb_print_text(PG_GETARG_JSONB_P(0)));
}
