/*-------------------------------------------------------------------------
 *
 * jwt_claims.c
 *	  Reading one claim of PostgREST's request.jwt.claims with json-c.
 *
 * Kept apart because json-c's names clash with PostgreSQL's function
 * prototypes (json_object).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <json.h>

#include "omnitask.h"

/* The practitioner id a request.jwt.claims document asserts, or NULL. */
char *
omnitask_claimed_practitioner(const char *claims)
{
	struct json_object *root;
	struct json_object *value;
	char	   *result = NULL;
	const char *claim = omnitask_jwt_practitioner_claim;

	if (claims == NULL || claims[0] == '\0' || claim == NULL || claim[0] == '\0')
		return NULL;
	root = json_tokener_parse(claims);
	if (root == NULL)
		return NULL;
	if (json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, claim, &value) &&
		json_object_is_type(value, json_type_string))
		result = pstrdup(json_object_get_string(value));
	json_object_put(root);
	return result;
}

