/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Catalog look-ups of omnitask's C code (catalog.c): its namespace, its
 *	  tables (and their Citus shards), the OIDs of its enum labels and the
 *	  task-status codes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_CATALOG_H
#define OMNITASK_CATALOG_H

#include "fhir_validate.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* The enum types of the contract. */
typedef enum OmniEnum
{
	OMNI_ENUM_STATUS,
	OMNI_ENUM_INTENT,
	OMNI_ENUM_PRIORITY
} OmniEnum;

extern Oid	omnitask_enum_oid(OmniEnum which, FhirSlice label);
extern Oid	omnitask_namespace_oid(void);
extern Oid	omnitask_relid(const char *relname);
extern Oid	omnitask_local_relid(const char *relname);
extern bool omnitask_task_is_distributed(void);
extern bool omnitask_first_row_value(Relation rel, Snapshot snap, AttrNumber att,
									 Datum *value, bool *isnull);
extern int	task_status_index_of_oid(Oid oid);
extern int	task_status_index(const char *s, int len);
extern const char *task_status_code(int i);

#endif							/* OMNITASK_CATALOG_H */
