/*-------------------------------------------------------------------------
 *
 * task_profile.h
 *	  The omnitask profile on top of base R4 (task_profile.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_PROFILE_H
#define TASK_PROFILE_H

#include "fhir_validate.h"
#include "utils/timestamp.h"

extern void task_profile_check(FhirResult *res, TimestampTz now);
extern FhirSlice task_reference_id(FhirSlice ref, const char *type);

#endif							/* TASK_PROFILE_H */
