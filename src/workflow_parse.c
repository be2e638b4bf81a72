/*-------------------------------------------------------------------------
 *
 * workflow_parse.c
 *	  Parsing and checking a workflow document with json-c, and compiling
 *	  it to the transition matrix the trigger consults.
 *
 * Kept apart from the SQL-facing code because json-c's names clash with
 * PostgreSQL's function prototypes (json_object).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>
#include <json_object_iterator.h>

#include "catalog.h"
#include "fhir_tables.h"
#include "lib/stringinfo.h"
#include "workflow.h"

/* Nesting json-c accepts in a workflow document. */
#define WORKFLOW_MAX_DEPTH 1000

/*
 * Raises the error for a document that is not an acceptable workflow: the
 * detail is a complete sentence naming the offending key.
 */
static void
workflow_error(const char *fmt,...)
pg_attribute_printf(1, 2);

static void
workflow_error(const char *fmt,...)
{
	va_list		args;
	char	   *detail;

	va_start(args, fmt);
	detail = fhir_vformat(fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid workflow definition"),
			 errdetail_internal("%s", detail),
			 errhint("The workflow in force is unchanged; omnitask.workflow() shows it.")));
}

/* A status from a JSON string, or an error naming where it is. */
static int
parse_status(struct json_object *v, const char *where)
{
	const char *s;
	int			i;

	if (!json_object_is_type(v, json_type_string))
		workflow_error("Value of \"%s\" must be a status code (a string).", where);
	s = json_object_get_string(v);
	if ((size_t) json_object_get_string_len(v) != strlen(s))
		workflow_error("Status code at \"%s\" contains a NUL character.", where);
	i = task_status_index(s, strlen(s));
	if (i < 0)
		workflow_error("Unrecognized status \"%.64s\" at \"%s\".", s, where);
	return i;
}

/*
 * A list of statuses: a string or an array of strings, without repeats.
 * Returns a bit mask.
 */
static uint32
parse_status_list(struct json_object *v, const char *where, bool allow_single)
{
	uint32		mask = 0;
	size_t		i,
				n;

	if (allow_single && json_object_is_type(v, json_type_string))
		return UINT32_C(1) << parse_status(v, where);
	if (!json_object_is_type(v, json_type_array))
		workflow_error("Value of \"%s\" must be an array of status codes.", where);
	n = json_object_array_length(v);
	if (n == 0)
		workflow_error("Value of \"%s\" must not be empty.", where);
	for (i = 0; i < n; i++)
	{
		char	   *item = psprintf("%s[%zu]", where, i);
		int			s = parse_status(json_object_array_get_idx(v, i), item);

		if (mask & (UINT32_C(1) << s))
			workflow_error("Status \"%s\" is listed twice in \"%s\".", task_status_code(s), where);
		mask |= UINT32_C(1) << s;
	}
	return mask;
}

/* The role bits of a "roles" array: admin and practitioner only. */
static uint8
parse_roles(struct json_object *v, const char *where)
{
	uint8		roles = 0;
	size_t		i,
				n;

	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
		workflow_error("Value of \"%s\" must be a non-empty array of roles (\"admin\", \"practitioner\").", where);
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
	{
		struct json_object *r = json_object_array_get_idx(v, i);
		char	   *item = psprintf("%s[%zu]", where, i);
		const char *name;
		uint8		bit;

		if (!json_object_is_type(r, json_type_string))
			workflow_error("Value of \"%s\" must be a role name (a string).", item);
		name = json_object_get_string(r);
		if ((size_t) json_object_get_string_len(r) != strlen(name))
			workflow_error("Role name at \"%s\" contains a NUL character.", item);
		if (strcmp(name, "admin") == 0)
			bit = WF_ROLE_ADMIN;
		else if (strcmp(name, "practitioner") == 0)
			bit = WF_ROLE_PRACTITIONER;
		else if (strcmp(name, "auditor") == 0)
			workflow_error("Role \"auditor\" at \"%s\" cannot be given a transition: auditors write nothing.", item);
		else
			workflow_error("Unrecognized role \"%.64s\" at \"%s\". The roles are \"admin\" and \"practitioner\".", name, item);
		if (roles & bit)
			workflow_error("Role \"%s\" is listed twice in \"%s\".", name, where);
		roles |= bit;
	}
	return roles;
}

/*
 * Parses and checks a workflow document into wf.  Every problem is an error
 * (22P02 for nesting json-c refuses, with its position; 22023 otherwise,
 * naming the offending key), so a bad document never replaces a good one.
 */
