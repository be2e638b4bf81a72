--
-- validate: omnitask.validate_task() against base R4 Task, rule by rule.
-- Every rule has a valid and an invalid case; the invalid ones show the
-- FHIRPath the OperationOutcome points at.
--
SET client_min_messages = warning;

-- issues of a document, one line each
CREATE FUNCTION pg_temp.issues(doc jsonb)
RETURNS TABLE (severity text, code text, expression text, diagnostics text)
LANGUAGE sql AS
$$
	SELECT i ->> 'severity', i ->> 'code', i -> 'expression' ->> 0, i ->> 'diagnostics'
	FROM jsonb_array_elements(omnitask.validate_task(doc) -> 'issue') AS i
	ORDER BY 3, 4
$$;

-- true when the document is valid (no error issue)
CREATE FUNCTION pg_temp.ok(doc jsonb) RETURNS boolean
LANGUAGE sql AS
$$
	SELECT NOT EXISTS (SELECT FROM pg_temp.issues(doc) WHERE severity IN ('error', 'fatal'))
$$;

-- a minimal valid Task to mutate
CREATE TEMP TABLE base AS SELECT
	'{"resourceType": "Task", "status": "requested", "intent": "order",
	  "description": "Call the patient about lab results",
	  "for": {"reference": "Patient/p1"}}'::jsonb AS t;

-- the official examples (copies of the R4 examples in test/fixtures)
\set ex1 `cat test/fixtures/Task-example1.json`
\set ex2 `cat test/fixtures/Task-example2.json`
\set ex3 `cat test/fixtures/Task-example3.json`
\set ex4 `cat test/fixtures/Task-example4.json`
\set ex5 `cat test/fixtures/Task-example5.json`
\set ex6 `cat test/fixtures/Task-example6.json`
\set fm1 `cat test/fixtures/Task-fm-example1.json`
\set fm2 `cat test/fixtures/Task-fm-example2.json`
\set fm3 `cat test/fixtures/Task-fm-example3.json`
\set fm4 `cat test/fixtures/Task-fm-example4.json`
\set fm5 `cat test/fixtures/Task-fm-example5.json`
\set fm6 `cat test/fixtures/Task-fm-example6.json`
SELECT name, pg_temp.ok(doc::jsonb) AS valid
FROM (VALUES ('example1', :'ex1'), ('example2', :'ex2'), ('example3', :'ex3'),
			 ('example4', :'ex4'), ('example5', :'ex5'), ('example6', :'ex6'),
			 ('fm-example1', :'fm1'), ('fm-example2', :'fm2'), ('fm-example3', :'fm3'),
			 ('fm-example4', :'fm4'), ('fm-example5', :'fm5'), ('fm-example6', :'fm6')) AS e(name, doc);

-- a valid document gets one informational issue (OperationOutcome.issue is 1..*)
SELECT omnitask.validate_task(t) FROM base;

--
-- JSON rules
--
SELECT * FROM pg_temp.issues('[]');
SELECT * FROM pg_temp.issues('"Task"');
SELECT * FROM pg_temp.issues('{}');
SELECT * FROM pg_temp.issues('{"status": "requested", "intent": "order"}');
SELECT * FROM pg_temp.issues('{"resourceType": "Patient", "status": "requested", "intent": "order"}');
SELECT * FROM pg_temp.issues('{"resourceType": 7, "status": "requested", "intent": "order"}');
SELECT i.* FROM base, pg_temp.issues(t || '{"description": null}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"description": ""}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"code": {}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"note": []}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"note": [{"text": "ok"}, null]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"code": {"coding": [{}]}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"unknownThing": 1, "Status": "x"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"code": {"text": "x", "txt": "y"}}') i;

--
-- cardinality and JSON types
--
SELECT i.* FROM base, pg_temp.issues(t - 'status') i;
SELECT i.* FROM base, pg_temp.issues(t - 'intent' - 'status') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"status": ["requested"]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"note": {"text": "not an array"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"basedOn": {"reference": "ServiceRequest/1"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"status": 1}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"description": true}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"for": "Patient/p1"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"restriction": {"repetitions": "3"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueBoolean": "true"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueString": {"x": 1}}]}') i;

