/* test_metrics: fs_metrics against hand-computed values (AUC with ties, ECE, RMSE, accuracy, log
 * loss), AUC against the brute-force pairwise probability, subset evaluation, the worst-decile
 * summary, and the NaN cases the header promises. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_metrics.h"
#include "fs_rng.h"
#include "fs_test.h"

enum { MAX_ROWS = 2048 };

/* A binary prediction set: probs rows (1 - s, s) for scores s. */
typedef struct bin_preds {
    double probs[2 * MAX_ROWS];
    int32_t y[MAX_ROWS];
    fs_predictions p;
} bin_preds;

static void bin_fill(bin_preds *b, const double *s, const int32_t *y, size_t n)
{
    ck_assert(n <= MAX_ROWS);
    for (size_t i = 0; i < n; i++) {
        b->probs[2 * i] = 1 - s[i];
        b->probs[2 * i + 1] = s[i];
        b->y[i] = y[i];
    }
    b->p = (fs_predictions){.n = n, .n_classes = 2, .probs = b->probs, .y = b->y};
}

/* Metric over all rows with a fresh scratch buffer of the advertised size. */
static double eval_all(fs_metric m, const fs_predictions *p)
{
    void *scratch = malloc(fs_metric_scratch_bytes(p->n) + 1);
    double v = fs_metric_eval(m, p, NULL, p->n, scratch);
    free(scratch);
    return v;
}

static double auc_of(const double *s, const int32_t *y, size_t n)
{
    static bin_preds b;
    bin_fill(&b, s, y, n);
    return eval_all(FS_METRIC_AUC, &b.p);
}

START_TEST(metric_names_round_trip)
{
    for (int m = 0; m < FS_METRIC_COUNT; m++)
        ck_assert_int_eq(fs_metric_from_name(fs_metric_name((fs_metric)m)), m);
    ck_assert_str_eq(fs_metric_name(FS_METRIC_ECE), "ece");
    ck_assert_int_eq(fs_metric_from_name("f1"), FS_METRIC_COUNT);
    ck_assert(fs_metric_lower_is_better(FS_METRIC_LOSS));
    ck_assert(fs_metric_lower_is_better(FS_METRIC_ECE));
    ck_assert(fs_metric_lower_is_better(FS_METRIC_RMSE));
    ck_assert(!fs_metric_lower_is_better(FS_METRIC_AUC));
    ck_assert(!fs_metric_lower_is_better(FS_METRIC_ACCURACY));
}
END_TEST

/* The descriptor table answers every question about a metric: the tasks it fits, the list an
 * error message shows, and the texts of the report. */
START_TEST(metric_table_fits_and_lists)
{
    for (int m = 0; m < FS_METRIC_COUNT; m++) {
        const fs_metric_info *mi = fs_metric_info_of((fs_metric)m);
        ck_assert(mi && mi->name && mi->title && mi->axis && mi->tasks);
        ck_assert_int_eq(mi->lower_is_better, fs_metric_lower_is_better((fs_metric)m));
    }
    ck_assert_ptr_null(fs_metric_info_of(FS_METRIC_COUNT));
    ck_assert(!fs_metric_lower_is_better(FS_METRIC_COUNT));
    ck_assert(fs_metric_fits(FS_METRIC_AUC, 2, false));
    ck_assert(!fs_metric_fits(FS_METRIC_AUC, 10, false));
    ck_assert(!fs_metric_fits(FS_METRIC_AUC, 0, false));
    ck_assert(fs_metric_fits(FS_METRIC_RMSE, 0, true) && !fs_metric_fits(FS_METRIC_RMSE, 2, false));
    ck_assert(fs_metric_fits(FS_METRIC_HR10, 0, true) && !fs_metric_fits(FS_METRIC_HR10, 0, false));
    ck_assert(fs_metric_fits(FS_METRIC_LOSS, 0, false) &&
              fs_metric_fits(FS_METRIC_LOSS, 10, false));
    ck_assert(!fs_metric_fits(FS_METRIC_COUNT, 2, false));
    char buf[128];
    fs_metric_list(FS_TASK_MULTICLASS, buf, sizeof buf);
    ck_assert_str_eq(buf, "\"accuracy\", \"loss\", \"ece\"");
    fs_metric_list(FS_TASK_REGRESSION | FS_TASK_RECOMMENDER, buf, sizeof buf);
    ck_assert_str_eq(buf, "\"loss\", \"rmse\", \"hr10\"");
    fs_metric_list(FS_TASK_BINARY, buf, sizeof buf);
    ck_assert_str_eq(buf, "\"accuracy\", \"loss\", \"auc\", \"ece\", \"brier\"");
    fs_metric_list(FS_TASK_MULTICLASS, buf, 8); /* truncated, still terminated */
    ck_assert_str_eq(buf, "\"accura");
}
END_TEST

