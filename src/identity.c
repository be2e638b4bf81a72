/*-------------------------------------------------------------------------
 *
 * identity.c
 *	  Who is calling: the app role (admin, practitioner, auditor) and the
 *	  practitioner id, with the practitioner registry cached per backend.
 *
 * The practitioner id is the registry row of current_user, else of
 * session_user; or, only when session_user is a member of the role named
 * by omnitask.jwt_authenticator, the claim omnitask.jwt_practitioner_claim
 * of request.jwt.claims (PostgREST's model).  A session that is not the
 * authenticator's gains nothing by setting request.jwt.claims.  An inactive
 * practitioner has no identity.
 *
 * The answer is cached across transactions, so that a row security policy
 * can call current_practitioner_id() on every row and a superuser's audited
 * read does not resolve it again per transaction.  The cache is keyed by all
 * that the answer depends on besides the catalogs: current_user (SET ROLE,
 * RESET ROLE, SECURITY DEFINER), session_user, request.jwt.claims and the two
 * omnitask.jwt_* settings (the database is fixed for a backend).  Everything
 * else it reads is a catalog or the registry, and each change of those
 * clears it through an invalidation callback: the registry's relcache entry
 * (its trigger invalidates it on every row change), and the pg_authid and
 * pg_auth_members syscaches (superuser flag, role names and drops, role
 * memberships).  An invalidation that arrives while the caller is being
 * resolved keeps the result from being cached.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_authid.h"
#include "executor/tuptable.h"
#include "identity.h"
#include "jwt_claims.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "omnitask.h"
#include "catalog.h"
#include "pg_compat.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(omnitask_current_practitioner_id);

/* Columns of omnitask.practitioner that the registry reads. */
#define Anum_practitioner_id		1
#define Anum_practitioner_role_name	2
#define Anum_practitioner_active	4

/* One registry row, keyed by role name and by id. */
typedef struct RegistryEntry
{
	char		key[2 + Max(NAMEDATALEN, PRACTITIONER_ID_MAXLEN + 1)];	/* "r:" role name, or "i:" id */
	char		id[PRACTITIONER_ID_MAXLEN + 1];
	bool		active;
} RegistryEntry;

static HTAB *registry = NULL;
static MemoryContext registry_cxt = NULL;
static bool registry_valid = false;
static Oid	registry_relid = InvalidOid;

/*
 * The cached caller and what it was resolved for.  caller_gen counts the
 * invalidations: omnitask_caller() caches a result only when none arrived
 * while it was resolving it.
 */
static OmniCaller caller;
static bool caller_valid = false;
static uint64 caller_gen = 0;
static Oid	caller_userid = InvalidOid;
static Oid	caller_session_userid = InvalidOid;
static char *caller_claims = NULL;
static char *caller_authenticator = NULL;
static char *caller_claim_name = NULL;

/* Forgets the cached caller: something it was derived from changed. */
static void
forget_caller(void)
{
	caller_valid = false;
	caller_gen++;
}

/* Forgets the registry (and the callers derived from it) when it changes. */
static void
registry_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == registry_relid)
	{
		registry_valid = false;
		forget_caller();
	}
}

/* Forgets the cached caller when a role, its flags or a membership changes. */
static void
role_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	forget_caller();
}

/* Registers the cache invalidation callbacks; called once at module load. */
void
omnitask_identity_init(void)
{
	CacheRegisterRelcacheCallback(registry_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, role_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHNAME, role_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, role_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, role_syscache_callback, (Datum) 0);
}

/*
 * Loads the registry with the latest snapshot: a registration committed by
 * another session (or made earlier in this transaction) counts at once.
 * During a parallel operation PostgreSQL forbids taking a new snapshot
 * (GetLatestSnapshot() raises "cannot update SecondarySnapshot during a
 * parallel operation"), so the query's active snapshot is read instead:
 * current_practitioner_id() is PARALLEL RESTRICTED and runs in the leader,
 * which may be in parallel mode when another part of the plan is parallel.
 */
