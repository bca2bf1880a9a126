/* fs_metrics: evaluation metrics computed from a model's predictions on a test set, over all rows
 * or over a subset (one segment, one client). Pure functions of their inputs; the only memory
 * they use is the caller's scratch, so they are safe to call from many threads. */
#ifndef FS_METRICS_H
#define FS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The order of the descriptor table (fs_metrics.c): "expected one of ..." lists them so. */
typedef enum fs_metric {
    FS_METRIC_ACCURACY, /* share of rows whose argmax class is the label */
    FS_METRIC_LOSS,  /* mean cross-entropy (probabilities clamped to [1e-15, 1]); MSE for regression
                      */
    FS_METRIC_AUC,   /* exact ROC AUC of p(class 1), binary only; ties count 1/2 */
    FS_METRIC_ECE,   /* expected calibration error, 10 equal-width bins */
    FS_METRIC_RMSE,  /* root mean squared error, regression only */
    FS_METRIC_HR10,  /* "hr10": hit rate @ 10 of a recommender (fs_mf_hit_rate): needs the
                        model, so fs_metric_eval gives NaN and the evaluator computes it */
    FS_METRIC_BRIER, /* mean (p(class 1) - label)^2, binary only (Brier 1950): calibration */
    FS_METRIC_COUNT
} fs_metric;

/* The tasks a metric is defined on (bits of fs_metric_info.tasks). */
enum {
    FS_TASK_REGRESSION = 1u << 0, /* n_classes == 0 */
    FS_TASK_BINARY = 1u << 1,     /* n_classes == 2 */
    FS_TASK_MULTICLASS = 1u << 2, /* any other number of classes */
    FS_TASK_RECOMMENDER = 1u << 3 /* a model with personal factors and clients' own test rows */
};

typedef struct fs_predictions fs_predictions;

/* One metric: everything the scenario check, the evaluator, plan and the report know about it.
 * Adding a metric: its value in enum fs_metric, its row and its function in fs_metrics.c. */
typedef struct fs_metric_info {
    const char *name;     /* eval.metrics, eval.target.metric, evals.metric, plan --target */
    const char *title;    /* report: in plot titles ("AUC") */
    const char *axis;     /* report: axis label with unit */
    bool lower_is_better; /* plan, targets, the worst-decile summary */
    bool share;           /* values lie in [0, 1] (an eval.target.value outside is refused) */
    unsigned tasks;       /* FS_TASK_* it is defined on */
    /* over k rows already checked valid, on a task in `tasks`; NULL when the metric needs the
     * model itself (hr10: the evaluator computes it) */
    double (*eval)(const fs_predictions *p, const uint32_t *subset, size_t k, void *scratch);
} fs_metric_info;

/* NULL when m is not a metric (FS_METRIC_COUNT). */
const fs_metric_info *fs_metric_info_of(fs_metric m);
/* "accuracy", "loss", "auc", "ece", "rmse", "hr10", "brier"; "unknown" otherwise. */
const char *fs_metric_name(fs_metric m);
/* FS_METRIC_COUNT when unknown. */
fs_metric fs_metric_from_name(const char *name);
/* false for an unknown metric */
bool fs_metric_lower_is_better(fs_metric m);
/* The FS_TASK_* bits of data with n_classes classes (recommender: FS_TASK_RECOMMENDER too). */
unsigned fs_metric_task_of(int n_classes, bool recommender);
/* Whether m is defined on data of that task (false for an unknown metric). */
bool fs_metric_fits(fs_metric m, int n_classes, bool recommender);
/* The quoted names of the metrics defined on any of `tasks` (all: ~0u), in table order, joined
 * by ", " into buf (truncated to n - 1 bytes): "accuracy", "loss", ... with the quotes. */
void fs_metric_list(unsigned tasks, char *buf, size_t n);

/* A model's predictions on n test rows. Classification: probs is n * n_classes (row-major) and y
 * the labels. Regression (n_classes == 0): probs holds n predicted values and target the truth. */
struct fs_predictions {
    size_t n;
    int n_classes;
    const double *probs;
    const int32_t *y;
    const float *target;
    bool labels_checked; /* fs_metric_check_labels found every label valid: a metric call then
                            checks only its rows' indices, not their labels again */
};

/* Checks every row's label once (in 0 .. n_classes-1; targets present for regression) and sets
 * p->labels_checked when all are: an evaluation asks dozens of metrics on segments and 100,000
 * clients' few rows, each of which checked its rows' labels itself (2% of the shipped
 * ctr_regions). */
void fs_metric_check_labels(fs_predictions *p);

/* Bytes of scratch fs_metric_eval needs for a subset of k rows. */
size_t fs_metric_scratch_bytes(size_t k);

/* Metric m over rows subset[0..k) of p (rows 0..k-1 when subset is NULL). NaN when undefined:
 * k == 0, a metric outside its tasks (AUC or Brier on other than 2 classes, RMSE on
 * classification, accuracy/AUC/ECE/Brier on regression), AUC with only one class present. */
double fs_metric_eval(fs_metric m, const fs_predictions *p, const uint32_t *subset, size_t k,
                      void *scratch);

/* Fairness: mean of the worst ceil(n / 10) of per-client values (lowest when higher is better,
 * highest otherwise), NaN entries ignored. `scratch` holds 2n doubles. NaN when no finite
 * value. */
double fs_metric_worst_decile(const double *client_values, size_t n, bool lower_is_better,
                              double *scratch);

#endif
