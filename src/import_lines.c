/*-------------------------------------------------------------------------
 *
 * import_lines.c
 *	  import_lines(): FHIR Bulk Data NDJSON cut into chunks of lines for
 *	  import_tasks().
 *
 * import_tasks() stores its input a chunk at a time (import_batch()); for
 * NDJSON it needs the non-blank lines, each with its line number, in
 * order, in chunks of a given size.  A scan for the line ends with
 * memchr() does that for a few instructions per byte, where splitting by a
 * regular expression and grouping the lines again in SQL cost more than a
 * tenth of the import.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(omnitask_import_lines);

/* Whether [p, end) holds only the blanks a line may have around a Task. */
static bool
blank_line(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r')
			return false;
	return true;
}

/*
 * Adds the chunk of n lines (numbers and texts) to the result; its arrays
 * are built in the current context (the chunk's).
 */
static void
emit_chunk(ReturnSetInfo *rsinfo, Datum *numbers, Datum *lines, int n)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = PointerGetDatum(construct_array(numbers, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(lines, n, TEXTOID, -1, false, TYPALIGN_INT));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * import_lines(source text, size integer) -> TABLE (items integer[],
 * lines text[]): the lines of source (ended by "\n"; a "\r" before it is
 * kept, JSON reads it as whitespace) that are not blank (spaces, tabs,
 * "\r"), with their line numbers from 1, in order, size lines per row
 * (the last row may have fewer).  As regexp_split_to_table(source, '\n')
 * WITH ORDINALITY without the blank lines, which it replaces.
 */
Datum
omnitask_import_lines(PG_FUNCTION_ARGS)
{
	text	   *source = PG_GETARG_TEXT_PP(0);
	int32		size = PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *p = VARDATA_ANY(source);
	const char *end = p + VARSIZE_ANY_EXHDR(source);
	MemoryContext chunk_cxt;
	MemoryContext old;
	Datum	   *numbers;
	Datum	   *lines;
	int32		lineno = 0;
	int			n = 0;
	int			room;

	if (size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunk size must be at least 1, not %d", size)));
	InitMaterializedSRF(fcinfo, 0);
	/* grown as lines come: size may be far more than the input holds */
	room = Min(size, 1024);
	numbers = palloc(sizeof(Datum) * room);
	lines = palloc(sizeof(Datum) * room);
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "omnitask import lines",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		const char *nl = memchr(p, '\n', end - p);
		const char *eol = nl ? nl : end;

		lineno++;
		if (!blank_line(p, eol))
		{
			if (n == room)
			{
				room = Min((int64) room * 2, size);
				numbers = repalloc(numbers, sizeof(Datum) * room);
				lines = repalloc(lines, sizeof(Datum) * room);
			}
			old = MemoryContextSwitchTo(chunk_cxt);
			numbers[n] = Int32GetDatum(lineno);
			lines[n] = PointerGetDatum(cstring_to_text_with_len(p, eol - p));
			if (++n == size)
				emit_chunk(rsinfo, numbers, lines, n);
			MemoryContextSwitchTo(old);
			if (n == size)
			{
				MemoryContextReset(chunk_cxt);
				n = 0;
				CHECK_FOR_INTERRUPTS();
			}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (n > 0)
	{
		old = MemoryContextSwitchTo(chunk_cxt);
		emit_chunk(rsinfo, numbers, lines, n);
		MemoryContextSwitchTo(old);
	}
	MemoryContextDelete(chunk_cxt);
	return (Datum) 0;
}
