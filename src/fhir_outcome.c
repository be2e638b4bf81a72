/*-------------------------------------------------------------------------
 *
 * fhir_outcome.c
 *	  The issues of a validation and the FHIR OperationOutcome that reports
 *	  them: recording an issue (capped), quoting hostile values for
 *	  diagnostics, and building the OperationOutcome as jsonb or text.
 *
 * The validator's walk (fhir_validate.c) and the rules on top of it
 * (task_profile.c, task_rules.c) record issues here; the callers that
 * answer or raise them build the outcome here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fhir_outcome.h"
#include "fhir_validate.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* Longest FHIRPath kept in an issue before it is cut. */
#define MAX_EXPRESSION		1024

/* Longest value quoted in a diagnostic before it is cut. */
#define MAX_QUOTED			64

/*
 * A palloc'd string formatted from fmt and args (vsnprintf into a growing
 * buffer), for the messages of issues and errors.
 */
char *
fhir_vformat(const char *fmt, va_list args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/*
 * True when the issue list is full; the error the caller was about to report
 * is then counted, so that it need not format anything (a document with a
 * million bad references costs a counter, not a million strings).
 */
bool
fhir_issues_full(FhirResult *res)
{
	if (res->nissues < FHIR_MAX_ISSUES)
		return false;
	res->nerrors++;
	res->truncated = true;
	return true;
}

/* Records an issue whose diagnostics are already formatted. */
void
fhir_add_issue_text(FhirResult *res, FhirSeverity sev, const char *code,
		  const char *expression, char *diagnostics)
{
	FhirIssue  *issue;

	if (sev == FHIR_SEV_ERROR)
		res->nerrors++;
	if (res->nissues >= FHIR_MAX_ISSUES)
	{
		res->truncated = true;
		return;
	}
	issue = &res->issues[res->nissues++];
	issue->severity = sev;
	issue->code = code;
	issue->diagnostics = diagnostics;
	if (strlen(expression) > MAX_EXPRESSION)
	{
		int			n = MAX_EXPRESSION;

		while (n > 0 && (expression[n] & 0xC0) == 0x80)
			n--;
		issue->expression = psprintf("%.*s...", n, expression);
	}
	else
		issue->expression = pstrdup(expression);
}

/*
 * Records one issue.  The issue list is capped so that a hostile document
 * cannot make the outcome itself huge.
 */
void
fhir_add_issue(FhirResult *res, FhirSeverity sev, const char *code,
			   const char *expression, const char *fmt,...)
{
	va_list		args;
	char	   *diagnostics;

	va_start(args, fmt);
	diagnostics = fhir_vformat(fmt, args);
	va_end(args);
	fhir_add_issue_text(res, sev, code, expression, diagnostics);
}

/*
 * Appends a value to a diagnostic in double quotes, cut to MAX_QUOTED bytes
 * (on a UTF-8 boundary) and with control characters escaped, so hostile
 * values cannot flood or garble error messages.
 */
void
fhir_append_quoted(StringInfo buf, const char *s, int len)
{
	int			n = Min(len, MAX_QUOTED);
	int			i;

	while (n < len && n > 0 && (s[n] & 0xC0) == 0x80)
		n--;
	appendStringInfoChar(buf, '"');
	for (i = 0; i < n; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch < 0x20 || ch == 0x7f)
			appendStringInfo(buf, "\\u%04x", ch);
		else if (ch == '"' || ch == '\\')
		{
			appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, (char) ch);
		}
		else
			appendStringInfoChar(buf, (char) ch);
	}
	if (n < len)
		appendStringInfoString(buf, "...");
	appendStringInfoChar(buf, '"');
}

/*
 * A quoted, cut copy of a value for a diagnostic.  The copy is sized to the
 * text: a StringInfo's 1 kB would otherwise stay allocated per diagnostic,
 * and a document with 100,000 bad values made 100 MB of them.
 */
char *
fhir_quoted(const char *s, int len)
{
	StringInfoData buf;
	char	   *copy;

	initStringInfo(&buf);
	fhir_append_quoted(&buf, s, len);
	copy = pnstrdup(buf.data, buf.len);
	pfree(buf.data);
	return copy;
}

/* The first issue of severity error, or NULL. */
const FhirIssue *
fhir_first_error(const FhirResult *res)
{
	int			i;

	for (i = 0; i < res->nissues; i++)
		if (res->issues[i].severity == FHIR_SEV_ERROR)
			return &res->issues[i];
	return NULL;
}

/* Pushes one string token (a key, a value or an element). */
void
fhir_push_string(JsonbParseState **ps, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	pushJsonbValue(ps, tok, &v);
}

/* Pushes one OperationOutcome.issue (expression may be NULL). */
static void
push_issue(JsonbParseState **ps, const char *severity, const char *code,
		   const char *diagnostics, const char *expression)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(ps, "severity", severity);
	fhir_push_pair(ps, "code", code);
	fhir_push_pair(ps, "diagnostics", diagnostics);
	if (expression)
	{
		fhir_push_string(ps, WJB_KEY, "expression");
		pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
		fhir_push_string(ps, WJB_ELEM, expression);
		pushJsonbValue(ps, WJB_END_ARRAY, NULL);
	}
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/*
 * The result as a FHIR OperationOutcome.  A valid document gets one
 * informational issue, since OperationOutcome.issue is 1..*.
 */
Jsonb *
fhir_outcome_jsonb(const FhirResult *res)
{
	static const char *const sevnames[] = {"error", "warning", "information"};
	JsonbParseState *ps = NULL;
	JsonbValue *root;
	int			i;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	fhir_push_pair(&ps, "resourceType", "OperationOutcome");
	fhir_push_string(&ps, WJB_KEY, "issue");
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < res->nissues; i++)
	{
		const FhirIssue *is = &res->issues[i];

		push_issue(&ps, sevnames[is->severity], is->code, is->diagnostics,
				   is->expression);
	}
	if (res->truncated)
		push_issue(&ps, "error", "too-costly",
				   psprintf("%d problems found; only the first %d are listed",
							res->nerrors, FHIR_MAX_ISSUES), NULL);
	if (res->nissues == 0)
		push_issue(&ps, "information", "informational", "the Task is valid", NULL);
	pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	root = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(root);
}

/* The OperationOutcome as JSON text, for an error's detail. */
char *
fhir_outcome_text(const FhirResult *res)
{
	Jsonb	   *jb = fhir_outcome_jsonb(res);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* Pushes "key": "value" (both strings) to a jsonb under construction. */
void
fhir_push_pair(JsonbParseState **ps, const char *key, const char *value)
{
	fhir_push_string(ps, WJB_KEY, key);
	fhir_push_string(ps, WJB_VALUE, value);
}
