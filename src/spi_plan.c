/*-------------------------------------------------------------------------
 *
 * spi_plan.c
 *	  SPI plans prepared at their first use and kept for the life of the
 *	  backend: the prepare-check-keep block the C endpoints that run a
 *	  fixed query through SPI share (the change feed's page, the fast read
 *	  of fhir.task_read, the audited reads of read_task and task_history).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "spi_plan.h"

/*
 * The plan kept in *kept, prepared (in an SPI connection) from query with
 * nargs parameters of argtypes and cursor_options (0: the plan cache
 * decides between custom and generic plans) and kept when *kept is still
 * NULL.  A plan that cannot be prepared or kept is an internal error.
 */
SPIPlanPtr
spi_plan_keep(SPIPlanPtr *kept, const char *query, int nargs, Oid *argtypes,
			  int cursor_options)
{
	if (*kept == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, argtypes, cursor_options);
		int			rc;

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if ((rc = SPI_keepplan(plan)) != 0)
			elog(ERROR, "SPI_keepplan failed: %s", SPI_result_code_string(rc));
		*kept = plan;
	}
	return *kept;
}

/* The kept plan of a query of one text parameter ($1), as spi_plan_keep. */
SPIPlanPtr
spi_plan_keep_text(SPIPlanPtr *kept, const char *query)
{
	Oid			argtype = TEXTOID;

	return spi_plan_keep(kept, query, 1, &argtype, 0);
}