--
-- required bindings
--
SELECT i.* FROM base, pg_temp.issues(t || '{"status": "done"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"intent": "request"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"priority": "high"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"priority": "Stat"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"identifier": [{"use": "primary", "value": "1"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "auto", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "dose"}, "valueQuantity": {"value": 5, "comparator": "=="}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueAddress": {"use": "holiday", "type": "both"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueContactPoint": {"system": "pager", "value": "1"}}, {"type": {"text": "b"}, "valueContactPoint": {"system": "telex", "value": "1"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueMoney": {"value": 3, "currency": "eur"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueAttachment": {"contentType": "text plain"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueTiming": {"repeat": {"periodUnit": "week", "dayOfWeek": ["monday"], "when": ["NOON"]}}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "a"}, "valueHumanName": {"use": "nick", "family": "x"}}]}') i;
SELECT pg_temp.ok(t || jsonb_build_object('priority', p)) AS valid, p
FROM base, unnest(ARRAY['routine', 'urgent', 'asap', 'stat']) AS p;
SELECT pg_temp.ok(t || jsonb_build_object('status', s)) AS valid, s
FROM base, unnest(enum_range(NULL::omnitask.task_status)::text[]) AS s;
SELECT pg_temp.ok(t || jsonb_build_object('intent', i)) AS valid, i
FROM base, unnest(enum_range(NULL::omnitask.task_intent)::text[]) AS i;

--
-- every R4 type of input.value[x] / output.value[x], each valid
--
CREATE TEMP TABLE value_samples (key text, value jsonb);
INSERT INTO value_samples VALUES
	('valueAddress', '{"use": "home", "line": ["1 Main St"], "city": "Springfield", "postalCode": "12345"}'),
	('valueAge', '{"value": 42, "unit": "yr", "system": "http://unitsofmeasure.org", "code": "a"}'),
	('valueAnnotation', '{"text": "note", "time": "2026-11-24T10:00:00Z"}'),
	('valueAttachment', '{"contentType": "text/plain; charset=utf-8", "data": "aGVsbG8="}'),
	('valueBase64Binary', '"aGVsbG8="'),
	('valueBoolean', 'true'),
	('valueCanonical', '"http://example.org/fhir/Questionnaire/q1|2.0"'),
	('valueCode', '"lab-follow-up"'),
	('valueCodeableConcept', '{"coding": [{"system": "http://loinc.org", "code": "2823-3"}], "text": "Potassium"}'),
	('valueCoding', '{"system": "http://loinc.org", "code": "2823-3", "userSelected": false}'),
	('valueContactDetail', '{"name": "Front desk", "telecom": [{"system": "phone", "value": "+1 555 0100"}]}'),
	('valueContactPoint', '{"system": "email", "value": "care@example.org", "use": "work", "rank": 1}'),
	('valueContributor', '{"type": "author", "name": "Dr. Okafor"}'),
	('valueCount', '{"value": 3, "system": "http://unitsofmeasure.org", "code": "1"}'),
	('valueDataRequirement', '{"type": "Observation", "mustSupport": ["code"]}'),
	('valueDate', '"2024-02-29"'),
	('valueDateTime', '"2026-11-24T10:00:00+14:00"'),
	('valueDecimal', '3.140'),
	('valueDistance', '{"value": 1.5, "unit": "km", "system": "http://unitsofmeasure.org", "code": "km"}'),
	('valueDosage', '{"text": "1 tablet daily", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}, "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}'),
	('valueDuration', '{"value": 30, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}'),
	('valueExpression', '{"language": "text/fhirpath", "expression": "Task.status"}'),
	('valueHumanName', '{"use": "official", "family": "Doe", "given": ["Jane", "Q"]}'),
	('valueId', '"abc-1.2"'),
	('valueIdentifier', '{"use": "usual", "system": "urn:oid:1.2.3", "value": "A-1"}'),
	('valueInstant', '"2026-11-24T10:00:00.123Z"'),
	('valueInteger', '-2147483648'),
	('valueMarkdown', '"**Bold** and\nnew line"'),
	('valueMeta', '{"profile": ["http://example.org/fhir/StructureDefinition/p"], "tag": [{"code": "x"}]}'),
	('valueMoney', '{"value": 10.50, "currency": "EUR"}'),
	('valueOid', '"urn:oid:1.2.840.113619"'),
	('valueParameterDefinition', '{"use": "in", "min": 0, "max": "1", "type": "string"}'),
	('valuePeriod', '{"start": "2026-01-01", "end": "2026-02-01"}'),
	('valuePositiveInt', '2147483647'),
	('valueQuantity', '{"value": 5, "comparator": "<", "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}'),
	('valueRange', '{"low": {"value": 1}, "high": {"value": 2}}'),
	('valueRatio', '{"numerator": {"value": 1}, "denominator": {"value": 2}}'),
	('valueReference', '{"reference": "Patient/p1", "display": "Jane Doe"}'),
	('valueRelatedArtifact', '{"type": "documentation", "url": "https://example.org/guide"}'),
	('valueSampledData', '{"origin": {"value": 0}, "period": 1, "dimensions": 1, "data": "1 2 3"}'),
	('valueSignature', '{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}], "when": "2026-11-24T10:00:00Z", "who": {"reference": "Practitioner/pr1"}}'),
	('valueString', '"hello"'),
	('valueTime', '"23:59:60"'),
	('valueTiming', '{"repeat": {"frequency": 2, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon"], "when": ["MORN"]}}'),
	('valueTriggerDefinition', '{"type": "named-event", "name": "discharge"}'),
	('valueUnsignedInt', '0'),
	('valueUri', '"urn:x:y"'),
	('valueUrl', '"https://example.org/a?b=c"'),
	('valueUsageContext', '{"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "focus"}, "valueCodeableConcept": {"text": "x"}}'),
	('valueUuid', '"urn:uuid:c757873d-ec9a-4326-a141-556f43239520"');
