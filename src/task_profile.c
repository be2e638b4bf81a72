/*-------------------------------------------------------------------------
 *
 * task_profile.c
 *	  The omnitask profile: what a stored Task needs beyond base R4.
 *
 * Base R4 lets a Task be about anything and be owned by anyone; a clinic's
 * work item must name its patient, say what is to be done, and be owned by
 * a practitioner.  These checks run on store only; validate_task() reports
 * base R4.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "task_profile.h"

/*
 * The id of a reference "Type/{id}" as a slice, or an empty slice when ref
 * is not of that form (absolute URLs, versions and other types included).
 */
FhirSlice
task_reference_id(FhirSlice ref, const char *type)
{
	FhirSlice	id = {NULL, 0};
	int			tlen = strlen(type);
	const char *why;

	if (ref.s == NULL || ref.len <= tlen + 1 ||
		memcmp(ref.s, type, tlen) != 0 || ref.s[tlen] != '/')
		return id;
	if (!fhir_check_string(FP_ID, ref.s + tlen + 1, ref.len - tlen - 1, &why))
		return id;
	id.s = ref.s + tlen + 1;
	id.len = ref.len - tlen - 1;
	return id;
}

/* Adds a profile issue about a reference that is not "Type/{id}". */
static void
bad_reference(FhirResult *res, const char *path, FhirSlice ref, const char *type)
{
	StringInfoData buf;

	if (ref.s == NULL)
	{
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", path,
					   "%s is required: a reference of the form %s/{id}", path, type);
		return;
	}
	initStringInfo(&buf);
	fhir_append_quoted(&buf, ref.s, ref.len);
	fhir_add_issue(res, FHIR_SEV_ERROR, "value", path,
				   "%s must be a reference of the form %s/{id}, not %s",
				   path, type, buf.data);
}

/*
 * Checks the omnitask profile on a Task that passed base validation, with
 * now the time it is being stored at.
 */
void
task_profile_check(FhirResult *res, TimestampTz now)
{
	TaskFacts  *f = &res->facts;

	if (f->status.s == NULL)
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", "Task.status",
					   "a stored Task needs a status value");
	if (f->intent.s == NULL)
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", "Task.intent",
					   "a stored Task needs an intent value");
	if (!f->has_for)
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", "Task.for",
					   "a stored Task needs the patient it is for (Task.for)");
	else if (task_reference_id(f->for_ref, "Patient").s == NULL)
		bad_reference(res, "Task.for.reference", f->for_ref, "Patient");
	if (f->description.s == NULL)
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", "Task.description",
					   "a stored Task needs a description of the work");
	if (f->has_owner && task_reference_id(f->owner_ref, "Practitioner").s == NULL)
		bad_reference(res, "Task.owner.reference", f->owner_ref, "Practitioner");
	if (f->authored_on.text.s)
	{
		FhirTimeRange stored;

		stored.lo = now + FHIR_UNIX_TO_PG_EPOCH;
		stored.hi = stored.lo + 1;
		if (fhir_time_range_before(&stored, &f->authored_on.range))
			fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.authoredOn",
						   "authoredOn is later than the time of storing, which becomes lastModified (inv-1)");
	}
}
