/*-------------------------------------------------------------------------
 *
 * fhir_outcome.h
 *	  Issues of a validation and the OperationOutcome reporting them
 *	  (fhir_outcome.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_OUTCOME_H
#define FHIR_OUTCOME_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* At most this many issues are collected; one more says the list was cut. */
#define FHIR_MAX_ISSUES			100

/* Severity of an OperationOutcome issue. */
typedef enum FhirSeverity
{
	FHIR_SEV_ERROR,
	FHIR_SEV_WARNING,
	FHIR_SEV_INFORMATION
} FhirSeverity;

/* One OperationOutcome.issue. */
typedef struct FhirIssue
{
	FhirSeverity severity;
	const char *code;			/* issue-type code: structure, required, ... */
	char	   *diagnostics;	/* human-readable, names the value */
	char	   *expression;		/* FHIRPath of the offending element */
} FhirIssue;

struct FhirResult;				/* fhir_validate.h */

extern void fhir_add_issue(struct FhirResult *res, FhirSeverity sev, const char *code,
						   const char *expression, const char *fmt,...)
			pg_attribute_printf(5, 6);
extern bool fhir_issues_full(struct FhirResult *res);
extern void fhir_add_issue_text(struct FhirResult *res, FhirSeverity sev,
								const char *code, const char *expression,
								char *diagnostics);
extern char *fhir_vformat(const char *fmt, va_list args) pg_attribute_printf(1, 0);
extern void fhir_append_quoted(StringInfo buf, const char *s, int len);
extern char *fhir_quoted(const char *s, int len);
extern const FhirIssue *fhir_first_error(const struct FhirResult *res);
extern Jsonb *fhir_outcome_jsonb(const struct FhirResult *res);
extern char *fhir_outcome_text(const struct FhirResult *res);

/* Building jsonb: one string token, or "key": "value". */
extern void fhir_push_string(JsonbParseState **ps, JsonbIteratorToken tok, const char *s);
extern void fhir_push_pair(JsonbParseState **ps, const char *key, const char *value);

#endif							/* FHIR_OUTCOME_H */
