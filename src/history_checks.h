/*-------------------------------------------------------------------------
 *
 * history_checks.h
 *	  The CHECK constraints of omnitask.task_history, prepared once per
 *	  backend for the trigger's history insert (history_checks.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef HISTORY_CHECKS_H
#define HISTORY_CHECKS_H

extern void omnitask_history_checks_init(void);
extern void omnitask_history_checks_arm(void);
extern void omnitask_history_checks_disarm(void);

#endif							/* HISTORY_CHECKS_H */