/* (0.1^2 + 0.2^2 + 0.6^2 + 0.5^2) / 4 = 0.165; undefined on other than two classes. */
START_TEST(brier_hand_computed_case)
{
    static bin_preds b;
    const double s[] = {0.9, 0.2, 0.6, 0.5};
    const int32_t y[] = {1, 0, 0, 1};
    bin_fill(&b, s, y, 4);
    ck_assert_double_eq_tol(eval_all(FS_METRIC_BRIER, &b.p), 0.165, 1e-15);
    const uint32_t sub[] = {1, 3}; /* (0.04 + 0.25) / 2 */
    ck_assert_double_eq_tol(fs_metric_eval(FS_METRIC_BRIER, &b.p, sub, 2, NULL), 0.145, 1e-15);
    ck_assert(fs_metric_lower_is_better(FS_METRIC_BRIER));
    ck_assert(fs_metric_fits(FS_METRIC_BRIER, 2, false));
    ck_assert(!fs_metric_fits(FS_METRIC_BRIER, 10, false) &&
              !fs_metric_fits(FS_METRIC_BRIER, 0, true));
    double probs3[3] = {0.2, 0.3, 0.5};
    int32_t y3[1] = {2};
    fs_predictions p3 = {.n = 1, .n_classes = 3, .probs = probs3, .y = y3};
    ck_assert(isnan(eval_all(FS_METRIC_BRIER, &p3)));
}
END_TEST

START_TEST(auc_hand_computed_cases)
{
    const double s[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
    const int32_t up[] = {0, 0, 0, 1, 1, 1}, down[] = {1, 1, 1, 0, 0, 0};
    ck_assert_double_eq(auc_of(s, up, 6), 1.0);
    ck_assert_double_eq(auc_of(s, down, 6), 0.0);
    const double tied[] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    ck_assert_double_eq(auc_of(tied, up, 6), 0.5);
    /* Positives at 0.8, 0.5, 0.5; negatives at 0.5, 0.2. Pairs (pos, neg): 0.8 beats both (2);
     * each 0.5 positive ties 0.5 (1/2) and beats 0.2 (1): 2 + 1.5 + 1.5 = 5 of 6. */
    const double s2[] = {0.8, 0.5, 0.5, 0.5, 0.2};
    const int32_t y2[] = {1, 1, 1, 0, 0};
    ck_assert_double_eq_tol(auc_of(s2, y2, 5), 5.0 / 6.0, 1e-15);
    /* Rows in another order give the same value. */
    const double s3[] = {0.5, 0.2, 0.5, 0.8, 0.5};
    const int32_t y3[] = {0, 0, 1, 1, 1};
    ck_assert_double_eq_tol(auc_of(s3, y3, 5), 5.0 / 6.0, 1e-15);
}
END_TEST

/* Mann-Whitney over every (positive, negative) pair, a tie counting 1/2. */
static double bruteforce_auc(const double *s, const int32_t *y, int n)
{
    double num = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                pairs++;
            }
    return num / pairs;
}

START_TEST(auc_matches_bruteforce_with_many_ties)
{
    enum { N = 500 };
    double s[N];
    int32_t y[N];
    gsl_rng *r = fs_rng_new();
    for (int trial = 0; trial < 5; trial++) {
        fs_rng_reseed(r, 11, FS_RNG_DATA, (uint64_t)trial, FS_RNG_NONE);
        for (int i = 0; i < N; i++) {
            y[i] = gsl_rng_uniform(r) < 0.3;
            /* Positives score higher on average; rounding to 0.1 makes most pairs tie-prone. */
            s[i] = round(10 * fmin(1, gsl_rng_uniform(r) * 0.8 + 0.2 * y[i])) / 10;
        }
        ck_assert_double_eq_tol(auc_of(s, y, N), bruteforce_auc(s, y, N), 1e-12);
    }
    gsl_rng_free(r);
}
END_TEST

/* The sort is by the scores' bits: every byte of them must order (scores over many magnitudes,
 * of both signs, subnormals), and -0 must tie with +0 as it compares equal. */
