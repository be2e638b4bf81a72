/*-------------------------------------------------------------------------
 *
 * search_elements.h
 *	  _elements and _summary=true|text|data on search results: which
 *	  top-level elements of a Task the Bundle keeps (search_elements.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SEARCH_ELEMENTS_H
#define SEARCH_ELEMENTS_H

#include "postgres.h"

#include "utils/jsonb.h"

/* The elements a subsetted Task keeps: bit i = fhir_types[FHIR_T_TASK].elements[i]. */
typedef struct SearchElements
{
	uint64		keep;
} SearchElements;

/*
 * The subset asked for by _elements=a,b or _summary=true|text|data (name
 * is the parameter); prev is the subset an earlier one of the two asked
 * for (they cannot be combined), or NULL.
 */
extern SearchElements *search_elements_param(const char *name, const char *value,
											 SearchElements *prev);

/* The resource cut down to the subset, tagged SUBSETTED in meta.tag. */
extern Jsonb *search_elements_apply(const SearchElements *e, Jsonb *res);

#endif							/* SEARCH_ELEMENTS_H */
