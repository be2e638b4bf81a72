/*-------------------------------------------------------------------------
 *
 * fhir_validate.h
 *	  One-pass validation (and optional normalisation) of a FHIR R4 Task
 *	  held in a jsonb value.
 *
 * The walker visits every element once, checks it against the generated
 * R4 tables, collects issues as FHIR OperationOutcome entries, records the
 * facts that omnitask stores in derived columns, and -- when asked -- emits
 * the normalised copy of the document on the way (server-owned keys
 * replaced), so the hot path never walks or parses a document twice.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_VALIDATE_H
#define FHIR_VALIDATE_H

#include "postgres.h"

#include "fhir_outcome.h"
#include "fhir_types.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* Deeper nesting than this is refused without descending further. */
#define FHIR_MAX_DEPTH			64

/* A string slice pointing into the validated jsonb (not NUL-terminated). */
typedef struct FhirSlice
{
	const char *s;
	int			len;
} FhirSlice;

/* A dateTime slice and the instant range it denotes. */
typedef struct FhirWhen
{
	FhirSlice	text;
	FhirTimeRange range;
	bool		has_time;		/* a time of day was given */
} FhirWhen;

/*
 * What the walk learnt about the Task at its root: the values omnitask keeps
 * in derived columns and needs for its profile, workflow and access rules.
 * Slices are empty (s == NULL) when the element is absent.
 */
typedef struct TaskFacts
{
	FhirSlice	id;
	FhirSlice	status;
	FhirSlice	intent;
	FhirSlice	priority;
	FhirSlice	description;
	FhirSlice	owner_ref;		/* Task.owner.reference */
	FhirSlice	for_ref;		/* Task.for.reference */
	FhirSlice	requester_ref;	/* Task.requester.reference */
	FhirSlice	code;			/* Task.code.coding[0].code */
	bool		has_owner;		/* Task.owner present in any form */
	bool		has_for;
	bool		has_requester;
	bool		has_status_reason;
	FhirWhen	authored_on;
	FhirWhen	last_modified;
	FhirWhen	restriction_end;	/* Task.restriction.period.end */
	FhirWhen	execution_end;	/* Task.executionPeriod.end */
	FhirSlice	meta_version;	/* Task.meta.versionId */
	FhirWhen	meta_last_updated;	/* Task.meta.lastUpdated */
} TaskFacts;

/* Server-owned values written into the normalised copy. */
typedef struct FhirNormalize
{
	const char *id;				/* Task.id */
	const char *version_id;		/* meta.versionId */
	const char *last_updated;	/* meta.lastUpdated and lastModified */
	bool		keep_last_modified; /* keep a lastModified the Task has (import) */
	const char *default_owner;	/* if set, Task.owner.reference when absent */
	const char *default_requester;	/* if set, Task.requester.reference when absent */
	const bool *trusted_pairs;	/* if set, per root pair: copied unvalidated */
} FhirNormalize;

/* The result of one walk. */
typedef struct FhirResult
{
	int			nissues;
	int			nerrors;		/* issues of severity error */
	bool		truncated;		/* more issues than FHIR_MAX_ISSUES */
	FhirIssue	issues[FHIR_MAX_ISSUES];
	TaskFacts	facts;
	Jsonb	   *normalized;		/* set when normalisation was requested */
} FhirResult;

extern void fhir_validate_task(Jsonb *doc, FhirResult *res);
extern void fhir_validate_and_normalize_task(Jsonb *doc, const FhirNormalize *norm,
											 FhirResult *res);
extern FhirResult *fhir_scratch_result(MemoryContext *scratch, MemoryContext *outer);
extern bool fhir_task_root_element_trusted(const char *name, int len);
extern bool fhir_slice_eq(FhirSlice a, const char *s);
extern char *fhir_slice_cstring(FhirSlice a);

#endif							/* FHIR_VALIDATE_H */
