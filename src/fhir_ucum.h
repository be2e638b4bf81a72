/*-------------------------------------------------------------------------
 *
 * fhir_ucum.h
 *	  Reduction of UCUM unit codes to a factor and base-unit exponents, so
 *	  that quantities in different but commensurable units compare (rng-2).
 *
 * Plain C (no PostgreSQL headers, no allocation, no global state), driven
 * by tables generated from ucum-essence.xml (src/fhir_ucum_tables.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_UCUM_H
#define FHIR_UCUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Base units: m, s, g, rad, K, C, cd. */
#define FHIR_UCUM_NDIMS		7

/* The system URI of UCUM codes in Quantity.system. */
#define FHIR_UCUM_SYSTEM	"http://unitsofmeasure.org"

/* A unit reduced to base units: value in base units = value * factor. */
typedef struct FhirUcumUnit
{
	double		factor;
	int8_t		dims[FHIR_UCUM_NDIMS];
} FhirUcumUnit;

/*
 * Reduces the UCUM code s (len bytes) to base units.  False when the code
 * is not valid UCUM as far as this parser reads it, or uses a special
 * (non-linear) or arbitrary unit, which convert to nothing.
 */
extern bool fhir_ucum_reduce(const char *s, size_t len, FhirUcumUnit *out);

/* True when two reduced units measure the same kind of quantity. */
extern bool fhir_ucum_commensurable(const FhirUcumUnit *a, const FhirUcumUnit *b);

#endif							/* FHIR_UCUM_H */
