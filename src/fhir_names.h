/*-------------------------------------------------------------------------
 *
 * fhir_names.h
 *	  Finding a name in the generated tables: a type's element by its JSON
 *	  name, a code in a required value set, a resource type.
 *
 * Each list has a perfect hash generated with the tables
 * (src/gen/gen_fhir_tables.py, FhirNameHash in fhir_schema.h): a name's
 * slot holds the only listed name it can be, so a lookup is a few
 * arithmetic steps and one comparison, where a search by length or a
 * binary search compared several names.  The key packs the length and the
 * bytes at 0, len / 2, len - 1 and 5 (0 when shorter): the generator checks
 * that no two listed names share one.  Names of any length and content may
 * be looked up (keys of a document are arbitrary); the comparison decides.
 *
 * Plain C (no PostgreSQL headers), so that the unit tests use it as the
 * validator does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_NAMES_H
#define FHIR_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "fhir_lex.h"
#include "fhir_schema.h"

/* The lookups are a few instructions: in line at every call. */
#define FHIR_NAMES_INLINE FHIR_LEX_INLINE

/* The hash key of the name s of len >= 1 bytes (name_key() of the generator). */
static inline FHIR_NAMES_INLINE uint64_t
fhir_name_key(const char *s, size_t len)
{
	return (uint64_t) len |
		(uint64_t) (uint8_t) s[0] << 8 |
		(uint64_t) (uint8_t) s[len >> 1] << 16 |
		(uint64_t) (uint8_t) s[len - 1] << 24 |
		(uint64_t) (uint8_t) s[len > 5 ? 5 : 0] << 32;
}

/*
 * The index of the only name of h's list that the name s of len bytes can
 * be, or -1 when it can be none (the caller compares the two).
 */
static inline FHIR_NAMES_INLINE int
fhir_name_candidate(const FhirNameHash *h, const char *s, size_t len)
{
	if (len == 0 || h->slots == NULL)
		return -1;
	return (int) h->slots[(fhir_name_key(s, len) * h->mult) >> h->shift] - 1;
}

/* The element of complex type t named s (len bytes) in JSON, or NULL. */
static inline FHIR_NAMES_INLINE const FhirElement *
fhir_find_element(const FhirType *t, const char *s, size_t len)
{
	int			i = fhir_name_candidate(&t->names, s, len);
	const FhirElement *el;

	if (i < 0)
		return NULL;
	el = &t->elements[i];
	return el->name_len == len && bytes_equal(el->name, s, len) ? el : NULL;
}

/*
 * As fhir_name_candidate(), but -1 also when the candidate's length is not
 * len: the one comparison left is then of len bytes that both have.
 */
static inline FHIR_NAMES_INLINE int
fhir_name_candidate_of_len(const FhirNameHash *h, const char *s, size_t len)
{
	size_t		slot;

	if (len == 0 || h->slots == NULL)
		return -1;
	slot = (size_t) ((fhir_name_key(s, len) * h->mult) >> h->shift);
	if (h->lens[slot] != len)
		return -1;
	return (int) h->slots[slot] - 1;
}

/* True when s (len bytes) is a code of the VS_ENUM value set vs. */
static inline bool
fhir_valueset_has(const FhirValueSet *vs, const char *s, size_t len)
{
	int			i = fhir_name_candidate_of_len(&vs->hash, s, len);

	return i >= 0 && bytes_equal(s, vs->codes[i], len);
}

/* The index in fhir_resource_types[] of the type named s (len bytes), or -1. */
static inline int
fhir_resource_type_index(const char *s, size_t len)
{
	int			i = fhir_name_candidate_of_len(&fhir_resource_type_hash, s, len);

	return i >= 0 && bytes_equal(s, fhir_resource_types[i], len) ? i : -1;
}

/* True when resource type i (fhir_resource_type_index()) is in target set ts. */
static inline bool
fhir_target_set_has(const FhirTargetSet *ts, int i)
{
	return (ts->types[i / 64] >> (i % 64)) & 1;
}

#endif							/* FHIR_NAMES_H */
