/*-------------------------------------------------------------------------
 *
 * jsonb_splice.h
 *	  jsonb objects built from the pairs of others by copying each value's
 *	  stored bytes (jsonb_splice.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef JSONB_SPLICE_H
#define JSONB_SPLICE_H

#include "utils/jsonb.h"

/* The pairs of a jsonb object, with the offset of every child worked out. */
typedef struct JsonbPairs
{
	JsonbContainer *c;
	int			npairs;
	const char *base;			/* start of the children's data */
	uint32	   *end;			/* end[i]: end offset of child i (keys, then values) */
} JsonbPairs;

extern void jsonb_pairs_init(JsonbPairs *p, JsonbContainer *c);
extern void jsonb_pairs_key(const JsonbPairs *p, int pair, const char **key, int *len);
extern int	jsonb_key_cmp(const char *a, int alen, const char *b, int blen);
extern bool jsonb_pairs_values_identical(const JsonbPairs *a, int pa,
										 const JsonbPairs *b, int pb);
extern Jsonb *jsonb_object_splice(const JsonbPairs *a, const bool *from_a,
								  const JsonbPairs *b, const bool *from_b);

#endif							/* JSONB_SPLICE_H */
