/*-------------------------------------------------------------------------
 *
 * task_rules.c
 *	  The rules a write of a task must follow beyond being a valid FHIR
 *	  Task: who may write it and to whom it may be assigned (access), and
 *	  which status changes are allowed (workflow).
 *
 * Called by the BEFORE trigger after validation, so they hold for every
 * write path.  Errors follow the contract: 42501 for the role, PT409 for a
 * refused transition, 23514 (with an OperationOutcome) for an invalid
 * owner or a missing reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog.h"
#include "task_columns.h"
#include "task_old_version.h"
#include "task_profile.h"
#include "task_rules.h"
#include "workflow.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#define ERRCODE_OMNI_CONFLICT	MAKE_SQLSTATE('P','T','4','0','9')

/*
 * Refuses a write by a caller who may not write tasks at all: auditors,
 * roles without an omnitask role, and practitioner roles that are not a
 * registered active practitioner.
 */
void
task_check_caller(const OmniCaller *c)
{
	if (!c->is_admin && !c->is_practitioner)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write tasks"),
				 c->is_auditor ?
				 errdetail("Role \"%s\" is an auditor; only admins and practitioners write tasks.",
						   c->role_name) :
				 errdetail("Role \"%s\" has no omnitask role; only admins and practitioners write tasks.",
						   c->role_name)));
	if (!c->is_admin && c->practitioner_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write tasks"),
				 errdetail("Role \"%s\" is not a registered active practitioner.", c->role_name),
				 errhint("An admin registers practitioners with omnitask.register_practitioner().")));
}

/* True when the slice equals the NUL-terminated s (NULL matches absent). */
static bool
same_id(FhirSlice a, const char *s)
{
	if (a.s == NULL || s == NULL)
		return a.s == NULL && s == NULL;
	return fhir_slice_eq(a, s);
}

/*
 * Checks that an update leaves the immutable elements as they were: id,
 * intent, authoredOn, for and requester.  They are compared with the old
 * row's derived columns (references by their target, times as instants).
 */
void
task_check_immutable(const TaskWrite *w, FhirResult *res, HeapTuple oldtup,
					 TupleDesc desc, const int *att, TimestampTz authored)
{
	bool		isnull;
	Datum		d;
	TaskFacts  *f = &res->facts;
	const char *id = w->id;
	Oid			intent = omnitask_enum_oid(OMNI_ENUM_INTENT, f->intent);
	FhirSlice	patient = task_reference_id(f->for_ref, "Patient");
	FhirSlice	requester = f->requester_ref;

	if (f->id.s && !fhir_slice_eq(f->id, id))
	{
		StringInfoData buf;

		initStringInfo(&buf);
		fhir_append_quoted(&buf, f->id.s, f->id.len);
		fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.id",
					   "Task.id %s does not match the id of the task being updated", buf.data);
	}
	d = heap_getattr(oldtup, att[COL_INTENT], desc, &isnull);
	if (!isnull && DatumGetObjectId(d) != intent)
		fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.intent",
					   "Task.intent cannot be changed by an update");
	d = heap_getattr(oldtup, att[COL_AUTHORED_ON], desc, &isnull);
	if (!isnull && DatumGetTimestampTz(d) != authored)
		fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.authoredOn",
					   "Task.authoredOn cannot be changed by an update (it was %s)",
					   omnitask_fhir_instant(DatumGetTimestampTz(d)));
	d = heap_getattr(oldtup, att[COL_PATIENT_ID], desc, &isnull);
	if (isnull != (patient.s == NULL) ||
		(!isnull && !fhir_slice_eq(patient, TextDatumGetCString(d))))
		fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.for",
					   "Task.for cannot be changed by an update");
	d = heap_getattr(oldtup, att[COL_REQUESTER], desc, &isnull);
	if (isnull != (requester.s == NULL) ||
		(!isnull && !fhir_slice_eq(requester, TextDatumGetCString(d))))
		fhir_add_issue(res, FHIR_SEV_ERROR, "invariant", "Task.requester",
					   "Task.requester cannot be changed by an update");
}

/*
 * The owner rules: a practitioner creates tasks for themselves only and
 * never reassigns; any new owner must be a registered active practitioner
 * (an import may name an inactive one: it records the past).
 */
