/*-------------------------------------------------------------------------
 *
 * jsonb_splice.c
 *	  jsonb objects built from the pairs of others by copying each value's
 *	  stored bytes.
 *
 * An update of a stored Task keeps most of its elements.  Pushing them
 * through pushJsonbValue() and encoding them again unpacks and re-encodes
 * every nested value.  The jsonb format does not need that: a nested
 * container's JEntry offsets are relative to its own data, so a value can
 * be copied byte for byte into another object, re-aligned to the 4-byte
 * boundary that numerics and containers start at (as convertToJsonb()
 * aligns them).  Only the root's header and JEntry array are written anew.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "jsonb_splice.h"
#include "lib/stringinfo.h"

/* The stored bytes of one child of an object, and its JEntry type. */
typedef struct RawChild
{
	uint32		type;			/* JENTRY_IS* */
	const char *data;			/* after any alignment padding */
	uint32		len;
} RawChild;

/*
 * Reads the object c: the end offset of each of its children, worked out
 * in one pass over the JEntry array (an offset every JB_OFFSET_STRIDE
 * entries, lengths between), so that each child is then found at once.
 */
void
jsonb_pairs_init(JsonbPairs *p, JsonbContainer *c)
{
	int			n = 2 * JsonContainerSize(c);
	uint32		off = 0;
	int			i;

	Assert(JsonContainerIsObject(c));
	p->c = c;
	p->npairs = JsonContainerSize(c);
	p->base = (const char *) &c->children[n];
	p->end = palloc(sizeof(uint32) * (n + 1));
	for (i = 0; i < n; i++)
	{
		JBE_ADVANCE_OFFSET(off, c->children[i]);
		p->end[i] = off;
	}
}

/* Child index (a key, or npairs + pair for a value) of p as stored bytes. */
static inline void
raw_child(const JsonbPairs *p, int index, RawChild *rc)
{
	uint32		off = index > 0 ? p->end[index - 1] : 0;
	uint32		len = p->end[index] - off;

	rc->type = p->c->children[index] & JENTRY_TYPEMASK;
	if (rc->type == JENTRY_ISNUMERIC || rc->type == JENTRY_ISCONTAINER)
	{
		/* the padding before the value counts in its length */
		len -= INTALIGN(off) - off;
		off = INTALIGN(off);
	}
	rc->data = p->base + off;
	rc->len = len;
}

/* The key of pair number pair of p (not NUL-terminated). */
void
jsonb_pairs_key(const JsonbPairs *p, int pair, const char **key, int *len)
{
	uint32		off = pair > 0 ? p->end[pair - 1] : 0;

	*key = p->base + off;
	*len = (int) (p->end[pair] - off);
}

/* Orders two keys as jsonb stores an object's keys: shorter first. */
int
jsonb_key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/*
 * True when the value of pair pa of a and the value of pair pb of b are
 * stored as the same bytes (so are equal; equal values stored differently,
 * such as 1.0 and 1.00, are not identical).
 */
bool
jsonb_pairs_values_identical(const JsonbPairs *a, int pa, const JsonbPairs *b, int pb)
{
	RawChild	x,
				y;

	raw_child(a, a->npairs + pa, &x);
	raw_child(b, b->npairs + pb, &y);
	return x.type == y.type && x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
}

/* Appends zero bytes to buf up to the next 4-byte boundary; their count. */
static uint32
pad_to_int(StringInfo buf)
{
	uint32		pad = INTALIGN(buf->len) - buf->len;

	if (pad > 0)
		appendBinaryStringInfo(buf, "\0\0\0", pad);
	return pad;
}

/* Writes one JEntry of the new root: an end offset every stride, else a length. */
static void
set_entry(StringInfo buf, int entries_at, int e, uint32 type, uint32 len,
		  uint32 *totallen)
{
	JEntry		je;

	*totallen += len;
	if (*totallen > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb object elements exceeds the maximum of %d bytes",
						JENTRY_OFFLENMASK)));
	je = (e % JB_OFFSET_STRIDE == 0) ? (type | *totallen | JENTRY_HAS_OFF) : (type | len);
	memcpy(buf->data + entries_at + e * sizeof(JEntry), &je, sizeof(JEntry));
}

/*
 * A jsonb object of the pairs of object a (those with from_a[i] true; every
 * pair when from_a is NULL) and of object b (likewise; b may be NULL), in
 * jsonb key order.  Each value is copied as stored.  The two must not both
 * give a key (an internal error).
 */
Jsonb *
jsonb_object_splice(const JsonbPairs *a, const bool *from_a,
					const JsonbPairs *b, const bool *from_b)
{
	int			na = a->npairs;
	int			nb = b ? b->npairs : 0;
	const JsonbPairs **src = palloc(sizeof(JsonbPairs *) * (na + nb));
	int		   *pair = palloc(sizeof(int) * (na + nb));
	int			n = 0,
				i = 0,
				j = 0,
				k,
				entries_at;
	uint32		header,
				totallen = 0;
	StringInfoData buf;
	RawChild	rc;

	/* merge the two sorted key lists */
	while (i < na || j < nb)
	{
		int			cmp;

		if (i < na && from_a && !from_a[i])
		{
			i++;
			continue;
		}
		if (j < nb && from_b && !from_b[j])
		{
			j++;
			continue;
		}
		if (i >= na)
			cmp = 1;
		else if (j >= nb)
			cmp = -1;
		else
		{
			const char *ka,
					   *kb;
			int			la,
						lb;

			jsonb_pairs_key(a, i, &ka, &la);
			jsonb_pairs_key(b, j, &kb, &lb);
			cmp = jsonb_key_cmp(ka, la, kb, lb);
			if (cmp == 0)
				elog(ERROR, "jsonb objects to splice both have key \"%.*s\"", la, ka);
		}
		src[n] = cmp < 0 ? a : b;
		pair[n++] = cmp < 0 ? i++ : j++;
	}

	/* varlena header, root header and 2n JEntries, then keys, then values */
	initStringInfo(&buf);
	enlargeStringInfo(&buf, VARHDRSZ + sizeof(uint32) + 2 * n * sizeof(JEntry));
	buf.len = VARHDRSZ;
	header = (uint32) n | JB_FOBJECT;
	appendBinaryStringInfo(&buf, (char *) &header, sizeof(uint32));
	entries_at = buf.len;
	buf.len += 2 * n * sizeof(JEntry);
	for (k = 0; k < n; k++)
	{
		raw_child(src[k], pair[k], &rc);
		appendBinaryStringInfo(&buf, rc.data, rc.len);
		set_entry(&buf, entries_at, k, JENTRY_ISSTRING, rc.len, &totallen);
	}
	for (k = 0; k < n; k++)
	{
		uint32		pad = 0;

		raw_child(src[k], src[k]->npairs + pair[k], &rc);
		if (rc.type == JENTRY_ISNUMERIC || rc.type == JENTRY_ISCONTAINER)
			pad = pad_to_int(&buf);
		appendBinaryStringInfo(&buf, rc.data, rc.len);
		set_entry(&buf, entries_at, n + k, rc.type, pad + rc.len, &totallen);
	}
	SET_VARSIZE(buf.data, buf.len);
	pfree(src);
	pfree(pair);
	return (Jsonb *) buf.data;
}
