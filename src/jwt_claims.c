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

#include <ctype.h>
#include <json.h>

#include "jwt_claims.h"
#include "omnitask.h"

/* The practitioner id a request.jwt.claims document asserts, or NULL. */
char *
omnitask_claimed_practitioner(const char *claims)
{
	struct json_object *root;
	struct json_object *value;
	char	   *result = NULL;
	const char *claim = omnitask_jwt_practitioner_claim;
	struct json_tokener *tok;
	size_t		len,
				end;
	bool		ok;

	if (claims == NULL || claims[0] == '\0' || claim == NULL || claim[0] == '\0')
		return NULL;
	len = strlen(claims);
	/* the whole text must be one JSON object: no trailing text */
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	root = json_tokener_parse_ex(tok, claims, len);
	end = json_tokener_get_parse_end(tok);
	ok = (json_tokener_get_error(tok) == json_tokener_success && root != NULL);
	json_tokener_free(tok);
	while (ok && end < len && isspace((unsigned char) claims[end]))
		end++;
	if (ok && end == len &&
		json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, claim, &value) &&
		json_object_is_type(value, json_type_string) &&
		(size_t) json_object_get_string_len(value) == strlen(json_object_get_string(value)))
		result = pstrdup(json_object_get_string(value));
	if (root)
		json_object_put(root);
	return result;
}

