/*-------------------------------------------------------------------------
 *
 * task_old_version.h
 *	  The stored version an update of a task replaces, expanded once for
 *	  every reader of the write (task_old_version.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_OLD_VERSION_H
#define TASK_OLD_VERSION_H

#include "utils/jsonb.h"

extern Jsonb *task_old_version(Datum stored);
extern bool task_old_version_at_hand(Datum stored);

#endif							/* TASK_OLD_VERSION_H */
