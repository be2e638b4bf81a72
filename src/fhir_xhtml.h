/*-------------------------------------------------------------------------
 *
 * fhir_xhtml.h
 *	  The restricted XHTML checker of Narrative.div (fhir_xhtml.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_XHTML_H
#define FHIR_XHTML_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when s[0..len) is a narrative FHIR allows (txt-1, txt-2); else
 * false with the reason in *why (when why is not NULL).
 */
extern bool fhir_check_xhtml(const char *s, size_t len, const char **why);

#endif							/* FHIR_XHTML_H */
