/*-------------------------------------------------------------------------
 *
 * fhir_feed.c
 *	  The change feed, omnitask.task_changes(_cursor, _count): the next page
 *	  of stored versions in (xid, id, version_id) order below the xmin of
 *	  the reader's snapshot, as one FHIR history Bundle.
 *
 *	  The Bundle is encoded once, straight into jsonb's binary format, each
 *	  version's stored resource copied into it byte for byte (see
 *	  feed_encode).  The SQL version built one jsonb object per entry,
 *	  aggregated them and wrapped the array (three copies, 10-50 ms a page
 *	  of 100); a JsonbParseState unpacks every resource token by token and
 *	  serialises it again (5.3 of the 18 million instructions of a page).
 *
 *	  The rows are read through SPI with the caller's rights, so the
 *	  policies of omnitask.task_history decide what the caller sees.
 *	  Positions are xids plus omnitask.feed_shift.shift (raised by a
 *	  restore, see the SQL script), so the bound is xmin plus that shift.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "audit.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fhir_feed.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "fhir_http.h"
#include "identity.h"
#include "jsonb_print.h"
#include "spi_plan.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(omnitask_task_changes);
PG_FUNCTION_INFO_V1(omnitask_task_changes_json);

/*
 * Kept plans of the page query (below): for callers who see every version,
 * for callers whose view a policy filters, and on Citus.
 */
static SPIPlanPtr page_plan_all = NULL;
static SPIPlanPtr page_plan_own = NULL;
static SPIPlanPtr page_plan_citus = NULL;

/*
 * The page query: the versions after the position, below the reader's
 * xmin (plus the restore shift), in feed order, as stored (no per-row
 * function: the caller formats xid and recorded_at, and only where it needs
 * them), at most limit rows; the executor stops at _count rows (SPI's
 * tcount).  The limit is the largest page, a constant, and one generic plan
 * serves every page: with LIMIT $4 the plan cache planned each call anew as
 * a custom plan (0.37M instructions of 7.7M).  For a caller who sees every
 * version it is an index scan of task_history_feed_idx from the cursor; for
 * a practitioner, whose policy keeps their own versions, one of
 * task_history_owner_feed_idx from (their id, the cursor) (0.6: with only
 * owner_id indexed the plan 0.5 kept read all of a practitioner's versions
 * after the cursor and sorted them, 0.3-3 s a page at 1M tasks).  Their
 * query has no LIMIT and is planned for a fast start (cursor_tuple_fraction
 * of the rows): with LIMIT 1000 and a practitioner's few hundred versions
 * estimated after the cursor, the planner would cost the whole result and
 * could prefer reading them all through a bitmap and sorting them.  On
 * Citus the limit stays $4 (see page_plan).
 */
#define PAGE_QUERY_UNLIMITED \
	"SELECT h.id, h.xid, h.version_id, h.operation, h.resource, h.recorded_at " \
	"FROM omnitask.task_history h " \
	"WHERE (h.xid, h.id, h.version_id) > ($1, $2, $3) " \
	"AND h.xid < (pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::pg_catalog.text::pg_catalog.numeric " \
	"+ (SELECT s.shift FROM omnitask.feed_shift s))::pg_catalog.text::pg_catalog.xid8 " \
	"ORDER BY h.xid, h.id, h.version_id"
#define PAGE_QUERY(limit) PAGE_QUERY_UNLIMITED " LIMIT " limit

/* A position in the feed. */
typedef struct FeedPosition
{
	uint64		xid;
	int32		version_id;
	const char *id;			/* server encoding */
} FeedPosition;

/* Raises 22023 for a cursor that is not one this module handed out. */
static void
invalid_cursor(text *cursor)
{
	const char *s = VARDATA_ANY(cursor);
	int			len = VARSIZE_ANY_EXHDR(cursor);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid change-feed cursor \"%s\"",
					pnstrdup(s, pg_mbcharcliplen(s, len, 64))),
			 errhint("Use the cursor of a next link as given, or none to start from the beginning.")));
}

/* The value of one hexadecimal digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes a cursor: hex of the UTF-8 text "xid.version_id.id" (xid 1-20
 * digits within 64 bits, version_id 1-9 digits, id not empty).
 */
