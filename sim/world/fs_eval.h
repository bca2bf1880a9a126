/* fs_eval: evaluation of the global model on the held-out data. Predicts every test row (in
 * parallel chunks, so the thread count never changes a value), then computes the scenario's
 * metrics overall ("all"), per level of each eval.segments group ("region=north") and, where
 * clients have their own test data, the mean accuracy (RMSE for regression) of the worst 10% of
 * clients ("worst10_clients"), optionally on the training data ("train"), and with a backdoor
 * attack its success rate (segment "backdoor", metric "success", fs_attack.h).
 * Owns the prediction buffer, the per-segment row lists and the evaluation rows it returns. */
#ifndef FS_EVAL_H
#define FS_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_db.h"
#include "fs_metrics.h"
#include "fs_model.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_world.h"

typedef struct fs_segment {
    /* "all", "region=north", ...: group name, '=', a whole level name (never cut, so two
     * levels never share a segment) */
    char name[FS_DATA_NAME_LEN + 1 + FS_DATA_LEVEL_MAX + 1];
    const uint32_t *rows;     /* test rows of the segment (NULL for "all": every row) */
    size_t n;
} fs_segment;

typedef struct fs_evaluator {
    const fs_world *world;
    const fs_pop *pop;        /* consent: opted-out clients' own test rows are never read */
    uint64_t seed;
    int n_threads;
    fs_metric metrics[FS_SCN_MAX_NAMES];
    size_t n_metrics;
    fs_segment *segments;     /* "all" first */
    size_t n_segments;
    uint32_t *segment_rows;   /* storage of every segment's row list */
    bool worst_clients;
    fs_model_scratch **scratch; /* per thread */
    double *probs;            /* test.n * max(n_classes, 1) */
    void **metric_scratch;    /* one per metric thread (metric_threads of them) */
    int metric_threads;       /* the (segment, metric) values are computed on this many */
    double *client_values, *client_scratch;
    fs_partition consenting_test; /* test rows of consenting clients only (when some opted out) */
    double *train_probs;      /* eval.train_metrics: predictions on the training data */
    void *train_scratch;
    bool backdoor;            /* adversary with a backdoor: its success row */
    int bd_label;
    uint32_t *bd_rows;        /* test rows of the other class (of the target level) */
    size_t bd_n;
    fs_dataset bd_triggered;  /* those rows with the trigger applied (empty: a segment target) */
    double *bd_probs;         /* predictions on bd_triggered */
    fs_db_eval *rows;         /* the latest evaluation's rows */
    size_t n_rows;
} fs_evaluator;

/* Checks the scenario's eval keys against the data (FS_ESCENARIO naming eval.metrics[i] or
 * eval.segments[i]) and allocates everything (FS_ENOMEM). */
int fs_evaluator_init(fs_evaluator *ev, const fs_world *w, const fs_scenario *s,
                      const fs_pop *pop, int n_threads, fs_err *err);
void fs_evaluator_fini(fs_evaluator *ev);

/* Evaluates w. *out_rows (borrowed until the next call) holds n_rows rows; *out_headline is the
 * first metric on "all" (progress line and summaries). Across MPI ranks (a collective) each
 * rank predicts an even share of the rows and rank 0, which alone records, gathers them and
 * computes every metric: the other ranks get no rows and a NaN headline. FS_EIO on an MPI
 * failure. */
int fs_evaluator_run(fs_evaluator *ev, const fs_real *w, const fs_db_eval **out_rows,
                     size_t *out_n_rows, double *out_headline, fs_err *err);

#endif
