/*
 * omnitask 0.4 -> 0.5: FHIR over HTTP (the change feed's text form), search
 * (plan choice for common tokens), Citus (identity, notifications, ids-first
 * search, imports), and the write path (validation cost, import speed,
 * progress reporting).  CREATE EXTENSION runs 0.1, 0.1--0.2, 0.2--0.3,
 * 0.3--0.4, then this script; ALTER EXTENSION omnitask UPDATE runs the same
 * steps.  One section per piece of work, in this order.
 */

\echo Use "ALTER EXTENSION omnitask UPDATE TO '0.5'" to load this file. \quit


/* ======================================================================
 * FHIR over HTTP: the change feed
 * ====================================================================== */


/* ======================================================================
 * Search: common tokens and the 1M figures
 * ====================================================================== */


/* ======================================================================
 * Citus: identity and notifications
 * ====================================================================== */

/*
 * Per-practitioner login roles for PostgREST.  On Citus the coordinator
 * opens its worker connections as current_user, so PostgREST's switch to
 * the NOLOGIN group role named by the token cannot reach a worker, and a
 * claim set on the coordinator does not travel (nor could a worker trust
 * it).  What works is a login role per practitioner, named by the token's
 * role claim: PostgREST switches to it, the worker connection runs as it,
 * and every node finds the same registry row for current_user.  Such a role
 * has one member, the authenticator (PostgREST may only switch to roles it
 * is a member of), so the registry now accepts a role whose members are all
 * the role named by omnitask.jwt_authenticator.  Any other member could SET
 * ROLE to it and act as that practitioner: still refused.
 */
CREATE OR REPLACE FUNCTION omnitask.register_practitioner(role_name name, id text, display text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql PARALLEL UNSAFE AS
$$
DECLARE
	authenticator text := pg_catalog.current_setting('omnitask.jwt_authenticator', true);
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = register_practitioner.role_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('role "%s" does not exist', register_practitioner.role_name),
			HINT = 'Create the login role first, then register it.';
	END IF;
	IF register_practitioner.role_name = authenticator THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is the JWT authenticator', register_practitioner.role_name),
			DETAIL = 'Every PostgREST request logs in as the authenticator; its practitioner comes from the token.';
	END IF;
	IF register_practitioner.role_name IN ('omnitask_admin', 'omnitask_practitioner', 'omnitask_auditor')
	   OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
				  JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
				  JOIN pg_catalog.pg_roles u ON u.oid = m.member
				  WHERE r.rolname = register_practitioner.role_name
					AND u.rolname IS DISTINCT FROM NULLIF(authenticator, '')) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('role "%s" is a group role', register_practitioner.role_name),
			DETAIL = 'A practitioner is registered by their own role; a role with members other than the JWT authenticator is shared by many users.',
			HINT = 'Through PostgREST a practitioner needs no role of their own (their token names their id), or a login role of their own whose only member is the authenticator (on Citus).';
	END IF;
	INSERT INTO omnitask.practitioner AS p (id, role_name, display, active)
		VALUES (register_practitioner.id, register_practitioner.role_name, register_practitioner.display, true)
		ON CONFLICT ON CONSTRAINT practitioner_pkey DO UPDATE
			SET display = EXCLUDED.display, active = true
			WHERE p.role_name = EXCLUDED.role_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'unique_violation',
			MESSAGE = pg_catalog.format('practitioner "%s" is already registered for another role', register_practitioner.id);
	END IF;
END
$$;
COMMENT ON FUNCTION omnitask.register_practitioner(name, text, text) IS 'Admin only: registers (or reactivates) the practitioner id of a login role. Refuses omnitask''s group roles, the JWT authenticator, and roles with members other than the JWT authenticator (a per-practitioner PostgREST role, as Citus needs, has the authenticator as its only member). Deactivate with UPDATE omnitask.practitioner SET active = false.';


/* ======================================================================
 * Citus: search, identifiers and imports
 * ====================================================================== */


/* ======================================================================
 * Write path: validation cost
 * ====================================================================== */


/* ======================================================================
 * Write path: imports and progress
 * ====================================================================== */
