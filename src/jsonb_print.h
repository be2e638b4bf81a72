/*-------------------------------------------------------------------------
 *
 * jsonb_print.h
 *	  A fast printer of stored jsonb to JSON text, byte for byte the text
 *	  jsonb_out gives (jsonb_print.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_JSONB_PRINT_H
#define OMNITASK_JSONB_PRINT_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

extern void jsonb_print_string(StringInfo out, const char *s, int len);
extern void jsonb_print(StringInfo out, Jsonb *jb);
extern text *jsonb_print_text(Jsonb *jb);

extern Datum omnitask_fhir_json(PG_FUNCTION_ARGS);

#endif							/* OMNITASK_JSONB_PRINT_H */
