/* fs_algo: the federated algorithms behind one table. An algorithm is a descriptor: what it needs
 * (flags the scenario's combination rules read, fs_scn_rules.c), what the engine keeps for it
 * (partial work, control variates, a loss before training) and optional hooks on the client
 * (configure local SGD, finish the update) and on the server (rescale the reports, replace the
 * weighted mean, update server state after the step). Nothing else in the simulator names an
 * algorithm: one file per algorithm (fs_algo_<name>.c) and its row in fs_algo.c's table, which
 * also gives the words of `server.algorithm`. */
#ifndef FS_ALGO_H
#define FS_ALGO_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_model.h"
#include "fs_scn.h"

struct fs_agg_report;

/* What an algorithm needs; fs_scn_rules.c refuses the scenarios that lack it. */
enum fs_algo_need {
    FS_ALGO_DENSE = 1u << 0,      /* a dense model (sparse updates cannot carry its local step) */
    FS_ALGO_CLASSES = 1u << 1,    /* a classification task */
    FS_ALGO_NO_PRIVACY = 1u << 2, /* neither privacy.dp nor privacy.secure_aggregation */
    FS_ALGO_SYNC = 1u << 3,       /* synchronous rounds, not FedBuff */
    FS_ALGO_OWN_MEAN = 1u << 4,   /* its server step, rescale or control variates are built on
                                     the weighted mean of the raw deltas: no server.robust */
};

/* What a client-side hook sees of one client's training. */
typedef struct fs_algo_client {
    const fs_scenario *scn;
    size_t n_params;
    const fs_real *w_global;
    const double *control;        /* control_variate: the server's c, else NULL */
    const fs_real *client_control; /* control_variate: the client's c_i, NULL before it took part */
    fs_real *scratch;              /* control_variate: n_params of per-thread scratch, else NULL */
} fs_algo_client;

typedef struct fs_algo {
    const char *name;
    unsigned needs;        /* enum fs_algo_need */
    bool partial_work;     /* a straggler does the local steps that fit before the deadline and
                              reports in time (dense models); otherwise it arrives late */
    bool loss_at_global;   /* each client first evaluates the global model on its rows */
    bool control_variate;  /* model-sized control variates (SCAFFOLD): c travels down with the
                              model and c_i+ - c_i up with the update; the server keeps c, every
                              client its c_i */
    /* client: local SGD's configuration (proximal term, correction), on top of train.* */
    void (*configure)(const fs_algo_client *c, fs_sgd_cfg *cfg);
    /* client, after a successful training of `steps` local steps: the control delta */
    void (*finish)(const fs_algo_client *c, const fs_update *u, size_t steps, fs_real *ctrl_delta);
    /* server: multiplies each report's delta (not its weight) by a factor in scale[0..n) */
    void (*rescale)(const struct fs_agg_report *r, size_t n, double *scale);
    /* server: replaces the weighted mean and the server optimizer; returns FS_ENOMEM or FS_OK.
     * scratch is n_params. */
    int (*server_step)(const fs_scenario *s, fs_real *w, const struct fs_agg_report *r, size_t n,
                       double *scratch);
    /* server, after the step: the server's control variates from the reports */
    void (*after_step)(double *control, size_t n_params, const struct fs_agg_report *r, size_t n,
                       size_t n_clients);
} fs_algo;

/* The words of server.algorithm, NULL-terminated; a scenario's server.algorithm indexes them. */
extern const char *const fs_algo_names[];

/* The algorithm a scenario runs. */
const fs_algo *fs_algo_of(const fs_scenario *s);
/* Row i of the table (NULL past the end), for rules that look at every algorithm. */
const fs_algo *fs_algo_at(size_t i);

#endif
