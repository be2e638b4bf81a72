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


/*
 * Notifications on Citus.  A shard sends no NOTIFY (it would reach only
 * that worker's listeners, and a transaction that NOTIFYs cannot PREPARE,
 * so every transaction writing on two workers would fail).  The change
 * feed cannot carry them either: its positions are the xids of the node
 * that stored each version, and the workers' xids are unrelated, so one
 * cursor over all shards skips versions of a worker whose xids are behind.
 * What does hold is the feed's proof on each shard alone: a shard's
 * versions are written by the worker holding it, and every transaction
 * with an xid below that worker's xmin has ended there (a transaction
 * prepared for two-phase commit is still running on the worker until
 * COMMIT PREPARED).  So the relay keeps one position per shard, reads
 * each shard on its worker (run_command_on_shards: one query per shard,
 * the bound evaluated with the worker's own snapshot), NOTIFYs what it
 * read on the coordinator and commits.  Its positions live in the
 * procedure's memory; it starts from what is stored when it starts.
 */
CREATE PROCEDURE omnitask.citus_notify_relay(poll interval DEFAULT '100 ms', run_for interval DEFAULT NULL)
	LANGUAGE plpgsql AS
$$
DECLARE
	-- shard id -> its position, [xid, id, version_id]: the last version read
	pos jsonb := '{}';
	-- run on each shard (run_command_on_shards puts the shard's name for
	-- %1$s): the versions after the shard's position and below its worker's
	-- xmin, at most 10000 in position order, as [versions in (id,
	-- version_id) order, the last position].  Ordered by task for the
	-- notifications: a transaction whose xid was assigned before it waited
	-- for another's row lock stores the task's next version under a lower
	-- xid; both become readable together (each ended before xmin passed).
	page_query text := $q$WITH page AS (
			SELECT h.xid, h.id, h.version_id FROM %%1$s h
			  LEFT JOIN (VALUES %s) p(shard, xid, id, version_id)
				ON p.shard = pg_catalog.substring('%%1$s', '_([0-9]+)"?$')::bigint
			  WHERE (p.shard IS NULL OR (h.xid, h.id, h.version_id) > (p.xid, p.id, p.version_id))
				AND h.xid < (pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::pg_catalog.text::pg_catalog.numeric
							 + (SELECT s.shift FROM omnitask.feed_shift s))::pg_catalog.text::pg_catalog.xid8
			  ORDER BY h.xid %s, h.id %s, h.version_id %s LIMIT %s)
		SELECT pg_catalog.json_build_array(
			COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(g.id, g.version_id) ORDER BY g.id, g.version_id), '[]'),
			(SELECT pg_catalog.json_build_array(l.xid::pg_catalog.text, l.id, l.version_id) FROM page l
			 ORDER BY l.xid DESC, l.id DESC, l.version_id DESC LIMIT 1))
		FROM page g$q$;
	until timestamptz := CASE WHEN run_for IS NULL THEN NULL ELSE pg_catalog.clock_timestamp() + run_for END;
	distributed boolean;
	started boolean := false;
	positions text;
	dir text;
	r record;
	v jsonb;
	last jsonb;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'extension "citus" is not installed in this database',
			HINT = 'On a single node omnitask sends every notification itself (omnitask.notify).';
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''omnitask.task_history''::pg_catalog.regclass)'
		INTO distributed;
	IF NOT distributed THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'omnitask.task_history is not distributed',
			HINT = 'Run omnitask.distribute() first.';
	END IF;
	LOOP
		SELECT pg_catalog.string_agg(pg_catalog.format('(%s::bigint, %L::pg_catalog.xid8, %L, %s)',
					e.key, e.value ->> 0, e.value ->> 1, e.value ->> 2), ', ')
			INTO positions FROM pg_catalog.jsonb_each(pos) e;
		-- the first pass finds where each shard stands: its last version
		dir := CASE WHEN started THEN 'ASC' ELSE 'DESC' END;
		FOR r IN EXECUTE 'SELECT r.shardid, r.success, r.result FROM pg_catalog.run_command_on_shards(''omnitask.task_history'', $1) r ORDER BY r.shardid'
			USING pg_catalog.format(page_query, COALESCE(positions, '(NULL::bigint, NULL::pg_catalog.xid8, NULL::text, NULL::integer)'),
									dir, dir, dir, CASE WHEN started THEN 10000 ELSE 1 END)
		LOOP
			IF NOT r.success THEN
				RAISE EXCEPTION USING ERRCODE = 'connection_failure',
					MESSAGE = pg_catalog.format('could not read shard %s of omnitask.task_history', r.shardid),
					DETAIL = r.result;
			END IF;
			IF started THEN
				FOR v IN SELECT e FROM pg_catalog.jsonb_array_elements(r.result::jsonb -> 0) e
				LOOP
					PERFORM pg_catalog.pg_notify('omnitask_task',
						pg_catalog.jsonb_build_object('id', v ->> 0, 'version', (v ->> 1)::integer)::text);
				END LOOP;
			END IF;
			last := r.result::jsonb -> 1;
			IF last IS NOT NULL AND last <> 'null' THEN
				pos := pos || pg_catalog.jsonb_build_object(r.shardid::text, last);
			END IF;
		END LOOP;
		started := true;
		COMMIT;		-- sends this pass's notifications
		EXIT WHEN until IS NOT NULL AND pg_catalog.clock_timestamp() >= until;
		PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch', poll));
	END LOOP;
END
$$;
COMMENT ON PROCEDURE omnitask.citus_notify_relay(interval, interval) IS 'Superuser, on the Citus coordinator: NOTIFY omnitask_task {"id","version"} on the coordinator for every version stored on the shards from now on, after its commit, in each task''s version order, never for rolled-back work; polls every shard every poll, for run_for (NULL: until cancelled). Run it in a session of its own (CALL omnitask.citus_notify_relay()).';
REVOKE ALL ON PROCEDURE omnitask.citus_notify_relay(interval, interval) FROM PUBLIC;

/* ======================================================================
 * Citus: search, identifiers and imports
 * ====================================================================== */


/* ======================================================================
 * Write path: validation cost
 * ====================================================================== */


/* ======================================================================
 * Write path: imports and progress
 * ====================================================================== */
