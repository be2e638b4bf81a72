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

extern void jsonb_pair_key(JsonbContainer *c, int pair, const char **key, int *len);
extern int	jsonb_key_cmp(const char *a, int alen, const char *b, int blen);
extern bool jsonb_pair_values_identical(JsonbContainer *a, int pa, JsonbContainer *b, int pb);
extern Jsonb *jsonb_object_splice(JsonbContainer *a, const bool *from_a,
								  JsonbContainer *b, const bool *from_b);

#endif							/* JSONB_SPLICE_H */