void
workflow_parse(const char *text, Workflow *wf)
{
	struct json_tokener *tok;
	struct json_object *root;
	struct json_object *v;
	enum json_tokener_error jerr;
	volatile bool has_creatable = false,
				has_transitions = false;
	size_t		len = strlen(text);
	size_t		i;
	struct json_object_iterator it,
				end;

	memset(wf, 0, sizeof(*wf));
	/* as deep as PostgreSQL's json type allows in practice, not json-c's 32 */
	tok = json_tokener_new_ex(WORKFLOW_MAX_DEPTH);
	if (tok == NULL)
		elog(ERROR, "could not create a JSON parser");
	/* the terminating NUL included: it ends a top-level number */
	root = json_tokener_parse_ex(tok, text, len + 1);
	jerr = json_tokener_get_error(tok);

	/*
	 * The text is a json value already (set_workflow()'s argument, the
	 * table's column, the built-in default), so json-c fails only where it is
	 * stricter than PostgreSQL: nesting deeper than WORKFLOW_MAX_DEPTH.  A
	 * JSON null parses to NULL and is refused below as not an object.
	 */
	if (jerr != json_tokener_success)
	{
		size_t		at = json_tokener_get_parse_end(tok);

		json_tokener_free(tok);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid workflow definition"),
				 errdetail("The JSON parser stopped at character %zu: %s.",
						   at + 1, json_tokener_error_desc(jerr))));
	}
	json_tokener_free(tok);

	PG_TRY();
	{
		if (root == NULL || !json_object_is_type(root, json_type_object))
			workflow_error("The document must be a JSON object.");
		for (it = json_object_iter_begin(root), end = json_object_iter_end(root);
			 !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		{
			const char *key = json_object_iter_peek_name(&it);
			struct json_object *val = json_object_iter_peek_value(&it);

			if (strcmp(key, "creatable") == 0)
			{
				wf->creatable = parse_status_list(val, "creatable", false);
				has_creatable = true;
			}
			else if (strcmp(key, "terminal") == 0)
				wf->terminal = parse_status_list(val, "terminal", false);
			else if (strcmp(key, "reason_required") == 0)
				wf->reason_required = parse_status_list(val, "reason_required", false);
			else if (strcmp(key, "transitions") == 0)
				has_transitions = true;
			else
				workflow_error("Unrecognized key \"%.64s\". The keys are \"creatable\", \"terminal\", \"reason_required\" and \"transitions\".", key);
		}
		if (!has_creatable)
			workflow_error("Key \"creatable\" (the statuses a task may be created in) is required.");
		if (!has_transitions)
			workflow_error("Key \"transitions\" (the allowed status changes) is required.");
		if (wf->creatable & wf->terminal)
		{
			int			s;

			for (s = 0; !((wf->creatable & wf->terminal) & (UINT32_C(1) << s)); s++)
				;
			workflow_error("Terminal status \"%s\" cannot be in \"creatable\".",
						   task_status_code(s));
		}

		json_object_object_get_ex(root, "transitions", &v);
		if (!json_object_is_type(v, json_type_array))
			workflow_error("Value of \"transitions\" must be an array of objects with keys \"from\", \"to\" and \"roles\".");
		for (i = 0; i < json_object_array_length(v); i++)
		{
			struct json_object *t = json_object_array_get_idx(v, i);
			struct json_object_iterator tit,
						tend;
			char	   *where = psprintf("transitions[%zu]", i);
			struct json_object *from = NULL,
					   *to = NULL,
					   *roles = NULL;
			uint32		from_mask,
						to_mask;
			uint8		role_bits;
			int			f,
						d;

			if (!json_object_is_type(t, json_type_object))
				workflow_error("Value of \"%s\" must be an object with keys \"from\", \"to\" and \"roles\".", where);
			for (tit = json_object_iter_begin(t), tend = json_object_iter_end(t);
				 !json_object_iter_equal(&tit, &tend); json_object_iter_next(&tit))
			{
				const char *tkey = json_object_iter_peek_name(&tit);
				struct json_object *tval = json_object_iter_peek_value(&tit);

				if (strcmp(tkey, "from") == 0)
					from = tval;
				else if (strcmp(tkey, "to") == 0)
					to = tval;
				else if (strcmp(tkey, "roles") == 0)
					roles = tval;
				else
					workflow_error("Unrecognized key \"%.64s\" in \"%s\". The keys are \"from\", \"to\" and \"roles\".",
								   tkey, where);
			}
			if (!from || !to || !roles)
				workflow_error("Value of \"%s\" must have keys \"from\", \"to\" and \"roles\".", where);
			from_mask = parse_status_list(from, psprintf("%s.from", where), true);
			to_mask = parse_status_list(to, psprintf("%s.to", where), true);
			role_bits = parse_roles(roles, psprintf("%s.roles", where));
			for (f = 0; f < WF_NSTATUS; f++)
			{
				if (!(from_mask & (UINT32_C(1) << f)))
					continue;
				if (strcmp(task_status_code(f), "entered-in-error") == 0)
					workflow_error("Value of \"%s.from\" includes \"entered-in-error\", which no transition may leave.",
								   where);
				for (d = 0; d < WF_NSTATUS; d++)
				{
					if (!(to_mask & (UINT32_C(1) << d)))
						continue;
					if (f == d)
						workflow_error("Transition at \"%s\" goes from \"%s\" to itself.",
									   where, task_status_code(f));
					if (wf->roles[f][d] != 0)
						workflow_error("Transition from \"%s\" to \"%s\" is listed twice (again in \"%s\").",
									   task_status_code(f), task_status_code(d), where);
					wf->roles[f][d] = role_bits;
				}
			}
		}
	}
	PG_FINALLY();
	{
		json_object_put(root);
	}
	PG_END_TRY();
}