START_TEST(auc_matches_bruteforce_over_signs_magnitudes_and_zeros)
{
    enum { N = 500 };
    double s[N];
    int32_t y[N];
    const double special[] = {0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0, 0.5, 1e300, -1e300};
    gsl_rng *r = fs_rng_new();
    for (int trial = 0; trial < 4; trial++) {
        fs_rng_reseed(r, 12, FS_RNG_DATA, (uint64_t)trial, FS_RNG_NONE);
        for (int i = 0; i < N; i++) {
            y[i] = gsl_rng_uniform(r) < 0.4;
            double u = gsl_rng_uniform(r);
            s[i] = u < 0.3 ? special[gsl_rng_uniform_int(r, 9)]
                           : (gsl_rng_uniform(r) < 0.5 ? -1 : 1) *
                                 ldexp(gsl_rng_uniform(r) + 0.2 * y[i], (int)(u * 80) - 40);
        }
        ck_assert_double_eq_tol(auc_of(s, y, N), bruteforce_auc(s, y, N), 1e-12);
    }
    gsl_rng_free(r);
}
END_TEST

/* Scores that differ only in their last mantissa bits (the sort's low bytes decide them), in
 * short runs that share their top bits and in one long run, with ties among them. */
START_TEST(auc_matches_bruteforce_when_scores_share_their_top_bits)
{
    enum { N = 500 };
    double s[N];
    int32_t y[N];
    gsl_rng *r = fs_rng_new();
    for (int trial = 0; trial < 4; trial++) {
        fs_rng_reseed(r, 13, FS_RNG_DATA, (uint64_t)trial, FS_RNG_NONE);
        for (int i = 0; i < N; i++) {
            y[i] = gsl_rng_uniform(r) < 0.4;
            /* trials 0, 1: 50 runs of ~10 scores; 2, 3: one run of 500 */
            double base = trial < 2 ? 0.25 + (double)gsl_rng_uniform_int(r, 50) / 64 : 0.75;
            uint64_t low = gsl_rng_uniform_int(r, trial % 2 ? 40 : 1u << 20) + (uint64_t)y[i] * 3;
            s[i] = base + ldexp((double)low, -52);
        }
        ck_assert_double_eq_tol(auc_of(s, y, N), bruteforce_auc(s, y, N), 1e-12);
    }
    gsl_rng_free(r);
}
END_TEST

/* One class under a fifth of the rows takes the other path (the rare class sorted, the common
 * one placed among it through buckets): positives rare (click data) and negatives rare, with
 * ties inside and across classes, keys over many magnitudes and signs, long runs in one bucket
 * (every score equal; scores bunched in the last bits), a single rare row, and common keys below
 * and above every rare one. Exact: 2U is counted in integers on both paths. */
START_TEST(auc_matches_bruteforce_when_one_class_is_rare)
{
    enum { N = 2000 };
    static double s[N];
    static int32_t y[N];
    gsl_rng *r = fs_rng_new();
    for (int trial = 0; trial < 24; trial++) {
        fs_rng_reseed(r, 14, FS_RNG_DATA, (uint64_t)trial, FS_RNG_NONE);
        int shape = trial % 6;
        double rare_share = trial % 12 < 6 ? 0.02 : 0.98; /* rare positives, then negatives */
        size_t n = shape == 5 ? 40 : N;
        for (size_t i = 0; i < n; i++) {
            y[i] = gsl_rng_uniform(r) < rare_share;
            double u = gsl_rng_uniform(r);
            switch (shape) {
            case 0: s[i] = round(20 * fmin(1, u * 0.8 + 0.2 * y[i])) / 20; break; /* ties */
            case 1: s[i] = ldexp(u + 0.3 * y[i], (int)(gsl_rng_uniform(r) * 60) - 50); break;
            case 2: s[i] = 0.5; break; /* one bucket, all tied */
            case 3: s[i] = 0.75 + ldexp((double)gsl_rng_uniform_int(r, 30) + y[i], -52); break;
            case 4: s[i] = (u < 0.5 ? -1 : 1) * ldexp(u, (int)(u * 40) - 20); break;
            default: s[i] = u; /* 40 rows: one or no rare row */
            }
        }
        if (shape == 5) { /* exactly one rare row, scored in the middle */
            for (size_t i = 0; i < n; i++) y[i] = rare_share > 0.5;
            y[7] = !y[7], s[7] = 0.5;
        }
        double want = bruteforce_auc(s, y, (int)n);
        ck_assert_msg(fabs(auc_of(s, y, n) - want) <= 1e-12, "trial %d: %.17g, want %.17g",
                      trial, auc_of(s, y, n), want);
    }
    gsl_rng_free(r);
}
END_TEST