SELECT count(*) AS value_types FROM value_samples;
-- all fifty as inputs and as outputs of one Task: valid
SELECT pg_temp.ok(t || jsonb_build_object(
		'input', (SELECT jsonb_agg(jsonb_build_object('type', jsonb_build_object('text', key), key, value)) FROM value_samples),
		'output', (SELECT jsonb_agg(jsonb_build_object('type', jsonb_build_object('text', key), key, value)) FROM value_samples)))
	AS fifty_types_valid
FROM base;
-- each alone, with an extension carrying the same value type: valid
SELECT key FROM value_samples, base
WHERE NOT pg_temp.ok(t || jsonb_build_object(
	'input', jsonb_build_array(jsonb_build_object('type', jsonb_build_object('text', key), key, value)),
	'extension', jsonb_build_array(jsonb_build_object('url', 'http://example.org/ext', key, value))));
-- exactly one value key
SELECT i.* FROM base, pg_temp.issues(t || '{"output": [{"type": {"text": "x"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"output": [{"type": {"text": "x"}, "valueString": "a", "valueInteger": 1}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"output": [{"valueString": "a"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueFoo": "a"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "value": "a"}]}') i;

--
-- primitive formats
--
CREATE TEMP TABLE bad_values (key text, value jsonb);
INSERT INTO bad_values VALUES
	('valueId', '"has space"'), ('valueId', to_jsonb(repeat('a', 65))),
	('valueCode', '" lead"'), ('valueCode', '"a  b"'),
	('valueUri', '"has space"'), ('valueUrl', '"http://x y"'), ('valueCanonical', '"a b"'),
	('valueOid', '"urn:oid:3.1"'), ('valueOid', '"1.2.3"'),
	('valueUuid', '"urn:uuid:C757873D-EC9A-4326-A141-556F43239520"'),
	('valueBase64Binary', '"abc"'), ('valueBase64Binary', '"a=bc"'),
	('valueDate', '"2023-02-29"'), ('valueDate', '"2100-02-29"'), ('valueDate', '"2023-13"'),
	('valueDate', '"0000-01-01"'), ('valueDate', '"2023-01-01T10:00:00Z"'),
	('valueDateTime', '"2023-02-30"'), ('valueDateTime', '"2023-01-01T10:00Z"'),
	('valueDateTime', '"2023-01-01T10:00:00"'), ('valueDateTime', '"2023-01-01T24:00:00Z"'),
	('valueDateTime', '"2023-01-01T10:00:00+14:01"'), ('valueDateTime', '"2023-01-01T10:00:00+15:00"'),
	('valueDateTime', '"2023-1-01"'), ('valueDateTime', '"2023-01-01 10:00:00Z"'),
	('valueInstant', '"2023-01-01"'), ('valueInstant', '"2023-01-01T10:00:00"'),
	('valueTime', '"10:00"'), ('valueTime', '"25:00:00"'), ('valueTime', '"10:00:00Z"'),
	('valueInteger', '2147483648'), ('valueInteger', '-2147483649'), ('valueInteger', '1.5'),
	('valueInteger', '1.0'), ('valuePositiveInt', '0'), ('valuePositiveInt', '-1'),
	('valueUnsignedInt', '-1'), ('valueUnsignedInt', '2147483648'),
	('valueDecimal', '"1.5"'), ('valueBoolean', '1');
