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

/* The stored bytes of child index of container c, and its JEntry type. */
typedef struct RawChild
{
	uint32		type;			/* JENTRY_IS* */
	const char *data;			/* after any alignment padding */
	uint32		len;
} RawChild;

/* Reads child index (a key or a value) of c as its stored bytes. */
static void
raw_child(JsonbContainer *c, int index, RawChild *rc)
{
	uint32		nentries = JsonContainerIsObject(c) ?
		2 * JsonContainerSize(c) : JsonContainerSize(c);
	const char *base = (const char *) &c->children[nentries];
	uint32		off = getJsonbOffset(c, index);
	uint32		len = getJsonbLength(c, index);

	rc->type = c->children[index] & JENTRY_TYPEMASK;
	if (rc->type == JENTRY_ISNUMERIC || rc->type == JENTRY_ISCONTAINER)
	{
		/* the padding before the value counts in its length */
		len -= INTALIGN(off) - off;
		off = INTALIGN(off);
	}
	rc->data = base + off;
	rc->len = len;
}

/* The key of pair number pair of the object c (not NUL-terminated). */
void
jsonb_pair_key(JsonbContainer *c, int pair, const char **key, int *len)
{
	RawChild	rc;

	raw_child(c, pair, &rc);
	*key = rc.data;
	*len = (int) rc.len;
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
jsonb_pair_values_identical(JsonbContainer *a, int pa, JsonbContainer *b, int pb)
{
	RawChild	x,
				y;

	raw_child(a, JsonContainerSize(a) + pa, &x);
	raw_child(b, JsonContainerSize(b) + pb, &y);
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
jsonb_object_splice(JsonbContainer *a, const bool *from_a,
					JsonbContainer *b, const bool *from_b)
{
	int			na = JsonContainerSize(a);
	int			nb = b ? JsonContainerSize(b) : 0;
	JsonbContainer **src = palloc(sizeof(JsonbContainer *) * (na + nb));
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

	Assert(JsonContainerIsObject(a) && (b == NULL || JsonContainerIsObject(b)));
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

			jsonb_pair_key(a, i, &ka, &la);
			jsonb_pair_key(b, j, &kb, &lb);
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

		raw_child(src[k], JsonContainerSize(src[k]) + pair[k], &rc);
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
