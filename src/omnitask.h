/*-------------------------------------------------------------------------
 *
 * omnitask.h
 *	  Declarations shared between omnitask's C files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_H
#define OMNITASK_H

#include "postgres.h"

#include "fhir_validate.h"
#include "utils/timestamp.h"

/* Settings (omnitask.c). */
extern char *omnitask_jwt_authenticator;
extern char *omnitask_jwt_practitioner_claim;
extern bool omnitask_notify;

/* The enum types of the contract (catalog.c). */
typedef enum OmniEnum
{
	OMNI_ENUM_STATUS,
	OMNI_ENUM_INTENT,
	OMNI_ENUM_PRIORITY
} OmniEnum;

extern Oid	omnitask_enum_oid(OmniEnum which, FhirSlice label);
extern Oid	omnitask_namespace_oid(void);
extern Oid	omnitask_relid(const char *relname);

/* Writes that import_task() is making (task_trigger.c). */
extern int	omnitask_import_depth;

/* Formats a timestamp as a FHIR instant in UTC (task_trigger.c). */
extern char *omnitask_fhir_instant(TimestampTz ts);

/* The omnitask profile on top of base R4 (task_profile.c). */
extern void task_profile_check(FhirResult *res, TimestampTz now);
extern FhirSlice task_reference_id(FhirSlice ref, const char *type);

#endif							/* OMNITASK_H */