SELECT b.key, b.value, i.code, i.expression, i.diagnostics
FROM bad_values b, base, pg_temp.issues(t || jsonb_build_object(
	'input', jsonb_build_array(jsonb_build_object('type', jsonb_build_object('text', 'x'), b.key, b.value)))) i
ORDER BY b.key, b.value::text;
SELECT i.* FROM base, pg_temp.issues(t || '{"restriction": {"repetitions": 0}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"id": "not an id!"}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"meta": {"lastUpdated": "2026-11-24"}}') i;
SELECT pg_temp.ok(t || jsonb_build_object('authoredOn', d)) AS valid, d
FROM base, unnest(ARRAY['2024', '2024-02', '2024-02-29', '2000-02-29T00:00:00Z',
						'2016-12-31T23:59:60+14:00', '2016-12-31T23:59:59.123456789-13:59',
						'1900-02-29', '2024-02-30', '2024-06-31']) AS d;

--
-- Narrative
--
SELECT pg_temp.ok(t || '{"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Call <b>today</b> &amp; note<br/> it</p></div>"}}') AS valid FROM base;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "generated", "div": "<div>no namespace</div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">a</p></div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>unclosed</div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">  </div>"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}') i;

--
-- extensions, modifierExtensions and primitive twins
--
SELECT pg_temp.ok(t || '{"extension": [{"url": "http://example.org/a", "extension": [{"url": "b", "valueString": "x"}]}],
						  "modifierExtension": [{"url": "http://example.org/m", "valueBoolean": false}]}') AS valid FROM base;
SELECT i.* FROM base, pg_temp.issues(t || '{"extension": [{"valueString": "x"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"extension": [{"url": "http://example.org/a"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"extension": [{"url": "http://example.org/a", "valueString": "x", "extension": [{"url": "b", "valueString": "y"}]}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"modifierExtension": [{"url": "has space", "valueString": "x"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"extension": [{"url": "http://example.org/a", "valueString": "x", "valueInteger": 1}]}') i;
SELECT pg_temp.ok(t || '{"_status": {"extension": [{"url": "http://example.org/why", "valueString": "x"}]}}') AS valid FROM base;
SELECT pg_temp.ok((t - 'description') || '{"_description": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}') AS valid FROM base;
SELECT pg_temp.ok(t || '{"meta": {"profile": ["http://a/b", null], "_profile": [null, {"extension": [{"url": "http://x", "valueString": "y"}]}]}}') AS valid FROM base;
SELECT i.* FROM base, pg_temp.issues(t || '{"meta": {"profile": ["http://a/b", null]}}') i;
-- a repeating primitive and its twin line up position by position
SELECT x AS human_name, i.expression, i.diagnostics
FROM base, unnest(ARRAY[
	'{"given": [null], "_given": [null]}',
	'{"given": ["a", null], "_given": [{"extension": [{"url": "u", "valueString": "x"}]}]}',
	'{"_given": [null]}',
	'{"given": ["a", null], "_given": [null, {"extension": [{"url": "u", "valueString": "x"}]}]}']) AS x,
	pg_temp.issues(t || jsonb_build_object('input', jsonb_build_array(jsonb_build_object(
		'type', '{"text": "x"}'::jsonb, 'valueHumanName', x::jsonb)))) i;