static void
parse_cursor(text *cursor, FeedPosition *pos)
{
	const char *s = VARDATA_ANY(cursor);
	int			len = VARSIZE_ANY_EXHDR(cursor);
	char	   *raw;
	int			rawlen = len / 2;
	int			i;
	const char *p;
	const char *end;
	int			digits;

	if (len % 2 != 0)
		invalid_cursor(cursor);
	raw = palloc(rawlen + 1);
	for (i = 0; i < rawlen; i++)
	{
		int			hi = hex_value(s[2 * i]);
		int			lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			invalid_cursor(cursor);
		raw[i] = (char) (hi * 16 + lo);
	}
	raw[rawlen] = '\0';
	if (!pg_verify_mbstr(PG_UTF8, raw, rawlen, true))
		invalid_cursor(cursor);

	p = raw;
	end = raw + rawlen;
	pos->xid = 0;
	for (digits = 0; p < end && *p >= '0' && *p <= '9'; p++, digits++)
	{
		if (pos->xid > (PG_UINT64_MAX - (*p - '0')) / 10)
			invalid_cursor(cursor);
		pos->xid = pos->xid * 10 + (*p - '0');
	}
	if (digits < 1 || digits > 20 || p >= end || *p != '.')
		invalid_cursor(cursor);
	p++;
	pos->version_id = 0;
	for (digits = 0; p < end && *p >= '0' && *p <= '9'; p++, digits++)
		pos->version_id = pos->version_id * 10 + (*p - '0');
	if (digits < 1 || digits > 9 || p >= end || *p != '.')
		invalid_cursor(cursor);
	p++;
	if (p >= end)
		invalid_cursor(cursor);
	pos->id = pg_any_to_server(p, end - p, PG_UTF8);
}

/* The cursor of a position: hex of the UTF-8 text "xid.version_id.id". */
static char *
encode_cursor(const char *xid, int32 version_id, const char *id)
{
	char	   *utf8id = pg_server_to_any(id, strlen(id), PG_UTF8);
	char	   *plain = psprintf("%s.%d.%s", xid, version_id, utf8id);
	int			len = strlen(plain);
	char	   *hex = palloc(2 * len + 1);
	static const char digits[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < len; i++)
	{
		hex[2 * i] = digits[((unsigned char) plain[i]) >> 4];
		hex[2 * i + 1] = digits[((unsigned char) plain[i]) & 0x0f];
	}
	hex[2 * len] = '\0';
	return hex;
}

/*
 * The Bundle is encoded straight into jsonb's binary format: a node tree of
 * strings, containers and stored values, each stored value (a version's
 * resource) copied byte for byte.  Going through a JsonbParseState instead
 * unpacks every resource token by token and serialises it again (half of
 * the cost of a page before).  A nested container's offsets are relative to
 * its own start and it starts on a 4-byte boundary, so a stored root
 * container is valid as it is inside the Bundle; the encoding below follows
 * convertToJsonb() in jsonb_util.c (offset every JB_OFFSET_STRIDE children,
 * lengths otherwise, object keys before values in jsonb's key order).
 */
typedef enum FeedNodeKind
{
	FEED_STRING,
	FEED_NULL,
	FEED_STORED,				/* a stored jsonb value, copied */
	FEED_ARRAY,
	FEED_OBJECT
} FeedNodeKind;

typedef struct FeedNode
{
	FeedNodeKind kind;
	const char *str;			/* FEED_STRING */
	int			len;
	Jsonb	   *stored;			/* FEED_STORED */
	int			n;				/* FEED_ARRAY: elements; FEED_OBJECT: pairs */
	const char *const *keys;	/* FEED_OBJECT: n keys in jsonb's key order */
	struct FeedNode *kids;		/* n elements or n values */
} FeedNode;

/* Object keys in jsonb's order (shorter first, then bytewise). */
static const char *const bundle_keys[] = {"link", "type", "entry", "resourceType"};
static const char *const entry_keys[] = {"fullUrl", "request", "resource", "response"};
static const char *const request_keys[] = {"url", "method"};
static const char *const response_keys[] = {"etag", "status", "lastModified"};
static const char *const link_keys[] = {"url", "relation"};

/* A string node of a NUL-terminated string. */
static FeedNode
feed_string(const char *s)
{
	FeedNode	node = {FEED_STRING, s, strlen(s), NULL, 0, NULL, NULL};

	return node;
}

