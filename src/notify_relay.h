/*-------------------------------------------------------------------------
 *
 * notify_relay.h
 *	  NOTIFY omnitask_task after commit (notify_relay.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOTIFY_RELAY_H
#define NOTIFY_RELAY_H

extern int	omnitask_notify_queue_size;
extern int	omnitask_notify_relay_idle_ms;

extern void omnitask_relay_init(void);
extern void omnitask_notify_change(const char *payload);

#endif							/* NOTIFY_RELAY_H */