SELECT i.* FROM base, pg_temp.issues(t || '{"_status": {"id": "only-an-id"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"_status": [{"extension": [{"url": "http://x", "valueString": "y"}]}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"_for": {"extension": [{"url": "http://x", "valueString": "y"}]}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"_status": {"extension": [{"url": "http://x"}]}}') i;

--
-- contained resources and local references
--
SELECT pg_temp.ok(t || '{"contained": [{"resourceType": "Practitioner", "id": "pr9", "name": [{"family": "Smith"}]}],
						  "requester": {"reference": "#pr9"}}') AS valid FROM base;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"resourceType": "Practitioner", "id": "pr9"}], "requester": {"reference": "#other"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"resourceType": "Practitioner", "id": "pr9"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"id": "x"}], "requester": {"reference": "#x"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"resourceType": "Practitioner"}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": ["Practitioner/1"]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": {"resourceType": "Practitioner", "id": "a"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"resourceType": "Practitioner", "id": "a", "contained": [{"resourceType": "Patient", "id": "b"}], "meta": {"versionId": "2", "security": [{"code": "R"}]}, "name": [{"family": ""}]}], "owner": {"reference": "#a"}}') i;
-- a contained Task is validated as a Task
SELECT i.* FROM base, pg_temp.issues(t || '{"contained": [{"resourceType": "Task", "id": "sub", "status": "nonsense", "intent": "order"}], "partOf": [{"reference": "#sub"}]}') i;

--
-- invariants
--
-- inv-1: lastModified >= authoredOn, compared as instants across zones and precisions
SELECT pg_temp.ok(t || jsonb_build_object('authoredOn', a, 'lastModified', m)) AS valid, a, m
FROM base, (VALUES ('2020-01-01T10:00:00+02:00', '2020-01-01T09:00:00Z'),
				   ('2020-01-01T10:00:00Z', '2020-01-01T11:00:00+02:00'),
				   ('2020-01-01T10:00:00Z', '2020-01-01T10:00:00Z'),
				   ('2020-01-01', '2020-01-01T00:30:00+05:00'),
				   ('2020-01-02', '2020-01-01'),
				   ('2020-01-01T10:00:00.5Z', '2020-01-01T10:00:00.4Z'),
				   ('2021', '2020-12-31T23:00:00Z')) AS v(a, m);
SELECT i.* FROM base, pg_temp.issues(t || '{"authoredOn": "2020-01-01T10:00:00Z", "lastModified": "2020-01-01T09:59:59Z"}') i;
-- per-1 on every Period
SELECT i.* FROM base, pg_temp.issues(t || '{"executionPeriod": {"start": "2020-02-01T00:00:00+01:00", "end": "2020-01-31T22:00:00Z"}}') i;
SELECT pg_temp.ok(t || '{"executionPeriod": {"start": "2020-02-01T00:00:00+01:00", "end": "2020-01-31T23:30:00Z"}}') AS valid FROM base;
SELECT i.* FROM base, pg_temp.issues(t || '{"restriction": {"period": {"start": "2021", "end": "2020"}}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"identifier": [{"value": "x", "period": {"start": "2021-05-01", "end": "2021-04-30"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valuePeriod": {"start": "2021-05-01T00:00:00Z", "end": "2021-04-30T00:00:00Z"}}]}') i;
-- ele-1, att-1, qty-3, rng-2, rat-1
SELECT i.* FROM base, pg_temp.issues(t || '{"code": {"id": "c1"}}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueAttachment": {"data": "aGVsbG8="}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueQuantity": {"value": 1, "code": "mg"}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueRange": {"low": {"value": 5}, "high": {"value": 2}}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueRatio": {"numerator": {"value": 1}}}]}') i;
SELECT i.* FROM base, pg_temp.issues(t || '{"input": [{"type": {"text": "x"}, "valueRange": {"low": {"value": 1, "comparator": "<"}}}]}') i;

--
-- hostile input: every problem listed, capped; values cut and escaped; deep nesting refused
--
SELECT count(*) AS issues,
	   count(*) FILTER (WHERE code = 'too-costly') AS cut_notice,
	   max(diagnostics) FILTER (WHERE code = 'too-costly') AS notice
