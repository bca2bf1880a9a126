/* fs_metrics: evaluation metrics computed from a model's predictions on a test set, over all rows
 * or over a subset (one segment, one client). Pure functions of their inputs; the only memory
 * they use is the caller's scratch, so they are safe to call from many threads. */
#ifndef FS_METRICS_H
#define FS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fs_metric {
    FS_METRIC_ACCURACY, /* share of rows whose argmax class is the label */
    FS_METRIC_LOSS, /* mean cross-entropy (probabilities clamped to [1e-15, 1]); MSE for regression
                     */
    FS_METRIC_AUC,  /* exact ROC AUC of p(class 1), binary only; ties count 1/2 */
    FS_METRIC_ECE,  /* expected calibration error, 10 equal-width bins */
    FS_METRIC_RMSE, /* root mean squared error, regression only */
    FS_METRIC_HR10, /* "hr10": hit rate @ 10 of a recommender (fs_mf_hit_rate): needs the
                       model, so fs_metric_eval gives NaN and the evaluator computes it */
    FS_METRIC_COUNT
} fs_metric;

/* "accuracy", "loss", "auc", "ece", "rmse", "hr10". */
const char *fs_metric_name(fs_metric m);
/* FS_METRIC_COUNT when unknown. */
fs_metric fs_metric_from_name(const char *name);
bool fs_metric_lower_is_better(fs_metric m);

/* A model's predictions on n test rows. Classification: probs is n * n_classes (row-major) and y
 * the labels. Regression (n_classes == 0): probs holds n predicted values and target the truth. */
typedef struct fs_predictions {
    size_t n;
    int n_classes;
    const double *probs;
    const int32_t *y;
    const float *target;
} fs_predictions;

/* Bytes of scratch fs_metric_eval needs for a subset of k rows. */
size_t fs_metric_scratch_bytes(size_t k);

/* Metric m over rows subset[0..k) of p (rows 0..k-1 when subset is NULL). NaN when undefined:
 * k == 0, AUC with only one class present or more than 2 classes, RMSE on classification,
 * accuracy/AUC/ECE on regression. */
double fs_metric_eval(fs_metric m, const fs_predictions *p, const uint32_t *subset, size_t k,
                      void *scratch);

/* Fairness: mean of the worst ceil(n / 10) of per-client values (lowest when higher is better,
 * highest otherwise), NaN entries ignored. `scratch` holds n doubles. NaN when no finite value. */
double fs_metric_worst_decile(const double *client_values, size_t n, bool lower_is_better,
                              double *scratch);

#endif