START_TEST(auc_nan_when_undefined)
{
    const double s[] = {0.1, 0.7, 0.4};
    const int32_t ones[] = {1, 1, 1}, zeros[] = {0, 0, 0};
    ck_assert(isnan(auc_of(s, ones, 3)));
    ck_assert(isnan(auc_of(s, zeros, 3)));
    /* Three classes: AUC is binary only. */
    const double probs[] = {0.2, 0.3, 0.5, 0.6, 0.3, 0.1};
    const int32_t y[] = {2, 0};
    fs_predictions p = {.n = 2, .n_classes = 3, .probs = probs, .y = y};
    ck_assert(isnan(eval_all(FS_METRIC_AUC, &p)));
    ck_assert(isnan(eval_all(FS_METRIC_RMSE, &p)));
    ck_assert(isnan(fs_metric_eval(FS_METRIC_ACCURACY, &p, NULL, 0, NULL)));
}
END_TEST

START_TEST(ece_zero_when_bins_are_calibrated)
{
    /* Bin [0.2, 0.3): four rows at 0.25, one positive. Bin [0.7, 0.8): four at 0.75, three
     * positive. Bin [0.5, 0.6): two at 0.5, one positive. */
    const double s[] = {0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75, 0.5, 0.5};
    const int32_t y[] = {1, 0, 0, 0, 1, 1, 0, 1, 0, 1};
    static bin_preds b;
    bin_fill(&b, s, y, 10);
    ck_assert_double_eq(eval_all(FS_METRIC_ECE, &b.p), 0.0);
}
END_TEST

START_TEST(ece_hand_computed_binary_and_multiclass)
{
    /* Binary. Bin 9: 0.9 x 5 rows, 3 positive -> |0.9 - 0.6| weight 5/8. Bin 1: 0.1 x 3 rows,
     * none positive -> |0.1 - 0| weight 3/8. ECE = 0.3 * 5/8 + 0.1 * 3/8 = 0.225. */
    const double s[] = {0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1};
    const int32_t y[] = {1, 1, 1, 0, 0, 0, 0, 0};
    static bin_preds b;
    bin_fill(&b, s, y, 8);
    ck_assert_double_eq_tol(eval_all(FS_METRIC_ECE, &b.p), 0.225, 1e-12);
    /* Three classes, top-label confidence. Rows: conf 0.6 right, 0.6 wrong (bin 6: |0.6-0.5|);
     * conf 0.8 right (bin 8: |0.8 - 1|); conf 1.0 right (bin 9: 0). ECE = (2*0.1 + 0.2) / 4. */
    const double probs[] = {0.6, 0.3, 0.1, 0.3, 0.6, 0.1, 0.1, 0.1, 0.8, 0.0, 1.0, 0.0};
    const int32_t ym[] = {0, 0, 2, 1};
    fs_predictions p = {.n = 4, .n_classes = 3, .probs = probs, .y = ym};
    ck_assert_double_eq_tol(eval_all(FS_METRIC_ECE, &p), 0.1, 1e-12);
}
END_TEST

START_TEST(regression_mse_and_rmse_hand_values)
{
    const double pred[] = {1.0, 2.0, 3.0, 4.0};
    const float target[] = {1.5f, 2.0f, 1.0f, 5.0f};
    fs_predictions p = {.n = 4, .n_classes = 0, .probs = pred, .target = target};
    /* Errors -0.5, 0, 2, -1: squares sum to 5.25, MSE 1.3125. */
    ck_assert_double_eq_tol(eval_all(FS_METRIC_LOSS, &p), 1.3125, 1e-15);
    ck_assert_double_eq_tol(eval_all(FS_METRIC_RMSE, &p), sqrt(1.3125), 1e-15);
    ck_assert(isnan(eval_all(FS_METRIC_ACCURACY, &p)));
    ck_assert(isnan(eval_all(FS_METRIC_AUC, &p)));
    ck_assert(isnan(eval_all(FS_METRIC_ECE, &p)));
}
END_TEST

