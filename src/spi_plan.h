/*-------------------------------------------------------------------------
 *
 * spi_plan.h
 *	  SPI plans prepared once and kept for the life of the backend
 *	  (spi_plan.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_SPI_PLAN_H
#define OMNITASK_SPI_PLAN_H

#include "postgres.h"

#include "executor/spi.h"

extern SPIPlanPtr spi_plan_keep(SPIPlanPtr *kept, const char *query, int nargs,
								Oid *argtypes, int cursor_options);
extern SPIPlanPtr spi_plan_keep_text(SPIPlanPtr *kept, const char *query);

#endif							/* OMNITASK_SPI_PLAN_H */