static void
load_registry(void)
{
	HASHCTL		ctl;
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;

	if (registry_cxt == NULL)
		registry_cxt = AllocSetContextCreate(TopMemoryContext, "omnitask registry",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(registry_cxt);
	registry = NULL;
	registry_valid = false;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((RegistryEntry *) 0)->key);
	ctl.entrysize = sizeof(RegistryEntry);
	ctl.hcxt = registry_cxt;
	registry = hash_create("omnitask registry", 64, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	registry_relid = omnitask_local_relid("practitioner");
	rel = table_open(registry_relid, AccessShareLock);
	snap = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		char	   *id = TextDatumGetCString(slot_getattr(slot, Anum_practitioner_id, &isnull));
		Name		role = DatumGetName(slot_getattr(slot, Anum_practitioner_role_name, &isnull));
		bool		active = DatumGetBool(slot_getattr(slot, Anum_practitioner_active, &isnull));
		RegistryEntry *e;
		char		key[sizeof(e->key)];

		if (strlen(id) >= sizeof(e->id))
			continue;			/* the table's CHECK keeps ids short */
		snprintf(key, sizeof(key), "r:%s", NameStr(*role));
		e = hash_search(registry, key, HASH_ENTER, NULL);
		strlcpy(e->id, id, sizeof(e->id));
		e->active = active;
		snprintf(key, sizeof(key), "i:%s", id);
		e = hash_search(registry, key, HASH_ENTER, NULL);
		strlcpy(e->id, id, sizeof(e->id));
		e->active = active;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	registry_valid = true;
}

/* The registry entry of a role name or id ("r:" / "i:" prefix), or NULL. */
static RegistryEntry *
registry_lookup(char kind, const char *name, int len)
{
	char		key[sizeof(((RegistryEntry *) 0)->key)];

	if (!registry_valid)
		load_registry();
	if (len < 0)
		len = strlen(name);
	if (len + 3 > (int) sizeof(key))
		return NULL;
	key[0] = kind;
	key[1] = ':';
	memcpy(key + 2, name, len);
	key[len + 2] = '\0';
	return hash_search(registry, key, HASH_FIND, NULL);
}

/*
 * Whether practitioner id (a slice) is registered, and whether active.
 */
bool
omnitask_practitioner_known(FhirSlice id, bool *active)
{
	RegistryEntry *e = registry_lookup('i', id.s, id.len);

	*active = e ? e->active : false;
	return e != NULL;
}

/*
 * True for omnitask's own group roles: they are shared by every user of a
 * kind (PostgREST switches to them per request), so a registry row naming
 * one must never give an identity.
 */
static bool
is_group_role(const char *name)
{
	return strcmp(name, "omnitask_admin") == 0 ||
		strcmp(name, "omnitask_practitioner") == 0 ||
		strcmp(name, "omnitask_auditor") == 0;
}

/* True when the role may act as the given group role (its privileges). */
static bool
acts_as(Oid roleid, const char *group)
{
	Oid			group_oid = get_role_oid(group, true);

	return OidIsValid(group_oid) && has_privs_of_role(roleid, group_oid);
}

/*
 * Works out the caller from scratch: app role by membership (superusers act
 * as admin), practitioner id from the registry or, for the authenticator's
 * sessions only, from the JWT claims.
 */
static void
resolve_caller(const char *claims)
{
	Oid			userid = GetUserId();
	RegistryEntry *e = NULL;
	char	   *name;
	bool		authn_session = false;

	memset(&caller, 0, sizeof(caller));
	caller.is_superuser = superuser_arg(userid);
	caller.is_admin = caller.is_superuser || acts_as(userid, "omnitask_admin");
	caller.is_practitioner = acts_as(userid, "omnitask_practitioner");
	caller.is_auditor = acts_as(userid, "omnitask_auditor");
	strlcpy(caller.role_name, GetUserNameFromId(userid, false), sizeof(caller.role_name));

	/*
	 * A session of the authenticator is shared by every PostgREST request:
	 * its own roles never carry an identity, only the token's claim does.
	 */
	if (omnitask_jwt_authenticator && omnitask_jwt_authenticator[0])
	{
		Oid			auth = get_role_oid(omnitask_jwt_authenticator, true);

		authn_session = OidIsValid(auth) && is_member_of_role(GetSessionUserId(), auth);
	}
	name = GetUserNameFromId(userid, false);
	if (!is_group_role(name) && !(authn_session && userid == GetSessionUserId()))
		e = registry_lookup('r', name, -1);
	if (e == NULL && !authn_session)
	{
		name = GetUserNameFromId(GetSessionUserId(), false);
		e = is_group_role(name) ? NULL : registry_lookup('r', name, -1);
	}
	if (e == NULL && authn_session)
	{
		char	   *claimed = omnitask_claimed_practitioner(claims);

		if (claimed)
			e = registry_lookup('i', claimed, -1);
	}
	if (e != NULL && e->active)
		strlcpy(caller.practitioner_id, e->id, sizeof(caller.practitioner_id));
}

/* True when two C strings (NULL allowed) are equal. */
static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Replaces *slot by a copy of s (NULL allowed) that lives for the session. */
static void
remember_string(char **slot, const char *s)
{
	if (*slot)
		pfree(*slot);
	*slot = s ? MemoryContextStrdup(TopMemoryContext, s) : NULL;
}

/* The name of a role, or "" when there is none (dropped, or no login). */
static void
role_name_of(Oid roleid, char *dst)
{
	const char *name = OidIsValid(roleid) ? GetUserNameFromId(roleid, true) : NULL;

	strlcpy(dst, name ? name : "", NAMEDATALEN);
}

/*
 * The current caller, cached across transactions (see the head comment for
 * what the cache is keyed by and what invalidates it).  The result stays
 * valid until the next call.
 */
const OmniCaller *
omnitask_caller(void)
{
	const char *claims = GetConfigOption("request.jwt.claims", true, false);
	uint64		gen;

	if (caller_valid && caller_userid == GetUserId() &&
		caller_session_userid == GetSessionUserId() &&
		same_string(claims, caller_claims) &&
		same_string(omnitask_jwt_authenticator, caller_authenticator) &&
		same_string(omnitask_jwt_practitioner_claim, caller_claim_name))
		return &caller;

	caller_valid = false;
	gen = caller_gen;
	resolve_caller(claims);
	role_name_of(GetAuthenticatedUserId(), caller.login_role);
	role_name_of(GetSessionUserId(), caller.session_role);
	remember_string(&caller_claims, claims);
	remember_string(&caller_authenticator, omnitask_jwt_authenticator);
	remember_string(&caller_claim_name, omnitask_jwt_practitioner_claim);
	caller.claims = caller_claims;
	caller_userid = GetUserId();
	caller_session_userid = GetSessionUserId();
	caller_valid = (gen == caller_gen);
	return &caller;
}

/*
 * current_practitioner_id() -> text: the caller's practitioner id, or NULL.
 * Row security policies compare owner_id with it.
 */
Datum
omnitask_current_practitioner_id(PG_FUNCTION_ARGS)
{
	const OmniCaller *c = omnitask_caller();

	if (c->practitioner_id[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(c->practitioner_id));
}