/* A container node of n children (pairs for an object) allocated here. */
static FeedNode
feed_container(FeedNodeKind kind, int n, const char *const *keys)
{
	FeedNode	node = {kind, NULL, 0, NULL, n, keys, palloc(n * sizeof(FeedNode))};

	return node;
}

/* Pads the buffer with zeros to a 4-byte boundary, as jsonb aligns containers and numerics. */
static void
feed_pad(StringInfo buf)
{
	static const char zeros[4] = {0, 0, 0, 0};
	int			padlen = INTALIGN(buf->len) - buf->len;

	if (padlen > 0)
		appendBinaryStringInfo(buf, zeros, padlen);
}

/* Raises 54000 when a container outgrows jsonb's 28-bit offsets. */
static void
feed_check_size(Size len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("change-feed page exceeds the maximum jsonb size of %d bytes",
						JENTRY_OFFLENMASK),
				 errhint("Ask for fewer versions with \"_count\".")));
}

static void feed_encode(StringInfo buf, const FeedNode *node, JEntry *entry);

/*
 * Encodes the scalar of a stored raw scalar (a resource that is not a
 * container): such a root is a one-element array flagged scalar, which is
 * not valid nested, so its value is encoded as jsonb would encode it.
 */
static void
feed_encode_scalar(StringInfo buf, Jsonb *stored, JEntry *entry)
{
	JsonbValue	v;
	int			base = buf->len;

	if (!JsonbExtractScalar(&stored->root, &v))
		elog(ERROR, "stored jsonb scalar expected");
	switch (v.type)
	{
		case jbvNull:
			*entry = JENTRY_ISNULL;
			break;
		case jbvBool:
			*entry = v.val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
			break;
		case jbvString:
			appendBinaryStringInfo(buf, v.val.string.val, v.val.string.len);
			*entry = JENTRY_ISSTRING | v.val.string.len;
			break;
		case jbvNumeric:
			feed_pad(buf);
			appendBinaryStringInfo(buf, (char *) v.val.numeric, VARSIZE_ANY(v.val.numeric));
			*entry = JENTRY_ISNUMERIC | (buf->len - base);
			break;
		default:
			elog(ERROR, "unexpected jsonb scalar type %d", (int) v.type);
	}
}

#ifdef USE_ASSERT_CHECKING
/* Whether key a sorts before key b in jsonb's order (length, then bytes). */
static bool
feed_keys_ordered(const char *a, const char *b)
{
	size_t		alen = strlen(a);
	size_t		blen = strlen(b);

	return alen < blen || (alen == blen && memcmp(a, b, alen) < 0);
}
#endif

