/*-------------------------------------------------------------------------
 *
 * jwt_claims.h
 *	  Reading the practitioner claim of request.jwt.claims (jwt_claims.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef JWT_CLAIMS_H
#define JWT_CLAIMS_H

extern char *omnitask_claimed_practitioner(const char *claims);

#endif							/* JWT_CLAIMS_H */
