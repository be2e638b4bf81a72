/*-------------------------------------------------------------------------
 *
 * search_period.c
 *	  The R4 Task search parameter "period" (Task.executionPeriod): a date
 *	  parameter whose target is a range, not an instant.
 *
 * omnitask.task_period_start(resource) and omnitask.task_period_end(resource)
 * give the range the period covers: from the start of executionPeriod.start
 * (to its precision) to the end of executionPeriod.end (to its precision),
 * -infinity / infinity for a bound that is absent (an open period), NULL
 * for a task without executionPeriod.  A bound without a time is that day
 * (month, year) in UTC, as the date columns read it.
 *
 * search_period_condition() compares that range [S, E) with the range of
 * a search value [lo, hi), following the R4 rules for a range target:
 * eq: the value contains the period; ne: it does not; gt: the period
 * reaches past the value's end; lt: it begins before the value's start;
 * ge/le: gt/lt or eq; sa: it starts at or after the value's end; eb: it
 * ends at or before the value's start.
 *
 * omnitask.task_day(timestamptz) gives the UTC day of an instant, the key
 * of the index that answers a search for one day of authored-on in the
 * page's order (search_query.c, day_condition).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fhir_types.h"
#include "fmgr.h"
#include "search.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(omnitask_task_period_start);
PG_FUNCTION_INFO_V1(omnitask_task_period_end);
PG_FUNCTION_INFO_V1(omnitask_task_day);

/* The SQL expressions of the period's bounds, over omnitask.task t. */
#define PERIOD_START	"omnitask.task_period_start(t.resource)"
#define PERIOD_END		"omnitask.task_period_end(t.resource)"

/*
 * One bound of Task.executionPeriod of a resource: the start of "start" or
 * the end of "end" as a timestamptz, an infinity when the bound is absent;
 * false when the resource has no executionPeriod object, or the bound is
 * not a dateTime (a stored Task always has a valid one).
 */
static bool
period_bound(Jsonb *res, bool upper, TimestampTz *out)
{
	JsonbValue	period;
	JsonbValue	v;
	FhirTimeRange r;
	const char *why;
	const char *key = upper ? "end" : "start";

	if (!JB_ROOT_IS_OBJECT(res) ||
		getKeyJsonValueFromContainer(&res->root, "executionPeriod", 15, &period) == NULL ||
		period.type != jbvBinary || !JsonContainerIsObject(period.val.binary.data))
		return false;
	if (getKeyJsonValueFromContainer(period.val.binary.data, key, strlen(key), &v) == NULL)
	{
		if (upper)
			TIMESTAMP_NOEND(*out);
		else
			TIMESTAMP_NOBEGIN(*out);
		return true;
	}
	if (v.type != jbvString ||
		!fhir_parse_time_range(FP_DATETIME, v.val.string.val, v.val.string.len, &r, &why))
		return false;
	if (memchr(v.val.string.val, 'T', v.val.string.len) == NULL)
	{
		/* a date without a time: that day in UTC */
		r.lo += FHIR_UNZONED_SLACK;
		r.hi -= FHIR_UNZONED_SLACK;
	}
	*out = (upper ? r.hi : r.lo) - FHIR_UNIX_TO_PG_EPOCH;
	return true;
}

/* task_period_start(resource jsonb) -> timestamptz: where the period begins. */
Datum
omnitask_task_period_start(PG_FUNCTION_ARGS)
{
	TimestampTz t;

	if (!period_bound(PG_GETARG_JSONB_P(0), false, &t))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(t);
}

/* task_period_end(resource jsonb) -> timestamptz: where the period ends (exclusive). */
Datum
omnitask_task_period_end(PG_FUNCTION_ARGS)
{
	TimestampTz t;

	if (!period_bound(PG_GETARG_JSONB_P(0), true, &t))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(t);
}

/*
 * task_day(timestamptz) -> date: the day in UTC of an instant, whatever
 * the session's TimeZone (so it is immutable and may key an index).  An
 * infinite instant gives the infinite date of the same sign.  It is
 * LEAKPROOF: a division of an integer that cannot fail (every timestamptz
 * day is a valid date) and reveals nothing else, so under row-level
 * security "task_day(authored_on) = $1" may be an index condition.
 */
Datum
omnitask_task_day(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
	DateADT		d;

	if (TIMESTAMP_IS_NOBEGIN(t))
		DATE_NOBEGIN(d);
	else if (TIMESTAMP_IS_NOEND(t))
		DATE_NOEND(d);
	else
		d = search_utc_day(t);
	PG_RETURN_DATEADT(d);
}

/*
 * The UTC day (a DateADT: days since 2000-01-01) of a finite timestamptz,
 * rounded down (t may be negative): task_day's, and the days of a date
 * range that search_query.c reads day by day.
 */
int32
search_utc_day(int64 t)
{
	int32		d = (int32) (t / USECS_PER_DAY);

	if (t % USECS_PER_DAY < 0)
		d--;
	return d;
}

/*
 * Appends the condition of one period value with prefix number prefix (in
 * the order eq ne lt gt le ge sa eb) whose range is [$lo, $hi).
 */
void
search_period_condition(int prefix, int lo, int hi, StringInfo cond)
{
	const char *s = PERIOD_START;
	const char *e = PERIOD_END;

	switch (prefix)
	{
		case 0:					/* eq */
		case 1:					/* ne */
			appendStringInfo(cond, "%s(%s >= $%d AND %s <= $%d)", prefix ? "NOT " : "",
							 s, lo, e, hi);
			break;
		case 2:					/* lt */
			appendStringInfo(cond, "%s < $%d", s, lo);
			break;
		case 3:					/* gt */
			appendStringInfo(cond, "%s > $%d", e, hi);
			break;
		case 4:					/* le */
			appendStringInfo(cond, "(%s < $%d OR %s <= $%d)", s, lo, e, hi);
			break;
		case 5:					/* ge */
			appendStringInfo(cond, "(%s > $%d OR %s >= $%d)", e, hi, s, lo);
			break;
		case 6:					/* sa */
			appendStringInfo(cond, "%s >= $%d", s, hi);
			break;
		default:				/* eb */
			appendStringInfo(cond, "%s <= $%d", e, lo);
			break;
	}
}