void
task_check_owner(const TaskWrite *w, FhirResult *res)
{
	const OmniCaller *c = w->caller;
	FhirSlice	owner = task_reference_id(res->facts.owner_ref, "Practitioner");
	bool		changed = w->is_insert || !same_id(owner, w->old_owner);
	bool		active;

	if (!c->is_admin)
	{
		if (w->is_insert && !fhir_slice_eq(owner, c->practitioner_id))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("practitioners create tasks only for themselves"),
					 owner.s ?
					 errdetail("Task.owner is \"Practitioner/%.*s\"; you are \"Practitioner/%s\".",
							   owner.len, owner.s, c->practitioner_id) :
					 errdetail("Task.owner names no practitioner; you are \"Practitioner/%s\".",
							   c->practitioner_id),
					 errhint("Leave Task.owner out to own the task yourself, or ask an admin to assign it.")));
		if (!w->is_insert && changed)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("practitioners cannot reassign tasks"),
					 w->old_owner ?
					 errdetail("Task \"%s\" is owned by \"Practitioner/%s\".", w->id, w->old_owner) :
					 errdetail("Task \"%s\" has no owner.", w->id),
					 errhint("Ask an admin to reassign it.")));
	}
	if (changed && owner.s != NULL)
	{
		if (!omnitask_practitioner_known(owner, &active))
			fhir_add_issue(res, FHIR_SEV_ERROR, "value", "Task.owner",
						   "\"Practitioner/%.*s\" is not a registered practitioner",
						   owner.len, owner.s);
		else if (!active && !w->is_import)
			fhir_add_issue(res, FHIR_SEV_ERROR, "value", "Task.owner",
						   "\"Practitioner/%.*s\" is not active: no new tasks may be assigned to them",
						   owner.len, owner.s);
	}
}

/*
 * The status rules of the workflow in force: the status a task is created
 * in, the transitions open to the caller, and the reason some states need.
 */
void
task_check_workflow(const TaskWrite *w, FhirResult *res)
{
	const Workflow *wf = workflow_current();
	const OmniCaller *c = w->caller;
	int			to = task_status_index(res->facts.status.s, res->facts.status.len);
	uint8		bits = 0;

	if (w->is_import)
		return;
	if (w->is_insert)
	{
		if (!(wf->creatable & (UINT32_C(1) << to)))
			ereport(ERROR,
					(errcode(ERRCODE_OMNI_CONFLICT),
					 errmsg("a task cannot be created in status \"%s\"", task_status_code(to)),
					 errhint("Create it in one of: %s.", workflow_creatable(wf))));
	}
	else if (to != w->old_status)
	{
		if (c->is_admin)
			bits |= WF_ROLE_ADMIN;
		if (c->is_practitioner && c->practitioner_id[0] &&
			w->old_owner && strcmp(w->old_owner, c->practitioner_id) == 0)
			bits |= WF_ROLE_PRACTITIONER;
		if (!(wf->roles[w->old_status][to] & bits))
		{
			char	   *reachable = workflow_reachable(wf, w->old_status, bits);

			ereport(ERROR,
					(errcode(ERRCODE_OMNI_CONFLICT),
					 errmsg("cannot change the status of task \"%s\" from \"%s\" to \"%s\"",
							w->id, task_status_code(w->old_status), task_status_code(to)),
					 c->is_admin ?
					 errdetail("The workflow does not open this transition to admins.") :
					 bits ?
					 errdetail("The workflow does not open this transition to practitioners.") :
					 errdetail("Practitioners change the status of their own tasks only."),
					 reachable[0] ?
					 errhint("From \"%s\" you may move to: %s.", task_status_code(w->old_status), reachable) :
					 errhint("No status change is open to you from \"%s\".", task_status_code(w->old_status))));
		}
	}
	if ((w->is_insert || to != w->old_status) &&
		(wf->reason_required & (UINT32_C(1) << to)) && !res->facts.has_status_reason)
		fhir_add_issue(res, FHIR_SEV_ERROR, "required", "Task.statusReason",
					   "a reason is required to move a task to %s", task_status_code(to));
}

/* True when two jsonb values (scalars or containers) are equal. */
static bool
jsonb_values_equal(JsonbValue *a, JsonbValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
													 NumericGetDatum(a->val.numeric),
													 NumericGetDatum(b->val.numeric))) == 0;
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

