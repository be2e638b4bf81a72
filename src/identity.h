/*-------------------------------------------------------------------------
 *
 * identity.h
 *	  The caller of the current statement (identity.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_IDENTITY_H
#define OMNITASK_IDENTITY_H

#include "fhir_validate.h"

/* Longest practitioner id, as the practitioner table's CHECK allows. */
#define PRACTITIONER_ID_MAXLEN	64

typedef struct OmniCaller
{
	bool		is_superuser;
	bool		is_admin;		/* superuser or member of omnitask_admin */
	bool		is_practitioner;	/* member of omnitask_practitioner */
	bool		is_auditor;		/* member of omnitask_auditor */
	char		role_name[NAMEDATALEN];	/* current_user */
	char		practitioner_id[PRACTITIONER_ID_MAXLEN + 1];	/* "" when none */
	char		login_role[NAMEDATALEN];	/* the authenticated user, "" if none */
	char		session_role[NAMEDATALEN];	/* session_user, "" if dropped */
	const char *claims;			/* request.jwt.claims, NULL if unset */
} OmniCaller;

extern const OmniCaller *omnitask_caller(void);
extern bool omnitask_practitioner_known(FhirSlice id, bool *active);
extern void omnitask_identity_init(void);

#endif							/* OMNITASK_IDENTITY_H */
