-- omnitask sample-data generator: realistic FHIR R4 Task resources for care coordination.
--
--   psql -v n=300 -v seed=42 -v practitioners=20 -v patients=200 -f test/sample/generate.sql
--
-- Variables (all optional): n (tasks, default 300), seed (default 42), practitioners (default 20),
-- patients (default 200), asof (reference day 'YYYY-MM-DD', default today in UTC).
-- Dates are relative to asof: pass -v asof=... to get byte-identical output on another day.
-- Needs the omnitask extension installed; run as a superuser. Task ids are t-0000001 .. t-{n};
-- ids already present in omnitask.task are skipped, so a rerun only adds the missing ones.
--
-- Randomness: every value is a pure function of (seed, task number, slot) via hashint8extended(),
-- not random()/setseed(), so the output does not depend on plan, evaluation order or parallelism,
-- and task t-0000042 is the same whether n is 300 or 1,000,000.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?n}
\else
\set n 300
\endif
\if :{?seed}
\else
\set seed 42
\endif
\if :{?practitioners}
\else
\set practitioners 20
\endif
\if :{?patients}
\else
\set patients 200
\endif
\if :{?asof}
\else
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS asof \gset
\endif

SET client_encoding = 'UTF8';
SET client_min_messages = warning;
SET jit = off;
SET datestyle = 'ISO, YMD';

SELECT :n::bigint AS n, :seed::bigint AS seed, :practitioners::int AS practitioners,
       :patients::int AS patients, :'asof'::date AS asof
\gset
\echo omnitask sample: n=:n seed=:seed practitioners=:practitioners patients=:patients asof=:asof
SELECT (:n >= 0 AND :practitioners >= 1 AND :patients >= 1) AS args_ok \gset
\if :args_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'generate.sql: need n >= 0, practitioners >= 1, patients >= 1'; END $$;
\endif

-- ---------------------------------------------------------------------------------------------
-- Helpers (session-local, all inlinable SQL)
-- ---------------------------------------------------------------------------------------------

