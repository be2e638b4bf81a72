/*-------------------------------------------------------------------------
 *
 * fhir_http.h
 *	  Settings of the FHIR HTTP interface (fhir_http.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FHIR_HTTP_H
#define FHIR_HTTP_H

extern char *omnitask_fhir_base_url;
extern bool omnitask_fhir_require_if_match;
extern void omnitask_fhir_http_init(void);

#endif							/* FHIR_HTTP_H */