/* Encodes an array or object node: header, child entries, children. */
static void
feed_encode_container(StringInfo buf, const FeedNode *node, JEntry *entry)
{
	int			base = buf->len;
	bool		object = node->kind == FEED_OBJECT;
	int			nchildren = object ? 2 * node->n : node->n;
	uint32		header = node->n | (object ? JB_FOBJECT : JB_FARRAY);
	int			entries;
	uint32		total = 0;
	int			i;

	feed_pad(buf);
	appendBinaryStringInfo(buf, (char *) &header, sizeof(uint32));
	entries = buf->len;
	enlargeStringInfo(buf, nchildren * sizeof(JEntry));
	memset(buf->data + buf->len, 0, nchildren * sizeof(JEntry));
	buf->len += nchildren * sizeof(JEntry);
	for (i = 0; i < nchildren; i++)
	{
		int			start = buf->len;
		JEntry		meta = 0;
		uint32		len;

		if (object && i < node->n)
		{
			FeedNode	key = feed_string(node->keys[i]);

			/* jsonb finds keys by binary search: they must come sorted */
			Assert(i == 0 || feed_keys_ordered(node->keys[i - 1], key.str));
			feed_encode(buf, &key, &meta);
		}
		else
			feed_encode(buf, &node->kids[object ? i - node->n : i], &meta);
		len = buf->len - start;
		total += len;
		feed_check_size(total);
		if (i % JB_OFFSET_STRIDE == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		else
			meta = (meta & JENTRY_TYPEMASK) | len;
		memcpy(buf->data + entries + i * sizeof(JEntry), &meta, sizeof(JEntry));
	}
	feed_check_size(buf->len - base);
	*entry = JENTRY_ISCONTAINER | (buf->len - base);
}

/* Appends the encoding of one node; *entry gets its type (and length). */
static void
feed_encode(StringInfo buf, const FeedNode *node, JEntry *entry)
{
	switch (node->kind)
	{
		case FEED_STRING:
			feed_check_size(node->len);
			appendBinaryStringInfo(buf, node->str, node->len);
			*entry = JENTRY_ISSTRING | node->len;
			break;
		case FEED_NULL:
			*entry = JENTRY_ISNULL;
			break;
		case FEED_STORED:
			if (JB_ROOT_IS_SCALAR(node->stored))
				feed_encode_scalar(buf, node->stored, entry);
			else
			{
				int			base = buf->len;

				feed_pad(buf);
				appendBinaryStringInfo(buf, (char *) &node->stored->root,
									   VARSIZE(node->stored) - VARHDRSZ);
				feed_check_size(buf->len - base);
				*entry = JENTRY_ISCONTAINER | (buf->len - base);
			}
			break;
		case FEED_ARRAY:
		case FEED_OBJECT:
			feed_encode_container(buf, node, entry);
			break;
	}
}

/* A link {url, relation}. */
static FeedNode
feed_link(const char *relation, const char *url)
{
	FeedNode	link = feed_container(FEED_OBJECT, 2, link_keys);

	link.kids[0] = feed_string(url);
	link.kids[1] = feed_string(relation);
	return link;
}

/*
 * Appends the JSON text of one node: the text jsonb_out gives for its
 * binary encoding (feed_encode), stored values through jsonb_print.
 */
static void
feed_print(StringInfo buf, const FeedNode *node)
{
	int			nchildren = node->n;
	int			i;

	switch (node->kind)
	{
		case FEED_STRING:
			jsonb_print_string(buf, node->str, node->len);
			return;
		case FEED_NULL:
			appendBinaryStringInfo(buf, "null", 4);
			return;
		case FEED_STORED:
			jsonb_print(buf, node->stored);
			return;
		case FEED_ARRAY:
		case FEED_OBJECT:
			break;
	}
	appendStringInfoCharMacro(buf, node->kind == FEED_OBJECT ? '{' : '[');
	for (i = 0; i < nchildren; i++)
	{
		if (i > 0)
			appendBinaryStringInfo(buf, ", ", 2);
		if (node->kind == FEED_OBJECT)
		{
			jsonb_print_string(buf, node->keys[i], strlen(node->keys[i]));
			appendBinaryStringInfo(buf, ": ", 2);
		}
		feed_print(buf, &node->kids[i]);
	}
	appendStringInfoCharMacro(buf, node->kind == FEED_OBJECT ? '}' : ']');
}

/* Writes n as exactly width decimal digits (n >= 0, below 10^width). */
static char *
put_digits(char *p, int n, int width)
{
	int			i;

	for (i = width - 1; i >= 0; i--)
	{
		p[i] = '0' + n % 10;
		n /= 10;
	}
	return p + width;
}

/*
 * The instant of a recorded_at as FHIR's lastModified: the text of
 * to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') (years
 * before 1 as to_char's YYYY prints them, without the era; years past 9999
 * with all their digits), or NULL for an infinite one (only a restore can
 * store one), which has no instant.  Written digit by digit: through
 * psprintf it cost 2,800 instructions, 0.28M a page.
 */
static char *
feed_instant(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char	   *buf;
	char	   *p;
	int			year;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return NULL;
	year = tm.tm_year > 0 ? tm.tm_year : -(tm.tm_year - 1);
	p = buf = palloc(32);
	p = put_digits(p, year, year > 99999 ? 6 : year > 9999 ? 5 : 4);
	*p++ = '-';
	p = put_digits(p, tm.tm_mon, 2);
	*p++ = '-';
	p = put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, fsec, 6);
	*p++ = 'Z';
	*p = '\0';
	return buf;
}

/*
 * The kept page plan for this caller (prepared at first use, in an SPI
 * connection; parameters xid, id, version_id of the cursor and _count):
 * the generic one of constant limit, kept apart for callers who see every
 * version (admins and auditors; superusers are not subject to the
 * policies), and without a limit, for a fast start, for the others, whose
 * plan reads their own versions (the
 * plan cache plans again when the role changes; two plans spare that
 * between admins and practitioners).  Either way the query runs with the
 * caller's rights and its policies.  On Citus the one limited by _count,
 * which the plan cache plans for the actual values: Citus cannot plan the
 * forced generic plan ("could not create distributed plan",
 * 171_citus_http).
 */