START_TEST(accuracy_and_log_loss_known_case)
{
    /* Binary, tie in row 2 predicts class 0. Rows: (0.2,0.8) y1 right, (0.7,0.3) y1 wrong,
     * (0.5,0.5) y0 right, (1,0) y1 wrong and clamped to 1e-15. */
    const double probs[] = {0.2, 0.8, 0.7, 0.3, 0.5, 0.5, 1.0, 0.0};
    const int32_t y[] = {1, 1, 0, 1};
    fs_predictions p = {.n = 4, .n_classes = 2, .probs = probs, .y = y};
    ck_assert_double_eq(eval_all(FS_METRIC_ACCURACY, &p), 0.5);
    double want = -(log(0.8) + log(0.3) + log(0.5) + log(1e-15)) / 4;
    ck_assert_double_eq_tol(eval_all(FS_METRIC_LOSS, &p), want, 1e-12);
    /* Three classes. */
    const double pm[] = {0.1, 0.7, 0.2, 0.5, 0.25, 0.25, 0.3, 0.3, 0.4};
    const int32_t ym[] = {1, 2, 2};
    fs_predictions q = {.n = 3, .n_classes = 3, .probs = pm, .y = ym};
    ck_assert_double_eq_tol(eval_all(FS_METRIC_ACCURACY, &q), 2.0 / 3.0, 1e-15);
    ck_assert_double_eq_tol(eval_all(FS_METRIC_LOSS, &q), -(log(0.7) + log(0.25) + log(0.4)) / 3,
                            1e-12);
}
END_TEST

START_TEST(subset_equals_gathered_rows)
{
    enum { N = 300 };
    static bin_preds full, gathered;
    double s[N], sg[N];
    int32_t y[N], yg[N];
    uint32_t subset[N];
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 5, FS_RNG_DATA, FS_RNG_NONE, FS_RNG_NONE);
    for (int i = 0; i < N; i++) {
        s[i] = round(gsl_rng_uniform(r) * 20) / 20;
        y[i] = gsl_rng_uniform(r) < s[i];
    }
    size_t k = 0;
    for (uint32_t i = N; i-- > 0;) /* every third row, in reverse order */
        if (i % 3 == 1) subset[k] = i, sg[k] = s[i], yg[k] = y[i], k++;
    bin_fill(&full, s, y, N);
    bin_fill(&gathered, sg, yg, k);
    void *scratch = malloc(fs_metric_scratch_bytes(k));
    for (int m = 0; m < FS_METRIC_RMSE; m++) {
        double a = fs_metric_eval((fs_metric)m, &full.p, subset, k, scratch);
        double b = fs_metric_eval((fs_metric)m, &gathered.p, NULL, k, scratch);
        ck_assert_msg(a == b, "%s: subset %.17g, gathered %.17g", fs_metric_name(m), a, b);
        ck_assert(isfinite(a));
    }
    free(scratch);
    gsl_rng_free(r);
}
END_TEST

/* Labels checked once give every metric what checking them on each call gave, on the whole set
 * and on subsets; a label out of range leaves them unchecked (the subsets that hold it are NaN,
 * the others are not), and a subset row past the end is NaN either way. */
START_TEST(labels_checked_once_give_the_same_values)
{
    double s[6] = {0.9, 0.2, 0.6, 0.4, 0.8, 0.1};
    int32_t y[6] = {1, 0, 1, 0, 0, 1};
    static bin_preds b;
    bin_fill(&b, s, y, 6);
    fs_predictions checked = b.p;
    fs_metric_check_labels(&checked);
    ck_assert(checked.labels_checked);
    uint32_t sub[4] = {5, 0, 3, 2}, past[2] = {1, 6};
    char scratch[4096];
    ck_assert_uint_le(fs_metric_scratch_bytes(6), sizeof scratch);
    for (int m = 0; m < FS_METRIC_COUNT; m++) {
        double a = fs_metric_eval((fs_metric)m, &b.p, sub, 4, scratch);
        double c = fs_metric_eval((fs_metric)m, &checked, sub, 4, scratch);
        ck_assert(memcmp(&a, &c, sizeof a) == 0);
        a = fs_metric_eval((fs_metric)m, &b.p, NULL, 6, scratch);
        c = fs_metric_eval((fs_metric)m, &checked, NULL, 6, scratch);
        ck_assert(memcmp(&a, &c, sizeof a) == 0);
        ck_assert(isnan(fs_metric_eval((fs_metric)m, &checked, past, 2, scratch)));
        ck_assert(isnan(fs_metric_eval((fs_metric)m, &checked, NULL, 7, scratch)));
    }
    b.y[3] = 2; /* out of range for 2 classes */
    fs_predictions bad = b.p;
    fs_metric_check_labels(&bad);
    ck_assert(!bad.labels_checked);
    ck_assert(isnan(fs_metric_eval(FS_METRIC_ACCURACY, &bad, sub, 4, scratch)));
    ck_assert(!isnan(fs_metric_eval(FS_METRIC_ACCURACY, &bad, sub, 2, scratch)));
}
END_TEST