-- uniform double in [0,1) from (key, slot, seed)
CREATE FUNCTION pg_temp.u(k bigint, slot int, seed bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((hashint8extended(k * 1000 + slot, seed) >> 11) & 9007199254740991)::float8
             / 9007199254740992::float8 $$;

-- element of a text array chosen by u in [0,1)
CREATE FUNCTION pg_temp.pick(a text[], u float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT a[1 + floor(u * cardinality(a))::int] $$;

-- zero-padded number, never truncated
CREATE FUNCTION pg_temp.pad(k bigint, w int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT lpad(k::text, greatest(w, length(k::text)), '0') $$;

-- FHIR dateTime from a UTC timestamp
CREATE FUNCTION pg_temp.dt(ts timestamp) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') $$;

CREATE FUNCTION pg_temp.given(u float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_temp.pick(ARRAY['Amara','James','Mei','Carlos','Fatima','Oliver','Priya','Kwame',
  'Sofia','Liam','Aisha','Noah','Yuki','Mateo','Hannah','Ravi','Elena','Daniel','Zainab','Lucas',
  'Ingrid','Omar','Chloe','Tomasz','Grace','Diego','Leila','Samuel','Anika','Ethan','Nadia',
  'Hiroshi','Isabel','Kofi','Maya','Andrei','Rosa','Benjamin','Thandiwe','Marcus','Lucía','Felix',
  'Ngozi','Arjun','Clara','Emeka','Sara','Jonas','Margaret','Walter','Dorothy','Harold'], u) $$;

CREATE FUNCTION pg_temp.family(u float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_temp.pick(ARRAY['Okafor','Smith','Chen','García','Khan','Müller','Patel','Mensah',
  'Rossi','Johnson','Nguyen','Kim','Tanaka','Hernández','Ahmed','Kowalski','Anderson','Silva',
  'Ivanova','O''Brien','Haddad','Schmidt','Williams','Novak','Brown','Lopez','Mbeki','Jensen',
  'Singh','Dubois','Cohen','Yamamoto','Ferreira','Adeyemi','Larsen','Park','Costa','Murphy',
  'Nakamura','Rahman','Fischer','Martin','Osei','Reyes','Walker','Eriksson','Abubakar','Taylor'], u) $$;

-- practitioner k's display name (independent of seed, so the registry and tasks always agree)
CREATE FUNCTION pg_temp.practitioner_name(k bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE k % 7
               WHEN 2 THEN g || ' ' || f || ', RN'
               WHEN 4 THEN g || ' ' || f || ', NP'
               WHEN 5 THEN g || ' ' || f || ', PharmD'
               WHEN 6 THEN g || ' ' || f || ', MSW'
               ELSE 'Dr. ' || g || ' ' || f
             END
        FROM (SELECT pg_temp.given(pg_temp.u(k, 1, 7001)) AS g,
                     pg_temp.family(pg_temp.u(k, 2, 7001)) AS f) s $$;

\set QUIET off
-- ---------------------------------------------------------------------------------------------
-- 1. Practitioner registry
-- ---------------------------------------------------------------------------------------------
INSERT INTO omnitask.practitioner (id, role_name, display)
SELECT 'pr-' || pg_temp.pad(k, 4), 'pract_' || pg_temp.pad(k, 4), pg_temp.practitioner_name(k)
FROM generate_series(1, :practitioners) AS k
ORDER BY k
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- 2. Tasks
-- ---------------------------------------------------------------------------------------------
\timing on
WITH prac AS MATERIALIZED (
    -- displays as registered (an existing row wins), indexed 1..practitioners
    SELECT array_agg('Practitioner/pr-' || pg_temp.pad(k, 4) ORDER BY k) AS refs,
           array_agg(coalesce(nullif(p.display, ''), pg_temp.practitioner_name(k)) ORDER BY k) AS names
    FROM generate_series(1, :practitioners) AS k
    LEFT JOIN omnitask.practitioner p ON p.id = 'pr-' || pg_temp.pad(k, 4)
),
-- layer 1: categorical draws
a AS (
    SELECT i,
           CASE WHEN u1 < 0.22 THEN 1 WHEN u1 < 0.40 THEN 2 WHEN u1 < 0.62 THEN 3
                WHEN u1 < 0.77 THEN 4 WHEN u1 < 0.90 THEN 5 ELSE 6 END AS cat,
           CASE WHEN u2 < 0.60 THEN 'routine' WHEN u2 < 0.85 THEN 'urgent'
                WHEN u2 < 0.95 THEN 'asap' ELSE 'stat' END AS prio,
           CASE WHEN u3 < 0.15 THEN 'requested'  WHEN u3 < 0.22 THEN 'received'
                WHEN u3 < 0.32 THEN 'accepted'   WHEN u3 < 0.39 THEN 'ready'
                WHEN u3 < 0.55 THEN 'in-progress' WHEN u3 < 0.60 THEN 'on-hold'
                WHEN u3 < 0.63 THEN 'draft'      WHEN u3 < 0.88 THEN 'completed'
                WHEN u3 < 0.94 THEN 'cancelled'  WHEN u3 < 0.98 THEN 'rejected'
                ELSE 'failed' END AS status,
           1 + floor(:patients * pg_temp.u(i, 4, :seed) ^ 1.3)::int AS pn,
           1 + floor(:practitioners * pg_temp.u(i, 5, :seed))::int AS req,
           1 + floor(:practitioners * pg_temp.u(i, 6, :seed))::int AS own0,
           pg_temp.u(i, 7, :seed) AS u_unassigned,
           pg_temp.u(i, 8, :seed) AS u_age,
           floor(11 * 3600 * pg_temp.u(i, 9, :seed))::int AS tod_s,
           pg_temp.u(i, 10, :seed) AS u_lm,
           pg_temp.u(i, 11, :seed) AS u_due,
           pg_temp.u(i, 12, :seed) AS u_win,
           pg_temp.u(i, 13, :seed) AS u_start,
           pg_temp.u(i, 14, :seed) AS u_end,
           floor(7 * pg_temp.u(i, 15, :seed) ^ 1.5)::int AS nnotes,
           CASE WHEN u16 < 0.35 THEN 0 WHEN u16 < 0.65 THEN 1 WHEN u16 < 0.90 THEN 2 ELSE 3 END AS ninputs,
           floor(5 * pg_temp.u(i, 17, :seed))::int AS tmpl,
           pg_temp.u(i, 18, :seed) AS u_topic,
           pg_temp.u(i, 19, :seed) AS u_ward,
           1 + floor(13 * pg_temp.u(i, 20, :seed))::int AS lab,
           pg_temp.u(i, 21, :seed) AS u_labval,
           pg_temp.u(i, 22, :seed) AS u_ident,
           pg_temp.u(i, 23, :seed) AS u_bs,
           pg_temp.u(i, 24, :seed) AS u_bs2,
           pg_temp.u(i, 25, :seed) AS u_pt,
           pg_temp.u(i, 26, :seed) AS u_reason,
           pg_temp.u(i, 27, :seed) AS u_out,
           pg_temp.u(i, 28, :seed) AS u_out2,
           pg_temp.u(i, 29, :seed) ^ 3 AS verbosity
    FROM (SELECT i, pg_temp.u(i, 1, :seed) AS u1, pg_temp.u(i, 2, :seed) AS u2,
                 pg_temp.u(i, 3, :seed) AS u3, pg_temp.u(i, 16, :seed) AS u16
          FROM generate_series(1, :n::bigint) AS i
          WHERE NOT EXISTS (SELECT 1 FROM omnitask.task t WHERE t.resource->>'id' = 't-' || pg_temp.pad(i, 7))
          OFFSET 0) s
    OFFSET 0
),
-- layer 2: people and times (UTC, whole seconds)
b AS (
    SELECT a.*,
           CASE WHEN status IN ('draft', 'requested', 'received') AND u_unassigned < 0.2 THEN NULL ELSE own0 END AS own,
           t0 - make_interval(days => CASE WHEN status IN ('completed', 'cancelled', 'rejected', 'failed')
                                           THEN 1 + floor(90 * u_age ^ 0.8)::int
                                           -- open tasks are younger, the more so the higher the priority
                                           ELSE 1 + floor(CASE prio WHEN 'stat' THEN 2 WHEN 'asap' THEN 4
                                                                    WHEN 'urgent' THEN 20 ELSE 90 END
                                                          * u_age ^ 2.5)::int END)
              + make_interval(secs => 7 * 3600 + tod_s) AS authored,   -- working hours 07:00-18:00
           t0
    FROM a, (SELECT date_trunc('day', :'asof'::timestamp) AS t0) z
    OFFSET 0
),
c AS (
    SELECT b.*,
           authored + make_interval(secs => floor(extract(epoch FROM t0 - authored) *
               CASE WHEN status IN ('draft', 'requested') THEN CASE WHEN u_lm < 0.6 THEN 0 ELSE u_lm ^ 4 END
                    WHEN status IN ('received', 'accepted', 'ready') THEN u_lm ^ 3
                    ELSE u_lm ^ 1.5 END)) AS lm,
           -- due date (restriction.period.end) for most non-draft tasks, window by priority
           CASE WHEN status <> 'draft' AND (prio IN ('stat', 'asap') OR u_due < 0.82) THEN
               date_trunc('hour', authored + make_interval(secs => CASE prio
                   WHEN 'stat'   THEN 3600 + floor(3 * 3600 * u_win)
                   WHEN 'asap'   THEN 4 * 3600 + floor(20 * 3600 * u_win)
                   WHEN 'urgent' THEN 86400 + floor(3 * 86400 * u_win)
                   ELSE 5 * 86400 + floor(35 * 86400 * u_win) END)) + interval '1 hour'
           END AS due
    FROM b
    OFFSET 0
),
d AS (
    SELECT c.*,
           CASE WHEN status IN ('in-progress', 'on-hold', 'completed', 'failed')
                  OR (status = 'cancelled' AND u_start < 0.3)
                THEN authored + make_interval(secs => floor(extract(epoch FROM lm - authored) * 0.5 * u_start))
           END AS xstart,
           (ARRAY['care-coordination', 'medication-reconciliation', 'lab-follow-up',
                  'patient-outreach', 'documentation', 'referral-management'])[cat] AS cat_code,
           (ARRAY['Care coordination', 'Medication reconciliation', 'Lab result follow-up',
                  'Patient outreach', 'Clinical documentation', 'Referral management'])[cat] AS cat_display,
           pg_temp.given(pg_temp.u(pn, 1, 7002)) || ' ' || pg_temp.family(pg_temp.u(pn, 2, 7002)) AS pname,
           CASE cat
             WHEN 1 THEN pg_temp.pick(ARRAY['home health nursing visits', 'hospital bed and pressure mattress delivery',
                 'transport to dialysis three times weekly', 'skilled nursing facility placement', 'hospice evaluation',
                 'home oxygen setup', 'Meals on Wheels enrollment', 'wound care supplies',
                 'outpatient cardiac rehabilitation', 'home safety evaluation'], u_topic)
             WHEN 2 THEN pg_temp.pick(ARRAY['apixaban 5 mg twice daily', 'metformin 1000 mg twice daily',
                 'furosemide 40 mg daily', 'lisinopril 10 mg daily', 'insulin glargine 22 units at bedtime',
                 'atorvastatin 40 mg nightly', 'levothyroxine 75 mcg daily', 'warfarin (dose per INR)',
                 'sertraline 50 mg daily', 'metoprolol succinate 50 mg daily', 'tiotropium inhaler once daily',
                 'gabapentin 300 mg three times daily'], u_topic)
             WHEN 3 THEN (ARRAY['potassium', 'sodium', 'hemoglobin A1c', 'INR', 'creatinine', 'hemoglobin', 'TSH',
                 'LDL cholesterol', 'troponin I', '25-hydroxy vitamin D', 'platelet count', 'eGFR',
                 'fasting glucose'])[lab]
             WHEN 4 THEN pg_temp.pick(ARRAY['overdue screening mammogram', 'overdue diabetic eye exam',
                 'influenza vaccination', 'missed cardiology follow-up appointment',
                 'colorectal cancer screening (FIT kit not returned)', 'overdue hemoglobin A1c test',
                 'annual wellness visit', 'post-discharge check-in', 'pneumococcal vaccination',
                 'blood pressure recheck after medication change'], u_topic)
             WHEN 5 THEN pg_temp.pick(ARRAY['discharge summary', 'prior authorization form for MRI lumbar spine',
                 'POLST / advance directive', 'home health plan of care (CMS-485)',
                 'transitional care management note', 'FMLA disability paperwork',
                 'durable medical equipment order for a walker', 'care plan update',
                 'school medication authorization form', 'hospice certification of terminal illness'], u_topic)
             ELSE pg_temp.pick(ARRAY['cardiology', 'nephrology', 'endocrinology', 'dermatology', 'orthopedic surgery',
                 'gastroenterology', 'pulmonology', 'neurology', 'physical therapy', 'behavioral health',
                 'podiatry', 'sleep medicine'], u_topic)
           END AS topic,
           pg_temp.pick(ARRAY['the cardiology ward', 'the general medicine ward', 'the orthopedic surgery unit',
               'the ICU step-down unit', 'the oncology ward', 'the emergency department', 'the respiratory ward',
               'the stroke unit', 'the geriatric medicine ward', 'the surgical ward'], u_ward) AS ward,
           round(((ARRAY[5.9, 128, 9.4, 4.2, 2.1, 7.8, 8.6, 190, 0.09, 11, 62, 28, 212])[lab]
                  * (1 + (ARRAY[0.08, -0.05, 0.25, 0.3, 0.4, -0.15, 0.5, 0.15, 0.8, -0.35, -0.3, -0.3, 0.3])[lab]
                       * u_labval::numeric)),
                 (ARRAY[1, 0, 1, 1, 1, 1, 1, 0, 2, 0, 0, 0, 0])[lab]) AS labval,
           to_char(authored - make_interval(days => floor(3 * u_labval)::int), 'YYYY-MM-DD') AS labdate
    FROM c
    OFFSET 0
),
e AS (
    SELECT d.*,
           CASE WHEN status IN ('completed', 'failed') AND xstart IS NOT NULL
                THEN xstart + make_interval(secs => floor(extract(epoch FROM lm - xstart) * (0.85 + 0.15 * u_end)))
           END AS xend,
           labval || (ARRAY[' mmol/L', ' mmol/L', '%', '', ' mg/dL', ' g/dL', ' mIU/L', ' mg/dL', ' ng/mL',
                            ' ng/mL', ' x10^3/uL', ' mL/min/1.73m2', ' mg/dL'])[lab] AS labstr,
           'pr-' || pg_temp.pad(req, 4) AS req_id,
           'pr-' || pg_temp.pad(own, 4) AS own_id,
           CASE WHEN u_pt < 0.3 THEN pg_temp.pick(ARRAY['Performer', 'Performer', 'Scheduler', 'Reviewer'], u_pt / 0.3) END AS pt
    FROM d
    OFFSET 0
),
f AS (
    SELECT e.*,
           CASE cat
             WHEN 1 THEN CASE tmpl
               WHEN 0 THEN format('Arrange %s after discharge from %s', topic, ward)
               WHEN 1 THEN format('Coordinate %s with family and primary care team', topic)
               WHEN 2 THEN format('Confirm arrangements for %s before discharge from %s', topic, ward)
               WHEN 3 THEN format('Set up primary care follow-up within 7 days of discharge from %s', ward)
               ELSE format('Organize a family care conference to plan %s', topic) END
             WHEN 2 THEN CASE tmpl
               WHEN 0 THEN format('Reconcile home medications after discharge from %s', ward)
               WHEN 1 THEN format('Verify dose of %s against the discharge medication list', topic)
               WHEN 2 THEN format('Resolve duplicate therapy: %s appears on both inpatient and outpatient lists', topic)
               WHEN 3 THEN format('Review medication list with patient by phone and confirm adherence to %s', topic)
               ELSE format('Update medication list after new prescription for %s', topic) END
             WHEN 3 THEN CASE tmpl
               WHEN 0 THEN format('Follow up abnormal %s %s from %s', topic, labstr, labdate)
               WHEN 1 THEN format('Notify patient of %s result (%s) and arrange a repeat test', topic, labstr)
               WHEN 2 THEN format('Review critical %s %s with the ordering provider', topic, labstr)
               WHEN 3 THEN format('Schedule repeat %s within 1 week; last result %s on %s', topic, labstr, labdate)
               ELSE format('Abnormal %s %s from %s: confirm plan with primary care provider', topic, labstr, labdate) END
             WHEN 4 THEN CASE tmpl
               WHEN 0 THEN format('Call patient regarding %s', topic)
               WHEN 1 THEN format('Send portal message and letter about %s', topic)
               WHEN 2 THEN format('Second outreach attempt for %s; no answer on first call', topic)
               WHEN 3 THEN format('Contact caregiver about %s', topic)
               ELSE format('Outreach for %s flagged in the care gap report', topic) END
             WHEN 5 THEN CASE tmpl
               WHEN 0 THEN format('Complete and sign %s', topic)
               WHEN 1 THEN format('Scan and file %s into the chart', topic)
               WHEN 2 THEN format('Obtain missing signature on %s', topic)
               WHEN 3 THEN format('Correct patient demographics on %s before submission', topic)
               ELSE format('Update %s after the care conference on %s', topic, labdate) END
             ELSE CASE tmpl
               WHEN 0 THEN format('Send referral to %s with recent notes and labs', topic)
               WHEN 1 THEN format('Track %s referral: appointment not yet scheduled', topic)
               WHEN 2 THEN format('Obtain insurance authorization for %s consultation', topic)
               WHEN 3 THEN format('Request consult note from %s after visit on %s', topic, labdate)
               ELSE format('Find an in-network %s provider accepting new patients', topic) END
           END AS descr
    FROM e
    OFFSET 0
)
SELECT count(omnitask.import_task(doc)) AS imported
FROM (
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'resourceType', 'Task',
    'id', 't-' || pg_temp.pad(i, 7),
    'identifier', CASE WHEN u_ident < 0.85 THEN jsonb_build_array(jsonb_build_object(
        'use', 'official', 'system', 'https://omnitask.dev/fhir/task-id',
        'value', 'OT-' || to_char(authored, 'YYYY') || '-' || pg_temp.pad(i, 7))) END,
    'status', status,
    'statusReason', CASE status
        WHEN 'cancelled' THEN jsonb_build_object('text', pg_temp.pick(ARRAY['Duplicate task',
            'Order discontinued by provider', 'Patient transferred to another facility',
            'No longer clinically indicated', 'Patient declined services', 'Patient moved out of the service area'], u_reason))
        WHEN 'rejected' THEN jsonb_build_object('text', pg_temp.pick(ARRAY['Outside the scope of the care coordination team',
            'Insufficient information to act; please resubmit with details', 'Wrong patient selected',
            'Assigned to the wrong team'], u_reason))
        WHEN 'failed' THEN jsonb_build_object('text', CASE WHEN u_reason < 0.3 THEN 'Unable to reach patient after 3 attempts'
            ELSE (CASE cat
                WHEN 1 THEN ARRAY['Home health agency has no capacity in the patient''s area', 'Family declined the proposed facility']
                WHEN 2 THEN ARRAY['Pharmacy unable to supply medication', 'Prescriber not available to resolve the discrepancy']
                WHEN 3 THEN ARRAY['Patient did not attend the repeat blood draw', 'Specimen rejected by the lab (hemolyzed)']
                WHEN 4 THEN ARRAY['Phone number disconnected; no alternate contact', 'Patient declined further contact']
                WHEN 5 THEN ARRAY['Payer rejected the form twice; escalated to practice manager', 'Signing provider no longer with the practice']
                ELSE ARRAY['Specialist office not accepting new patients', 'Insurance denied authorization']
              END)[1 + floor((u_reason - 0.3) / 0.35)::int] END)
      END,
    'businessStatus', CASE WHEN u_bs < 0.45 THEN CASE
        WHEN status IN ('requested', 'received') THEN jsonb_build_object('text',
            pg_temp.pick(ARRAY['Awaiting triage', 'Awaiting assignment', 'Waiting for more information from requester'], u_bs2))
        WHEN status IN ('accepted', 'ready') THEN jsonb_build_object('text',
            pg_temp.pick(ARRAY['Scheduled for today', 'Queued for next outreach block', 'Waiting for clinic hours'], u_bs2))
        WHEN status = 'in-progress' THEN jsonb_build_object('text',
            pg_temp.pick(ARRAY['Awaiting callback', 'Left voicemail', 'Waiting for pharmacy response',
                'Request sent, awaiting confirmation', 'Waiting for provider signature'], u_bs2))
        WHEN status = 'on-hold' THEN jsonb_build_object('text',
            pg_temp.pick(ARRAY['Patient admitted to hospital', 'Awaiting insurance authorization',
                'Patient traveling until next month', 'Waiting for outside records'], u_bs2))
        WHEN status = 'completed' THEN jsonb_build_object('text',
            pg_temp.pick(ARRAY['Closed - resolved', 'Closed - patient informed'], u_bs2))
      END END,
    'intent', 'order',
    'priority', prio,
    'code', jsonb_build_object(
        'coding', jsonb_build_array(jsonb_build_object(
            'system', 'https://omnitask.dev/fhir/CodeSystem/care-task-category',
            'code', cat_code, 'display', cat_display)),
        'text', cat_display),
    'description', descr,
    'for', jsonb_build_object('reference', 'Patient/pat-' || pg_temp.pad(pn, 5), 'display', pname),
    'executionPeriod', CASE WHEN xstart IS NOT NULL THEN
        jsonb_build_object('start', pg_temp.dt(xstart), 'end', pg_temp.dt(xend)) END,
    'authoredOn', pg_temp.dt(authored),
    'lastModified', pg_temp.dt(lm),
    'requester', jsonb_build_object('reference', 'Practitioner/' || req_id, 'display', prac.names[req]),
    'performerType', CASE WHEN pt IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
        'coding', jsonb_build_array(jsonb_build_object(
            'system', 'http://terminology.hl7.org/CodeSystem/task-performer-type', 'code', lower(pt), 'display', pt)),
        'text', pt)) END,
    'owner', CASE WHEN own IS NOT NULL THEN
        jsonb_build_object('reference', 'Practitioner/' || own_id, 'display', prac.names[own]) END,
    'note', notes.j,
    'restriction', CASE WHEN due IS NOT NULL THEN
        jsonb_build_object('period', jsonb_build_object('end', pg_temp.dt(due))) END,
    'input', inputs.j,
    'output', CASE WHEN status = 'completed' AND u_out < 0.6 THEN jsonb_build_array(jsonb_build_object(
        'type', jsonb_build_object('text', 'Outcome'),
        'valueString', CASE cat
            WHEN 1 THEN pg_temp.pick(ARRAY['Service start confirmed with the agency', 'Equipment delivered and set up',
                'Arrangements confirmed with patient and family'], u_out2)
            WHEN 2 THEN pg_temp.pick(ARRAY['Medication list reconciled; 2 discrepancies resolved',
                'No discrepancies found', 'Duplicate therapy stopped after prescriber review'], u_out2)
            WHEN 3 THEN pg_temp.pick(ARRAY['Repeat test ordered and patient informed',
                'Provider reviewed; dose adjusted', 'Patient notified; no further action'], u_out2)
            WHEN 4 THEN pg_temp.pick(ARRAY['Appointment booked', 'Patient reached; declined for now',
                'Scheduled at the community pharmacy'], u_out2)
            WHEN 5 THEN pg_temp.pick(ARRAY['Signed and filed in the chart', 'Form submitted to payer',
                'Document uploaded to the record'], u_out2)
            ELSE pg_temp.pick(ARRAY['Appointment scheduled with specialist', 'Consult note received and filed',
                'Referral authorized by payer'], u_out2)
          END)) END
  )) AS doc
  FROM f
  CROSS JOIN prac
  -- 0-6 notes, in time order, between authoredOn and lastModified
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
             'authorReference', jsonb_build_object('reference', prac.refs[au],
                                                   'display', prac.names[au]),
             'time', pg_temp.dt(f.authored + make_interval(secs =>
                         floor(extract(epoch FROM f.lm - f.authored) * (k - 1 + uk) / f.nnotes))),
             -- short or medium notes; long category-specific ones more often on 'verbose' tasks
             'text', CASE WHEN ul < 0.08 + 0.6 * f.verbosity THEN
                            CASE WHEN uv < 0.5 THEN l WHEN uv < 0.8 THEN l || ' ' || s ELSE l || ' ' || m END
                          ELSE
                            CASE WHEN uv < 0.45 THEN s WHEN uv < 0.8 THEN m ELSE m || ' ' || s END
                     END)
           ORDER BY k) AS j
    FROM (
      SELECT k, uk, ul, uv,
             -- first note by the requester, later ones mostly by the owner, some by colleagues
             CASE WHEN k = 1 THEN f.req
                  WHEN f.own IS NOT NULL AND ua < 0.75 THEN f.own
                  ELSE 1 + floor(:practitioners * uo)::int END AS au,
             pg_temp.pick(ARRAY['Left voicemail on mobile number.', 'Patient confirmed details by phone.',
                 'Awaiting callback from clinic.', 'Faxed request to outside office.', 'Discussed at morning huddle.',
                 'Daughter updated by phone.', 'Reassigned to cover for leave.', 'No answer; will retry tomorrow.',
                 'Portal message sent.', 'Chart reviewed; no new orders.', 'Spoke with patient.',
                 'Escalated to supervising physician.'], us) AS s,
             CASE WHEN um < 0.5 THEN pg_temp.pick(ARRAY[
                 'Called patient at the number on file; no answer after two attempts. Left a message asking to call the care coordination line.',
                 'Patient prefers morning calls and asked that her son be included on future calls.',
                 'Reviewed with the covering physician, who agrees with the plan and asked for an update by end of week.',
                 'Interpreter services booked for the follow-up call.',
                 'Outside records requested from the previous primary care office; expected within 5 business days.',
                 'Discussed at the interdisciplinary huddle; no change to the plan, will recheck at the end of the week.'], 2 * um)
             ELSE (CASE f.cat
                 WHEN 1 THEN ARRAY['Home health agency accepted the referral and will schedule the start-of-care visit within 48 hours.',
                                   'Equipment vendor confirmed a delivery window on Friday morning; the patient''s son will be home.']
                 WHEN 2 THEN ARRAY['Pharmacy confirmed the last fill date and quantity; discrepancy documented in the medication list.',
                                   'Patient asked to bring all pill bottles, including supplements, to the next visit.']
                 WHEN 3 THEN ARRAY['Repeat test ordered by the provider; patient to go to the lab before 10:00 after fasting overnight.',
                                   'Result forwarded to the ordering provider with the previous three values for comparison.']
                 WHEN 4 THEN ARRAY['Letter mailed to the address on file with the scheduling line number.',
                                   'Patient answered and asked to be called back after 17:00 on weekdays.']
                 WHEN 5 THEN ARRAY['Form routed to the ordering provider for signature; reminder sent through the inbox.',
                                   'Insurance requires prior authorization; form submitted through the payer portal and reference number recorded.']
                 ELSE ARRAY['Spoke with the clinic scheduler, who will call the patient directly to book the first available appointment.',
                            'Referral packet faxed with the last two clinic notes and recent imaging; receipt confirmed.']
               END)[1 + floor(4 * (um - 0.5))::int]
             END AS m,
             (CASE f.cat
                WHEN 1 THEN ARRAY[
                 'Care conference held with patient, spouse, primary nurse and social worker. Discussed goals of care, home support and equipment needs. Family prefers discharge home with home health rather than a facility; social worker will complete the agency referral today and confirm the equipment delivery date.',
                 'Home health agency called back: they can start visits on Thursday but need a signed face-to-face encounter note and an updated medication list before the first visit. Sent both through the referral portal, confirmed receipt by phone, and told the patient''s son to expect a call from the intake nurse to set the time.',
                 'Patient lives alone and her daughter works nights. Discussed a personal emergency response pendant and an automatic medication dispenser with the family, who agreed to both. Social worker submitted the applications and will check eligibility for additional home care hours through the county program; follow-up call planned for next week.']
                WHEN 2 THEN ARRAY[
                 'Reviewed the chart with the covering physician. The outpatient list still shows the pre-admission dose and the discharge summary lists a different one; the hospitalist confirmed the discharge dose is intended. Updated the medication list, asked the pharmacy to cancel the old prescription, and informed the patient by phone, who repeated the instructions back correctly.',
                 'Compared the discharge list with the pharmacy fill history and the bottles the patient brought in. Found an old prescription still being filled at a second pharmacy and an over-the-counter NSAID taken daily for knee pain. Discussed the risks with the patient, asked the second pharmacy to inactivate the old prescription, and sent a summary to the primary care provider.',
                 'Pharmacist phone review completed: patient was taking two beta blockers after discharge because the outpatient prescription was never stopped. Contacted the primary care provider, who stopped the older one; pharmacy notified and patient told to bring the old bottle to the next visit for disposal. Blood pressure log requested for the next two weeks.']
                WHEN 3 THEN ARRAY[
                 'Lab called with the critical value at 14:20. Provider paged and called back within 10 minutes; plan is to repeat the test tomorrow morning and hold the current dose until the result is reviewed. Patient informed, verbalized understanding, and has transport arranged for the blood draw.',
                 'Result reviewed with the primary care provider, who wants a repeat level and a basic metabolic panel within 3 days and asked whether the patient is still taking the supplement started last month. Patient reached on the second call, confirmed the supplement and agreed to stop it. Lab appointment booked for Thursday morning at the draw station closest to home.',
                 'Patient missed the repeat blood draw because of a transport problem. Rebooked for tomorrow at 08:00 with the hospital shuttle and added a reminder call for this evening. The provider asked to be notified directly if the result is still out of range, and a standing order was placed so the lab does not need a new requisition.']
                WHEN 4 THEN ARRAY[
                 'Third attempt to reach the patient. Mobile number goes straight to voicemail and the home number is disconnected. Checked the registration record for alternate contacts and found an emergency contact (sister); left a message asking the patient to call back. Will send a letter to the address on file and close the outreach if there is no response in 14 days.',
                 'Spoke with patient and daughter for about 15 minutes. Patient reports feeling more tired since discharge and has not yet picked up the new prescriptions because the pharmacy needed a prior authorization. Reviewed warning signs (shortness of breath, weight gain over 2 kg in 3 days, chest pain) and when to call 911. Daughter will drive her to the follow-up appointment.',
                 'Patient reached on the third attempt. She had received the letter but thought the appointment was optional. Explained why it matters, answered questions about cost (covered by her plan) and booked the first slot that fits around her work schedule. Reminder texts enabled; the care gap will close in the registry once the visit is attended.']
                WHEN 5 THEN ARRAY[
                 'Form returned by the payer as incomplete: the diagnosis code and the date of the last conservative treatment were missing. Pulled both from the last two clinic notes, corrected the form, routed it to the ordering provider for signature and resubmitted through the portal. Reference number recorded in the chart; decision expected within 72 hours.',
                 'Discharge summary was missing the final medication list and the pending results section. Messaged the discharging hospitalist, who added both and re-signed the document. Filed the corrected version, sent a copy to the primary care office and the home health agency, and confirmed by phone that the agency received the updated list.',
                 'Advance care planning discussion completed with the patient and health care proxy present. Patient wants to continue current treatment but declines intubation; form completed, signed by the patient and the physician, and a scanned copy uploaded to the chart. Original given to the patient; copies sent to the home health agency and the primary care office.']
                ELSE ARRAY[
                 'Specialist office reports a 6-week wait for new patients. Asked for the cancellation list and faxed the referral, recent notes, imaging report and last two sets of labs. Patient agrees to a telehealth first visit if offered earlier. Reminder set to check the referral status on Monday.',
                 'Referral was returned by the specialist office because the insurance on file had expired. Confirmed the new plan details with the patient, verified eligibility online, and found the specialist is out of network for the new plan. Patient chose an in-network practice 20 minutes closer to home; new referral sent with records.',
                 'Specialist asked for a recent echocardiogram before the first visit. Ordered by the primary care provider and scheduled for next Tuesday; the specialist office will hold the referral until the report is available. Patient informed of both dates and agreed to arrive 20 minutes early for registration.']
              END)[1 + (k - 1 + floor(3 * ul2)::int) % 3] AS l
      FROM (SELECT k, pg_temp.u(f.i, 100 + 10 * k, :seed) AS uk, pg_temp.u(f.i, 101 + 10 * k, :seed) AS ul,
                   pg_temp.u(f.i, 102 + 10 * k, :seed) AS ua, pg_temp.u(f.i, 103 + 10 * k, :seed) AS us,
                   pg_temp.u(f.i, 104 + 10 * k, :seed) AS um, pg_temp.u(f.i, 105 + 10 * k, :seed) AS ul2,
                   pg_temp.u(f.i, 106 + 10 * k, :seed) AS uo, pg_temp.u(f.i, 107 + 10 * k, :seed) AS uv
            FROM generate_series(1, f.nnotes) AS k) r
    ) nk
  ) notes
  -- 0-3 inputs: category-specific first and second, then a general one
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(CASE
             WHEN jx = 3 THEN CASE floor(4 * ug)::int
               WHEN 0 THEN jsonb_build_object('type', jsonb_build_object('text', 'Preferred contact method'),
                   'valueString', pg_temp.pick(ARRAY['Mobile phone, mornings before 11:00', 'Patient portal message',
                       'Home phone; daughter usually answers', 'Text message only', 'Email; patient is hard of hearing'], uv))
               WHEN 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Interpreter needed'),
                   'valueString', pg_temp.pick(ARRAY['Spanish', 'Mandarin', 'Arabic', 'Polish', 'Vietnamese', 'Somali',
                       'American Sign Language', 'Haitian Creole'], uv))
               WHEN 2 THEN jsonb_build_object('type', jsonb_build_object('text', 'Encounter'),
                   'valueReference', jsonb_build_object('reference', 'Encounter/enc-' || pg_temp.pad(f.i, 7),
                       'display', 'Inpatient stay, ' || f.ward))
               ELSE jsonb_build_object('type', jsonb_build_object('text', 'Care plan'),
                   'valueReference', jsonb_build_object('reference', 'CarePlan/cp-' || pg_temp.pad(f.pn, 5),
                       'display', 'Transitional care plan'))
             END
             WHEN f.cat = 1 AND jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Requested service'),
                 'valueString', f.topic)
             WHEN f.cat = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Discharge date'),
                 'valueDateTime', pg_temp.dt(date_trunc('minute', f.authored - make_interval(secs => floor(172800 * uv)))))
             WHEN f.cat = 2 AND jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Medication'),
                 'valueReference', jsonb_build_object('reference', 'MedicationRequest/mr-' || pg_temp.pad(f.i, 7),
                     'display', f.topic))
             WHEN f.cat = 2 THEN jsonb_build_object('type', jsonb_build_object('text', 'Medication list source'),
                 'valueString', pg_temp.pick(ARRAY['Patient-reported', 'Pharmacy fill history', 'Hospital discharge summary',
                     'Caregiver-provided list', 'Outside pharmacy records'], uv))
             WHEN f.cat = 3 AND jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Lab result'),
                 'valueReference', jsonb_build_object('reference', 'Observation/obs-' || pg_temp.pad(f.i, 7),
                     'display', f.topic || ' ' || f.labstr))
             WHEN f.cat = 3 THEN jsonb_build_object('type', jsonb_build_object('text', 'Result value'),
                 'valueQuantity', jsonb_build_object('value', f.labval,
                     'unit', (ARRAY['mmol/L', 'mmol/L', '%', 'INR', 'mg/dL', 'g/dL', 'mIU/L', 'mg/dL', 'ng/mL', 'ng/mL',
                                    '10^3/uL', 'mL/min/1.73m2', 'mg/dL'])[f.lab],
                     'system', 'http://unitsofmeasure.org',
                     'code', (ARRAY['mmol/L', 'mmol/L', '%', '{INR}', 'mg/dL', 'g/dL', 'm[IU]/L', 'mg/dL', 'ng/mL', 'ng/mL',
                                    '10*3/uL', 'mL/min/{1.73_m2}', 'mg/dL'])[f.lab]))
             WHEN f.cat = 4 AND jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Outreach reason'),
                 'valueString', f.topic)
             WHEN f.cat = 4 THEN jsonb_build_object('type', jsonb_build_object('text', 'Contact attempts'),
                 'valueQuantity', jsonb_build_object('value', 1 + floor(3 * uv)::int, 'unit', 'attempts'))
             WHEN f.cat = 5 AND jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Document'),
                 'valueReference', jsonb_build_object('reference', 'DocumentReference/doc-' || pg_temp.pad(f.i, 7),
                     'display', f.topic))
             WHEN f.cat = 5 THEN jsonb_build_object('type', jsonb_build_object('text', 'Submission deadline'),
                 'valueDateTime', pg_temp.dt(date_trunc('day', f.authored) + make_interval(days => 7 + floor(14 * uv)::int, hours => 17)))
             WHEN jx = 1 THEN jsonb_build_object('type', jsonb_build_object('text', 'Referral'),
                 'valueReference', jsonb_build_object('reference', 'ServiceRequest/sr-' || pg_temp.pad(f.i, 7),
                     'display', 'Referral to ' || f.topic))
             ELSE jsonb_build_object('type', jsonb_build_object('text', 'Requested appointment by'),
                 'valueDateTime', pg_temp.dt(date_trunc('day', f.authored) + make_interval(days => 14 + floor(28 * uv)::int, hours => 9)))
           END ORDER BY jx) AS j
    FROM (SELECT jx, pg_temp.u(f.i, 200 + 10 * jx, :seed) AS ug, pg_temp.u(f.i, 201 + 10 * jx, :seed) AS uv
          FROM generate_series(1, f.ninputs) AS jx) r
  ) inputs
) s;
\timing off