static SPIPlanPtr
page_plan(const OmniCaller *caller)
{
	Oid			argtypes[4] = {XID8OID, TEXTOID, INT4OID, INT4OID};

	if (omnitask_task_is_distributed())
		return spi_plan_keep(&page_plan_citus, PAGE_QUERY("$4"), 4, argtypes, 0);
	if (caller->is_admin || caller->is_auditor)
		return spi_plan_keep(&page_plan_all, PAGE_QUERY(CppAsString2(FHIR_FEED_MAX_COUNT)), 4, argtypes,
							 CURSOR_OPT_GENERIC_PLAN);
	return spi_plan_keep(&page_plan_own, PAGE_QUERY_UNLIMITED, 4, argtypes,
						 CURSOR_OPT_GENERIC_PLAN | CURSOR_OPT_FAST_PLAN);
}

/*
 * The next _count (1-1000) versions after the cursor as a history Bundle
 * whose next link carries the cursor to poll with: as jsonb, or as its
 * text (as_text) printed straight from the tree, without a jsonb between.
 */
static Datum
feed_page(FunctionCallInfo fcinfo, bool as_text)
{
	text	   *cursor = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	int32		count;
	FeedPosition pos = {0, 0, ""};
	const char *base = omnitask_fhir_base_url ? omnitask_fhir_base_url : "";
	int			baselen = strlen(base);
	char	   *prefix;
	char	   *cursor_str = NULL;
	char	   *last_pos = NULL;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	MemoryContext callerctx = CurrentMemoryContext;
	FeedNode	bundle;
	FeedNode	links;
	FeedNode	entries;
	StringInfoData buf;
	JEntry		root;
	Size		stored_size = 0;
	SPIPlanPtr	plan;
	OmniAuditRead ar;
	uint64		n;
	uint64		row;
	int			rc;

	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > FHIR_FEED_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid _count \"%s\"",
						PG_ARGISNULL(1) ? "" : psprintf("%d", PG_GETARG_INT32(1))),
				 errhint("The value of \"_count\" must be between 1 and %d.", FHIR_FEED_MAX_COUNT)));
	count = PG_GETARG_INT32(1);
	if (cursor != NULL && VARSIZE_ANY_EXHDR(cursor) > 0)
	{
		parse_cursor(cursor, &pos);
		cursor_str = text_to_cstring(cursor);
	}

	while (baselen > 0 && base[baselen - 1] == '/')
		baselen--;
	prefix = baselen == 0 ? "" : psprintf("%.*s/", baselen, base);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	plan = page_plan(omnitask_caller());
	/* recorded as action "changes" with the page's tasks and patients */
	omnitask_audit_begin(&ar, "changes",
						 omnitask_audit_on() ? psprintf("_count=%d%s%s", count, cursor_str ? "&_cursor=" : "",
														cursor_str ? cursor_str : "") : NULL);
	values[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(pos.xid));
	values[1] = CStringGetTextDatum(pos.id);
	values[2] = Int32GetDatum(pos.version_id);
	values[3] = Int32GetDatum(count);
	rc = SPI_execute_plan(plan, values, nulls, true, count);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the change feed: %s", SPI_result_code_string(rc));
	n = SPI_processed;

	bundle = feed_container(FEED_OBJECT, 4, bundle_keys);
	links = feed_container(FEED_ARRAY, 3, NULL);
	entries = feed_container(FEED_ARRAY, n, NULL);
	bundle.kids[0] = links;
	bundle.kids[1] = feed_string("history");
	bundle.kids[2] = entries;
	bundle.kids[3] = feed_string("Bundle");
	for (row = 0; row < n; row++)
	{
		Datum		col[6];
		bool		isnull[6];
		char	   *id;
		text	   *operation;
		bool		is_update;
		char	   *modified;
		FeedNode   *entry = &entries.kids[row];
		FeedNode   *request;
		FeedNode   *response;

		/* id, xid, version_id, operation, resource, recorded_at */
		heap_deform_tuple(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
		id = TextDatumGetCString(col[0]);
		operation = DatumGetTextPP(col[3]);
		is_update = VARSIZE_ANY_EXHDR(operation) == 6 && memcmp(VARDATA_ANY(operation), "update", 6) == 0;
		modified = feed_instant(DatumGetTimestampTz(col[5]));
		*entry = feed_container(FEED_OBJECT, 4, entry_keys);
		entry->kids[0] = feed_string(psprintf("%sTask/%s", prefix, id));
		request = &entry->kids[1];
		*request = feed_container(FEED_OBJECT, 2, request_keys);
		request->kids[0] = feed_string(is_update ? psprintf("Task/%s", id) : "Task");
		request->kids[1] = feed_string(is_update ? "PUT" : "POST");
		if (isnull[4])			/* resource is NOT NULL; kept safe anyway */
			entry->kids[2].kind = FEED_NULL;
		else
		{
			entry->kids[2].kind = FEED_STORED;
			entry->kids[2].stored = DatumGetJsonbP(col[4]);
			stored_size += VARSIZE(entry->kids[2].stored);
			if (ar.active)
				omnitask_audit_add_task(&ar, id, entry->kids[2].stored);
		}
		/* an infinite recorded_at (only a restore can store one) has no instant */
		response = &entry->kids[3];
		*response = feed_container(FEED_OBJECT, modified ? 3 : 2, response_keys);
		response->kids[0] = feed_string(psprintf("W/\"%d\"", DatumGetInt32(col[2])));
		response->kids[1] = feed_string(is_update ? "200" : "201");
		if (modified)
			response->kids[2] = feed_string(modified);
		if (row == n - 1)
			last_pos = encode_cursor(psprintf(UINT64_FORMAT,
											  U64FromFullTransactionId(DatumGetFullTransactionId(col[1]))),
									 DatumGetInt32(col[2]), id);
	}

	omnitask_audit_end(&ar, "ok");

	/* with no new version, the next link keeps the cursor given */
	if (last_pos == NULL)
		last_pos = cursor_str;
	links.kids[0] = feed_link("self", psprintf("%sTask/_history?_count=%d%s%s", prefix, count,
											   cursor_str ? "&_cursor=" : "", cursor_str ? cursor_str : ""));
	links.kids[1] = feed_link("first", psprintf("%sTask/_history?_count=%d", prefix, count));
	links.kids[2] = feed_link("next", psprintf("%sTask/_history?_count=%d%s%s", prefix, count,
											   last_pos ? "&_cursor=" : "", last_pos ? last_pos : ""));

	/* encoded once, into the caller's context; SPI_finish frees the rest */
	MemoryContextSwitchTo(callerctx);
	initStringInfo(&buf);
	/*
	 * sized once for the page: the printer reserves twice a resource's
	 * stored size before printing it (jsonb_print), about 1.25 times of it
	 * is written
	 */
	enlargeStringInfo(&buf, Min(2 * stored_size + 1024 * (n + 1), 64 * 1024 * 1024));
	appendStringInfoSpaces(&buf, VARHDRSZ);
	if (as_text)
		feed_print(&buf, &bundle);
	else
		feed_encode(&buf, &bundle, &root);
	SET_VARSIZE(buf.data, buf.len);
	SPI_finish();
	PG_RETURN_POINTER(buf.data);
}

/*
 * A stored row of omnitask.task as a composite datum for the history
 * insert, its compressed and out-of-line values expanded: the row an AFTER
 * trigger gets is read back from the table, where the resource is mostly
 * pglz-compressed, and a compressed value is stored as it comes; the
 * history keeps versions uncompressed (toast_tuple_target, see the 0.6
 * script) so that a change-feed page does not decompress its resources.
 */
Datum
feed_history_row(HeapTuple tuple, TupleDesc desc)
{
	return toast_flatten_tuple_to_datum(tuple->t_data, tuple->t_len, desc);
}

/*
 * omnitask.task_changes(_cursor text, _count integer) -> jsonb: a page of
 * the change feed as a jsonb Bundle.
 */
Datum
omnitask_task_changes(PG_FUNCTION_ARGS)
{
	return feed_page(fcinfo, false);
}

/*
 * omnitask.task_changes_json(_cursor text, _count integer) -> json: the
 * same page as the text jsonb_out gives for it, without printing a jsonb.
 */
Datum
omnitask_task_changes_json(PG_FUNCTION_ARGS)
{
	return feed_page(fcinfo, true);
}