FROM base, pg_temp.issues(t || (SELECT jsonb_object_agg('bogus' || g, g) FROM generate_series(1, 150) g));
SELECT expression, diagnostics
FROM base, pg_temp.issues(t || jsonb_build_object('status', repeat('x', 10000) || E'\u0001'));
SELECT expression, diagnostics
FROM base, pg_temp.issues(t || jsonb_build_object('status', E'"quoted" \\ and \n newline'));
SELECT code, diagnostics, length(expression) > 500 AS long_path
FROM base, pg_temp.issues(t || jsonb_build_object('extension', (
	SELECT jsonb_build_array(
		((SELECT string_agg('{"url": "u", "extension": [', '') FROM generate_series(1, 80))
		 || '{"url": "u", "valueString": "deep"}'
		 || repeat(']}', 80))::jsonb))));
SELECT pg_temp.ok(t || jsonb_build_object('note', (SELECT jsonb_agg(jsonb_build_object('text', 'note ' || g)) FROM generate_series(1, 10000) g))) AS ten_thousand_notes_valid
FROM base;

--
-- Validation conformance (issue 12): one case per class of wrong verdict,
-- with severity, code, FHIRPath and message
--
CREATE TEMP TABLE minimal AS SELECT
	'{"resourceType": "Task", "status": "draft", "intent": "order"}'::jsonb AS t;