-- ---------------------------------------------------------------------------------------------
-- 3. Summary over the sample tasks t-0000001 .. t-{n} now stored
-- ---------------------------------------------------------------------------------------------
-- one pass over omnitask.task into a small temp table, then the reports read that
\set QUIET on
CREATE TEMP TABLE omnitask_sample AS
SELECT resource#>>'{code,coding,0,code}' AS category,
       resource->>'priority' AS priority,
       resource->>'status' AS status,
       octet_length(resource::text) AS text_bytes,
       pg_column_size(resource) AS stored_bytes,
       resource ? 'owner' AS assigned,
       resource->>'status' IN ('draft', 'requested', 'received', 'accepted', 'ready', 'in-progress', 'on-hold') AS open,
       (resource#>>'{restriction,period,end}')::timestamptz AS due,
       jsonb_array_length(coalesce(resource->'note', '[]')) AS notes,
       jsonb_array_length(coalesce(resource->'input', '[]')) AS inputs
FROM omnitask.task
WHERE CASE WHEN resource->>'id' ~ '^t-[0-9]{1,18}$' THEN substr(resource->>'id', 3)::bigint <= :n END;

\echo
\echo omnitask sample: tasks per category, priority and status
SELECT dimension, value, tasks, round(100.0 * tasks / sum(tasks) OVER (PARTITION BY dimension), 1) AS pct
FROM (
  SELECT CASE WHEN grouping(category) = 0 THEN '1 category' WHEN grouping(priority) = 0 THEN '2 priority'
              ELSE '3 status' END AS dimension,
         coalesce(category, priority, status) AS value, count(*) AS tasks
  FROM omnitask_sample
  GROUP BY GROUPING SETS ((category), (priority), (status))
) g
ORDER BY dimension, tasks DESC;

\echo omnitask sample: document sizes in bytes (text = resource::text, stored = pg_column_size)
SELECT count(*) AS tasks,
       min(text_bytes) AS min_text, round(avg(text_bytes)) AS avg_text,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY text_bytes) AS median_text,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY text_bytes) AS p99_text,
       max(text_bytes) AS max_text,
       min(stored_bytes) AS min_stored, round(avg(stored_bytes)) AS avg_stored, max(stored_bytes) AS max_stored
FROM omnitask_sample;

\echo omnitask sample: other shares (percent of tasks; overdue relative to asof)
SELECT round(100.0 * count(*) FILTER (WHERE NOT assigned) / nullif(count(*), 0), 1) AS unassigned,
       round(100.0 * count(*) FILTER (WHERE due IS NOT NULL) / nullif(count(*), 0), 1) AS with_due,
       round(100.0 * count(*) FILTER (WHERE open AND due < :'asof'::timestamp AT TIME ZONE 'UTC') / nullif(count(*), 0), 1) AS open_overdue,
       round(100.0 * count(*) FILTER (WHERE open AND due >= :'asof'::timestamp AT TIME ZONE 'UTC') / nullif(count(*), 0), 1) AS open_due_later,
       round(avg(notes), 2) AS avg_notes,
       round(avg(inputs), 2) AS avg_inputs
FROM omnitask_sample;

DROP TABLE omnitask_sample;
\set QUIET off
