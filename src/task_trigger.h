/*-------------------------------------------------------------------------
 *
 * task_trigger.h
 *	  The row triggers of omnitask.task (task_trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASK_TRIGGER_H
#define TASK_TRIGGER_H

/* Writes that import_task() is making: keep the id, allow any status. */
extern int	omnitask_import_depth;

extern void omnitask_task_trigger_init(void);

#endif							/* TASK_TRIGGER_H */
