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
 * The state of one printing: the buffer, the room kept free beyond the
 * text written so far, and how far strings may be read in whole words.
 *
 * A stored value's text without escapes and numerics is at most twice its
 * stored size (each 4-byte JEntry gives at most 7 bytes of quotes,
 * separators and literals beside the bytes it covers, e.g. ", false"; a
 * container's 4-byte header gives 2 brackets; a string's bytes are printed
 * once): jsonb_print enlarges the buffer once per value by that bound
 * (reserve) plus some slack, and the walker writes quotes, separators,
 * keys, literals and unescaped strings without a check.  An escape or a
 * numeric, whose text can be longer than what is stored, re-establishes
 * the invariant "free room >= what may still come + reserve" before it is
 * written.  The slack lets a string's last partial word be stored whole.
 */
typedef struct PrintState
{
	StringInfo	out;
	Size		reserve;		/* bound on the rest of the value's plain text, plus slack */
	const char *limit;			/* end of the stored bytes: words may be read up to here */
} PrintState;

/* Slack beyond the bound: a partial word is stored as 8 bytes. */
#define PRINT_SLACK		32

/*
 * Values stored larger than this are printed by PostgreSQL's own
 * JsonbToCString: the buffer for twice their size plus their text would
 * come near MaxAllocSize.
 */
#define PRINT_RESERVE_MAX	(64 * 1024 * 1024)

#define ONES	UINT64CONST(0x0101010101010101)
#define HIGHS	UINT64CONST(0x8080808080808080)

/*
 * Whether one of the 8 bytes of w may need escaping: a byte below 0x20, a
 * '"' or a '\\' (the classic word-at-a-time tests for a byte less than n
 * and for a zero byte after an XOR; exact about whether there is one).
 */
static inline bool
word_needs_escape(uint64 w)
{
	uint64		q = w ^ (ONES * '"');
	uint64		b = w ^ (ONES * '\\');

	return (((w - ONES * 0x20) & ~w) |
			((q - ONES) & ~q) |
			((b - ONES) & ~b)) & HIGHS;
}

/*
 * The word of the n (1-7) bytes at p, read as 8 bytes, its bytes past the
 * n-th replaced by 'a' (which needs no escape).
 */
static inline uint64
partial_word(const unsigned char *p, int n)
{
	uint64		w;
	uint64		keep;

	memcpy(&w, p, sizeof(w));
#ifdef WORDS_BIGENDIAN
	keep = ~(~UINT64CONST(0) >> (8 * n));
#else
	keep = (UINT64CONST(1) << (8 * n)) - 1;
#endif
	return (w & keep) | (ONES * 'a' & ~keep);
}

/*
 * Makes room for extra bytes beyond dst plus the reserve (the buffer may
 * move); returns where to go on writing.
 */
static char *
make_room(PrintState *ps, char *dst, Size extra)
{
	StringInfo	out = ps->out;

	out->len = dst - out->data;
	enlargeStringInfo(out, extra + ps->reserve);
	return out->data + out->len;
}

/*
 * Writes s (len bytes) at dst as a quoted JSON string, escaped as
 * escape_json escapes it: \b \f \n \r \t \" \\, other control characters
 * as \u00xx (lower-case hex), everything else copied.  The bytes between
 * escapes are checked and copied 8 at a time, each word stored as it was
 * loaded; a last partial word is read whole when the stored value goes on
 * past it (ps->limit), so that a short key is one load, one test and one
 * store.  Only an escape checks the room (see PrintState).
 */