START_TEST(worst_decile_known_vectors)
{
    double v[25], scratch[50];
    for (int i = 0; i < 25; i++)
        v[i] = (double)((i * 7) % 25); /* 0 .. 24, shuffled */
    /* ceil(25 / 10) = 3 worst: 0, 1, 2 when higher is better; 22, 23, 24 otherwise. */
    ck_assert_double_eq(fs_metric_worst_decile(v, 25, false, scratch), 1.0);
    ck_assert_double_eq(fs_metric_worst_decile(v, 25, true, scratch), 23.0);
    /* NaNs are ignored: 10 finite values -> worst 1. */
    double w[14] = {0.5, NAN, 0.9, 0.7, NAN, 0.6, 0.8, 0.95, 0.4, NAN, 0.85, 0.65, NAN, 0.75};
    ck_assert_double_eq(fs_metric_worst_decile(w, 14, false, scratch), 0.4);
    ck_assert_double_eq(fs_metric_worst_decile(w, 14, true, scratch), 0.95);
    double one[1] = {3.5};
    ck_assert_double_eq(fs_metric_worst_decile(one, 1, true, scratch), 3.5);
    double none[3] = {NAN, NAN, NAN};
    ck_assert(isnan(fs_metric_worst_decile(none, 3, false, scratch)));
    ck_assert(isnan(fs_metric_worst_decile(none, 0, false, scratch)));
}
END_TEST

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The worst decile is the sorted mean of the worst values, bit for bit, on values of both signs
 * with many ties and zeros of both signs (the radix sort's keys order them numerically). */
START_TEST(worst_decile_equals_sorting_and_summing)
{
    enum { N = 3001 };
    double *v = malloc(N * sizeof *v), *scratch = malloc(2 * N * sizeof *scratch),
           *ref = malloc(N * sizeof *ref);
    ck_assert(v && scratch && ref);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 5, FS_RNG_DATA, FS_RNG_NONE, 1);
    size_t m = 0;
    for (int i = 0; i < N; i++) {
        double x = i % 7 == 0 ? (double)((int)gsl_rng_uniform_int(r, 9) - 4) / 3
                              : gsl_rng_uniform(r) * 10 - 5;
        v[i] = i % 50 == 0 ? NAN : i % 31 == 0 ? (i % 2 ? -0.0 : 0.0) : x;
        if (!isnan(v[i])) ref[m++] = v[i];
    }
    qsort(ref, m, sizeof *ref, by_value);
    size_t w = (m + 9) / 10;
    for (int lower = 0; lower < 2; lower++) {
        double want = 0;
        for (size_t i = lower ? m - w : 0, end = i + w; i < end; i++) want += ref[i];
        want /= (double)w;
        double got = fs_metric_worst_decile(v, N, lower, scratch);
        ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%a, not %a", got, want);
    }
    gsl_rng_free(r);
    free(v), free(scratch), free(ref);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *su = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, metric_names_round_trip);
    tcase_add_test(tc, metric_table_fits_and_lists);
    tcase_add_test(tc, brier_hand_computed_case);
    tcase_add_test(tc, worst_decile_equals_sorting_and_summing);
    tcase_add_test(tc, labels_checked_once_give_the_same_values);
    tcase_add_test(tc, auc_hand_computed_cases);
    tcase_add_test(tc, auc_matches_bruteforce_with_many_ties);
    tcase_add_test(tc, auc_matches_bruteforce_when_one_class_is_rare);
    tcase_add_test(tc, auc_matches_bruteforce_over_signs_magnitudes_and_zeros);
    tcase_add_test(tc, auc_matches_bruteforce_when_scores_share_their_top_bits);
    tcase_add_test(tc, auc_nan_when_undefined);
    tcase_add_test(tc, ece_zero_when_bins_are_calibrated);
    tcase_add_test(tc, ece_hand_computed_binary_and_multiclass);
    tcase_add_test(tc, regression_mse_and_rmse_hand_values);
    tcase_add_test(tc, accuracy_and_log_loss_known_case);
    tcase_add_test(tc, subset_equals_gathered_rows);
    tcase_add_test(tc, worst_decile_known_vectors);
    suite_add_tcase(su, tc);
    return su;
}

FS_TEST_MAIN(metrics_suite)
