/* fs_server: the server policies behind one table. A policy decides whom to dispatch when, what
 * becomes of each arriving update and when a round row is due (synchronous rounds, FedBuff); the
 * engine (fs_engine_int.h) owns the virtual clock, the event queue and every participation's life
 * cycle, and calls its policy's entries at fixed points of one event loop:
 *
 *     step()                              once, before the first event
 *     while (!done() && an event is left)
 *         [interrupt, time limit]         when stops_between_events: on_time_limit() at the
 *                                         time limit, and the loop ends
 *         participation event             the engine plays it; when it ends:
 *             accepts(slot)?  on_end(slot)
 *         timer event                     on_timer()
 *         step()
 *
 * A new policy is one file with its entry and one row in fs_server.c. */
#ifndef FS_SERVER_H
#define FS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"
#include "fs_scn.h"

struct fs_engine;

typedef struct fs_server_ops {
    const char *name; /* the server.mode value, for messages */
    size_t size;      /* of the policy's state, zeroed by the engine before init */
    /* participations in flight at most (the engine caps it at the population) */
    size_t (*slots)(const fs_scenario *s);
    /* the updates one server step sums at most: the fixed denominator of DP's noisy mean */
    double (*step_reports)(const fs_scenario *s);
    /* hands a snapshot to on_round every output.checkpoint_every rounds and resumes from one;
     * a policy without it refuses resume_state */
    bool checkpointable;
    /* the interrupt and server.max_virtual_hours act between any two events (FedBuff: a round
     * is a window of a continuous stream); otherwise the policy checks them itself where a
     * campaign may stop (sync: between rounds, a round started is played out) */
    bool stops_between_events;
    int (*init)(void *pol, struct fs_engine *e, fs_err *err);
    void (*fini)(void *pol); /* also after a failed init */
    /* the policy's turn at e->now: once before the first event, then after every event */
    int (*step)(void *pol, fs_err *err);
    bool (*done)(const void *pol); /* the campaign is over: no further event is played */
    /* whether an arrived update may be used (false: the participation ends "late"); NULL:
     * always */
    bool (*accepts)(void *pol, uint32_t slot);
    /* a participation ended: reported, rejected, late or dropped (parts[slot].stage) */
    int (*on_end)(void *pol, uint32_t slot, fs_err *err);
    int (*on_timer)(void *pol, fs_err *err); /* a timer of fs_engine_push_timer fired */
    /* stops_between_events only: server.max_virtual_hours came before the next event, which
     * is not played; the policy closes what is open at e->now (NULL: nothing to close) */
    int (*on_time_limit)(void *pol, fs_err *err);
    /* the reports the open round still waits for: the engine then trains a participation only
     * when its training ends in virtual time, with as many others due soonest as the round can
     * still use (a client cut off before that is never trained); NULL: every launch trains at
     * once */
    size_t (*reports_wanted)(const void *pol);
} fs_server_ops;

/* The entries (fs_sync.c, fs_async.c), named only by the table in fs_server.c. */
extern const fs_server_ops fs_server_sync, fs_server_async;

/* The words of server.mode, NULL-terminated, in enum fs_server_mode's order. */
extern const char *const fs_server_names[];

/* The policy of a server.mode. */
const fs_server_ops *fs_server_of(enum fs_server_mode mode);

#endif