static char *
put_string(PrintState *ps, char *dst, const char *s, uint32 len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	*dst++ = '"';
	for (;;)
	{
		char		e;
		uint64		w;

		while (end - p >= 8)
		{
			memcpy(&w, p, sizeof(w));
			if (word_needs_escape(w))
				break;
			memcpy(dst, &w, sizeof(w));
			dst += 8;
			p += 8;
		}
		if (p == end)
			break;
		if (end - p < 8 && (const char *) p + 8 <= ps->limit)
		{
			w = partial_word(p, end - p);
			if (!word_needs_escape(w))
			{
				memcpy(dst, &w, sizeof(w));
				dst += end - p;
				break;
			}
		}
		while (p < end && escape_char[*p] == 0)
			*dst++ = (char) *p++;
		if (p == end)
			break;
		/* this escape (6 bytes at most) and the rest of the string */
		dst = make_room(ps, dst, 6 + (end - p));
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
	return dst;
}

/*
 * put_string inlined for the common short string (a key, a code): fewer
 * than 8 bytes, none to escape, the stored value going on past them; one
 * load, one test and one store.  Anything else goes to put_string.
 */
static pg_attribute_always_inline char *
put_short_string(PrintState *ps, char *dst, const char *s, uint32 len)
{
	if (len < 8 && s + 8 <= ps->limit)
	{
		uint64		w = partial_word((const unsigned char *) s, len);

		if (!word_needs_escape(w))
		{
			dst[0] = '"';
			memcpy(dst + 1, &w, sizeof(w));
			dst[len + 1] = '"';
			return dst + len + 2;
		}
	}
	return put_string(ps, dst, s, len);
}

#undef ONES
#undef HIGHS

/*
 * Appends s (len bytes, no NUL needed) as a quoted JSON string, escaped as
 * escape_json escapes it (put_string; nothing is read past s + len).
 */
void
jsonb_print_string(StringInfo out, const char *s, int len)
{
	PrintState	ps = {out, PRINT_SLACK, s + len};
	char	   *dst;

	if (out->maxlen - out->len <= len + 2 + PRINT_SLACK)
		enlargeStringInfo(out, len + 2 + PRINT_SLACK);
	dst = put_string(&ps, out->data + out->len, s, len);
	*dst = '\0';
	out->len = dst - out->data;
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

/* The end offset of a child given its start: an offset or a length. */
static inline uint32
child_end(JEntry entry, uint32 start)
{
	return JBE_HAS_OFF(entry) ? JBE_OFFLENFLD(entry) : start + JBE_OFFLENFLD(entry);
}

/* Writes a literal (true, false, null) of len bytes. */
static inline char *
put_literal(char *dst, const char *lit, int len)
{
	memcpy(dst, lit, len);
	return dst + len;
}

static char *put_container(PrintState *ps, char *dst, const JsonbContainer *c);

/*
 * Writes one child value: its JEntry, the start of its container's data
 * and its offset there (numerics and containers start 4-byte aligned).
 */
static inline char *
put_value(PrintState *ps, char *dst, JEntry entry, const char *data, uint32 offset, uint32 end)
{
	switch (entry & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			return put_short_string(ps, dst, data + offset, end - offset);
		case JENTRY_ISNUMERIC:
			{
				char	   *num = DatumGetCString(DirectFunctionCall1(numeric_out,
																	  PointerGetDatum(data + INTALIGN(offset))));
				size_t		numlen = strlen(num);

				dst = make_room(ps, dst, numlen);
				memcpy(dst, num, numlen);
				pfree(num);
				return dst + numlen;
			}
		case JENTRY_ISBOOL_TRUE:
			return put_literal(dst, "true", 4);
		case JENTRY_ISBOOL_FALSE:
			return put_literal(dst, "false", 5);
		case JENTRY_ISNULL:
			return put_literal(dst, "null", 4);
		case JENTRY_ISCONTAINER:
			return put_container(ps, dst, (const JsonbContainer *) (data + INTALIGN(offset)));
		default:
			elog(ERROR, "unrecognized jsonb entry type 0x%08x", entry & JENTRY_TYPEMASK);
	}
	return dst;					/* keep the compiler quiet */
}

/*
 * Writes an array or object; the one element of a raw scalar's
 * pseudo-array goes without brackets, as jsonb_out prints it.
 */
static char *
put_container(PrintState *ps, char *dst, const JsonbContainer *c)
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
		*dst++ = object ? '{' : '[';
	for (i = 0; i < n; i++)
	{
		JEntry		ventry = c->children[object ? n + i : i];
		uint32		vend = child_end(ventry, voff);

		if (i > 0)
		{
			dst[0] = ',';
			dst[1] = ' ';
			dst += 2;
		}
		if (object)
		{
			uint32		kend = child_end(c->children[i], koff);

			dst = put_short_string(ps, dst, data + koff, kend - koff);
			dst[0] = ':';
			dst[1] = ' ';
			dst += 2;
			koff = kend;
		}
		dst = put_value(ps, dst, ventry, data, voff, vend);
		voff = vend;
	}
	if (!raw_scalar)
		*dst++ = object ? '}' : ']';
	return dst;
}

/*
 * Appends the text of a whole jsonb value: the buffer enlarged once by the
 * bound on its text (see PrintState), then written without checks.
 */
void
jsonb_print(StringInfo out, Jsonb *jb)
{
	Size		size = VARSIZE(jb);
	PrintState	ps;
	char	   *dst;

	if (size > PRINT_RESERVE_MAX)
	{
		JsonbToCString(out, &jb->root, size);
		return;
	}
	ps.out = out;
	ps.reserve = 2 * size + PRINT_SLACK;
	ps.limit = (const char *) jb + size;
	if ((Size) (out->maxlen - out->len) <= ps.reserve)
		enlargeStringInfo(out, ps.reserve);
	dst = put_container(&ps, out->data + out->len, &jb->root);
	*dst = '\0';
	out->len = dst - out->data;
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