-- 1: a choice element given only by its _twin (data-absent-reason); ext-1 with a twin value
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "_valueBoolean": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"extension": [{"url": "http://x", "_valueCode": {"id": "v1", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}]}') i;
-- ... but two different members, one by value and one by twin, are still two
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "valueString": "a", "_valueBoolean": {"id": "b"}}]}') i;
-- 2: a value with an id-only twin satisfies ele-1; a twin with only an id and no value does not
SELECT i.* FROM minimal, pg_temp.issues(t || '{"_status": {"id": "s1"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"_description": {"id": "d1"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"meta": {"profile": ["http://a", null], "_profile": [{"id": "u1"}, {"id": "u2"}]}}') i;
-- 3: dom-3 counts canonical/uri "#id" and a contained resource that refers to its container with "#"
SELECT i.* FROM minimal, pg_temp.issues(t || '{"instantiatesCanonical": "#ad", "contained": [{"resourceType": "ActivityDefinition", "id": "ad", "status": "draft"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"contained": [{"resourceType": "Provenance", "id": "p", "target": [{"reference": "#"}]}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"contained": [{"resourceType": "Provenance", "id": "p", "target": [{"reference": "Task/1"}]}]}') i;
-- 4: whitespace-only string or markdown: a warning, not an error
SELECT i.* FROM minimal, pg_temp.issues(t || '{"description": "   "}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"note": [{"text": " \t\n "}]}') i;
-- 5: C0 controls (vertical tab and form feed too) and DEL: a warning in string, code, markdown, uri
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('description', E'a\u0013b')) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('note', jsonb_build_array(jsonb_build_object('text', E'x\u007fy')))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('instantiatesUri', E'http://x/\u0001')) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('language', E'e\u0002n')) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('description', E'a\u000bb')) i;
-- 6: address, bdo, kbd, map, area are HTML 4 elements txt-1 allows; object is not
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><address>a</address><bdo dir="rtl">b</bdo><kbd>c</kbd><map name="m"><area shape="rect" coords="0,0,1,1" href="#x" alt="x"/></map></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><object>x</object></div>'))) i;
-- 7: XHTML with a namespace prefix bound to XHTML; a prefix bound elsewhere, or unbound, is refused
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>x</h:p></h:div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><s:svg xmlns:s="http://www.w3.org/2000/svg">x</s:svg></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<h:div xmlns:h="http://www.w3.org/1999/xhtml"><p>x</p></h:div>'))) i;
-- 8: attributes HTML 4 does not have are refused (target, foo, data-*, xlink:href); its own are fine
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><a href="http://x.org" target="_blank">x</a></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><p foo="1">x</p></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml"><p data-x="1">x</p></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="http://x">x</a></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml" class="c" style="color: red" xml:lang="en"><table border="1" summary="s"><tr><td colspan="2" valign="top">x</td></tr></table><img src="a.png" alt="a"/><a name="n">y</a></div>'))) i;
-- 9: U+FFFE and U+FFFF are not XML characters (text, attribute values, comments)
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	E'<div xmlns="http://www.w3.org/1999/xhtml"><p>a\uffffb</p></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	E'<div xmlns="http://www.w3.org/1999/xhtml"><p title="\ufffe">a</p></div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	E'<div xmlns="http://www.w3.org/1999/xhtml"><p>\ufffd and \uefbf are fine</p></div>'))) i;
-- 10: a contained resource's resourceType must be a concrete R4 resource type
SELECT i.* FROM minimal, pg_temp.issues(t || '{"focus": {"reference": "#f"}, "contained": [{"resourceType": "Foo", "id": "f"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"focus": {"reference": "#f"}, "contained": [{"resourceType": "patient", "id": "f"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"focus": {"reference": "#f"}, "contained": [{"resourceType": "DomainResource", "id": "f"}]}') i;
-- ... and its DomainResource elements are checked like Task's
SELECT i.* FROM minimal, pg_temp.issues(t || '{"focus": {"reference": "#f"}, "contained": [{"resourceType": "Patient", "id": "f", "text": {"status": "bogus", "div": "<p>x</p>"}, "extension": [{"url": "http://x"}], "language": " en", "meta": {"profile": ["a b"]}}]}') i;
-- 11: two contained resources with the same id
SELECT i.* FROM minimal, pg_temp.issues(t || '{"focus": {"reference": "#a"}, "contained": [{"resourceType": "Patient", "id": "a"}, {"resourceType": "Patient", "id": "a"}]}') i;
-- 12: rng-2 compares quantities: UCUM codes of one dimension are converted (600 g .. 1 kg is fine,
-- 1 kg .. 600 g is not); incomparable units are not an error; the same unit compares as numbers
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "valueRange": {"low": {"value": 600, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}, "high": {"value": 1, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "valueRange": {"low": {"value": 5, "system": "http://unitsofmeasure.org", "code": "g"}, "high": {"value": 2, "system": "http://unitsofmeasure.org", "code": "g"}}}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "valueRange": {"low": {"value": 1, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}, "high": {"value": 600, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}}]}') i;
CREATE FUNCTION pg_temp.rng(l numeric, lu text, h numeric, hu text) RETURNS boolean
LANGUAGE sql AS
$$
	SELECT pg_temp.ok(jsonb_build_object('resourceType', 'Task', 'status', 'draft', 'intent', 'order',
		'input', jsonb_build_array(jsonb_build_object('type', jsonb_build_object('text', 't'), 'valueRange', jsonb_build_object(
			'low', jsonb_build_object('value', l, 'system', 'http://unitsofmeasure.org', 'code', lu),
			'high', jsonb_build_object('value', h, 'system', 'http://unitsofmeasure.org', 'code', hu))))))
$$;
SELECT l, lu, h, hu, pg_temp.rng(l, lu, h, hu) AS valid
FROM (VALUES (1000, 'g', 1, 'kg'), (1001, 'g', 1, 'kg'), (1, '[lb_av]', 400, 'g'), (1, '[lb_av]', 500, 'g'),
			 (2, 'h', 90, 'min'), (20, 'mg/dL', 0.1, 'g/L'), (1, 'mg/dL', 5, 'g/L'), (200, 'mm[Hg]', 1, 'kPa'),
			 (5, '10*3/uL', 4000, '/uL'), (1, 'L', 999, 'mL'), (1, 'mL', 1, 'cm3'), (3, 'mg{total}', 2, 'mg'),
			 (10, '%', 0.05, '1'), (37, 'Cel', 36, 'Cel'), (37, 'Cel', 300, 'K'), (1, 'kg', 1, 'm'),
			 (2, '[IU]', 1, 'mg'), (2, 'bogus', 1, 'g')) AS v(l, lu, h, hu);