/* True when the old note array is a prefix of the new one. */
static bool
notes_appended(JsonbValue *old_note, JsonbValue *new_note)
{
	uint32		i,
				n;

	if (old_note == NULL)
		return true;
	if (new_note == NULL || old_note->type != jbvBinary || new_note->type != jbvBinary)
		return false;
	n = JsonContainerSize(old_note->val.binary.data);
	if (JsonContainerSize(new_note->val.binary.data) < n)
		return false;
	for (i = 0; i < n; i++)
	{
		if (!jsonb_values_equal(getIthJsonbValueFromContainer(old_note->val.binary.data, i),
								getIthJsonbValueFromContainer(new_note->val.binary.data, i)))
			return false;
	}
	return true;
}

/* Keys a write may change on a terminal task (besides appending notes). */
static bool
terminal_key_free(const char *key, int len, bool status_changed)
{
	if ((len == 12 && memcmp(key, "lastModified", 12) == 0) ||
		(len == 4 && memcmp(key, "note", 4) == 0))
		return true;
	return status_changed &&
		((len == 6 && memcmp(key, "status", 6) == 0) ||
		 (len == 12 && memcmp(key, "statusReason", 12) == 0));
}

/*
 * True when two meta elements are equal but for the server-owned versionId
 * and lastUpdated.
 */
static bool
meta_equal(JsonbValue *a, JsonbValue *b)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			pass;

	if (a == NULL || b == NULL || a->type != jbvBinary || b->type != jbvBinary)
		return jsonb_values_equal(a, b);
	for (pass = 0; pass < 2; pass++)
	{
		JsonbValue *x = pass == 0 ? a : b;
		JsonbValue *y = pass == 0 ? b : a;

		it = JsonbIteratorInit(x->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &v, true);
			if ((k.val.string.len == 9 && memcmp(k.val.string.val, "versionId", 9) == 0) ||
				(k.val.string.len == 11 && memcmp(k.val.string.val, "lastUpdated", 11) == 0))
				continue;
			if (!jsonb_values_equal(&v, getKeyJsonValueFromContainer(y->val.binary.data,
																	 k.val.string.val,
																	 k.val.string.len, NULL)))
				return false;
		}
	}
	return true;
}

/* The first root key of a whose value differs in b, or NULL. */
static char *
first_changed_key(Jsonb *a, Jsonb *b, bool status_changed)
{
	JsonbIterator *it = JsonbIteratorInit(&a->root);
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		if (terminal_key_free(k.val.string.val, k.val.string.len, status_changed))
			continue;
		if (k.val.string.len == 4 && memcmp(k.val.string.val, "meta", 4) == 0)
		{
			if (!meta_equal(&v, getKeyJsonValueFromContainer(&b->root, "meta", 4, NULL)))
				return pstrdup("meta");
			continue;
		}
		if (!jsonb_values_equal(&v, getKeyJsonValueFromContainer(&b->root, k.val.string.val,
																 k.val.string.len, NULL)))
			return pnstrdup(k.val.string.val, k.val.string.len);
	}
	return NULL;
}

/*
 * A task in a terminal status takes no change but the transitions the
 * workflow opens from it (the admin's entered-in-error) and notes appended
 * to Task.note.
 */
void
task_check_terminal(const TaskWrite *w, FhirResult *res, Jsonb *new_doc)
{
	Jsonb	   *old_doc;
	const Workflow *wf = workflow_current();
	int			to = task_status_index(res->facts.status.s, res->facts.status.len);
	bool		status_changed = (to != w->old_status);
	char	   *changed;

	if (w->is_insert || !(wf->terminal & (UINT32_C(1) << w->old_status)))
		return;
	old_doc = task_old_version(w->old_resource);
	changed = first_changed_key(old_doc, new_doc, status_changed);
	if (changed == NULL)
		changed = first_changed_key(new_doc, old_doc, status_changed);
	if (changed == NULL &&
		!notes_appended(getKeyJsonValueFromContainer(&old_doc->root, "note", 4, NULL),
						getKeyJsonValueFromContainer(&new_doc->root, "note", 4, NULL)))
		changed = "note";
	if (changed)
		ereport(ERROR,
				(errcode(ERRCODE_OMNI_CONFLICT),
				 errmsg("Task.%s of task \"%s\" cannot be changed in terminal status \"%s\"",
						changed, w->id, task_status_code(w->old_status)),
				 (wf->roles[w->old_status][task_status_index("entered-in-error", 16)] & WF_ROLE_ADMIN) ?
				 errdetail("A task in a terminal status takes no change but appended notes and an admin's entered-in-error.") :
				 errdetail("A task in a terminal status takes no change but appended notes."),
				 errhint("Append to Task.note to record what happened after it ended.")));
}
