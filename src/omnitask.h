/*-------------------------------------------------------------------------
 *
 * omnitask.h
 *	  omnitask's own settings (omnitask.c), read by the modules they steer.
 *
 * Every module has a header of its own; this one declares only the
 * settings that _PG_init defines itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMNITASK_H
#define OMNITASK_H

extern char *omnitask_jwt_authenticator;
extern char *omnitask_jwt_practitioner_claim;
extern bool omnitask_notify;

#endif							/* OMNITASK_H */