SELECT i.* FROM minimal, pg_temp.issues(t || '{"input": [{"type": {"text": "t"}, "valueRange": {"low": {"value": 5, "unit": "mg"}, "high": {"value": 2, "unit": "mg"}}}]}') i;
-- 13: 1 MiB is counted in characters: 600,000 x "é" (1.2 MB) is fine; 1,048,576 characters are, one more is not
SELECT i.severity, i.code, i.expression, left(i.diagnostics, 40) FROM minimal, pg_temp.issues(t || jsonb_build_object('description', repeat('é', 600000))) i;
SELECT i.severity, i.code, i.expression, left(i.diagnostics, 40) FROM minimal, pg_temp.issues(t || jsonb_build_object('description', repeat('é', 1048576))) i;
SELECT i.severity, i.code, i.expression, right(i.diagnostics, 60) FROM minimal, pg_temp.issues(t || jsonb_build_object('description', repeat('é', 1048577))) i;
SELECT i.severity, i.code, i.expression, right(i.diagnostics, 60) FROM minimal, pg_temp.issues(t || jsonb_build_object('description', repeat('x', 1048577))) i;
-- 14: references to the wrong target type (literal, absolute, versioned, contained); the right ones pass
SELECT i.* FROM minimal, pg_temp.issues(t || '{"encounter": {"reference": "Patient/1"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"location": {"reference": "http://example.org/fhir/Patient/1/_history/2"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"insurance": [{"reference": "Coverage/1"}, {"reference": "Patient/2"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"encounter": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"encounter": {"reference": "Encounter/1"}, "partOf": [{"reference": "Task/2"}], "focus": {"reference": "Patient/1"}, "requester": {"reference": "urn:uuid:6b0e9b6a-8d3a-4e8f-9a36-2a4a51f7b7a0"}, "owner": {"reference": "http://x.org/fhir/Practitioner/3"}}') i;
-- 15: narrative nesting has no fixed limit: 120 and 100,000 nested spans pass
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml">' || repeat('<span>', 120) || 'x' || repeat('</span>', 120) || '</div>'))) i;
SELECT i.* FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml">' || repeat('<span>', 100000) || 'x' || repeat('</span>', 100000) || '</div>'))) i;
SELECT i.severity, i.code, i.expression, right(i.diagnostics, 80) FROM minimal, pg_temp.issues(t || jsonb_build_object('text', jsonb_build_object('status', 'generated', 'div',
	'<div xmlns="http://www.w3.org/1999/xhtml">' || repeat('<span>', 100000) || 'x' || repeat('</span>', 99999) || '</div>'))) i;
-- an invalid Task is refused on store with SQLSTATE 23514 and the same issue
DO $$
BEGIN
	PERFORM omnitask.create_task('{"resourceType": "Task", "status": "requested", "intent": "order", "description": "d",
		"for": {"reference": "Patient/p1"}, "encounter": {"reference": "Patient/1"}}');
	RAISE EXCEPTION 'stored';
EXCEPTION WHEN check_violation THEN
	RAISE WARNING 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END
$$;
-- 16 (0.8): single primitives that take the validator's short way report exactly as the general
-- walk does: the root's (facts, codes, ids), references (ref-1, target types) in the objects whose
-- facts are captured (owner, for, requester) and in others, codes of code.coding[0]
SELECT i.* FROM minimal, pg_temp.issues(t || '{"owner": {"reference": "Patient/1", "display": "o"}, "requester": {"reference": "Task/1", "display": "r"}, "for": {"reference": "#nope", "display": "f"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"owner": {"reference": "#o"}, "focus": {"reference": "#o", "display": "x"}, "contained": [{"resourceType": "Organization", "id": "o"}]}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"owner": {"reference": "Organization/1", "display": ""}, "for": {"reference": "", "display": "\u0001"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"id": "a b", "status": "done ", "priority": "soon", "description": "   ", "language": "en"}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"id": "ok-1", "status": "ready", "priority": "stat", "implicitRules": "#x", "instantiatesUri": "http://x.org/p"}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"code": {"coding": [{"system": "http://x.org", "code": "a b"}, {"code": " "}], "text": "c"}}') i;
SELECT i.* FROM minimal, pg_temp.issues(t || '{"output": [{"type": {"text": "t"}, "valueReference": {"reference": "Patient/1/_history/2", "display": "p"}}, {"type": {"text": "t"}, "valueReference": {"reference": "#q"}}]}') i;
