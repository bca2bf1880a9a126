/* fs_metrics: the metric descriptor table and the metrics (accuracy, log loss / MSE, exact AUC,
 * ECE, RMSE, Brier) over all rows or a subset, and the worst-decile fairness summary. Sums run
 * in row order, so a result never depends on threads; the only memory touched besides the inputs
 * is the caller's scratch, which holds the sort buffers (no malloc, and no qsort, which may malloc
 * internally in glibc). */
#include "fs_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* AUC sorts the score keys of the positive rows and of the negative ones apart (metric_key):
 * plain 8-byte keys, no label beside them, half the bytes a radix pass moves. */

/* The keys of both classes and the radix sort's second buffer. */
size_t fs_metric_scratch_bytes(size_t k)
{
    return 2 * k * sizeof(uint64_t);
}

/* Flips the sign bit of a positive double and every bit of a negative one: unsigned order is then
 * numeric order. -0 is taken as +0 first, so equal scores have equal keys. Not for NaN. */
static uint64_t metric_key(double s)
{
    if (s == 0) s = 0;
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    return u >> 63 ? ~u : u | UINT64_C(1) << 63;
}

/* LSD radix sort of a[0..k), a byte a pass, b the second buffer; returns the one holding the
 * result. A pass whose byte is the same in every key is skipped: scores in [0, 1] share their
 * top bytes. The AUC of 340,000 test rows took 0.2 s in a generic heapsort, 52% of a shipped
 * ctr_regions run. */
static uint64_t *metric_radix_sort(uint64_t *a, uint64_t *b, size_t k)
{
    enum { BYTES = 8 };
    size_t count[BYTES][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < k; i++)
        for (int d = 0; d < BYTES; d++) count[d][(a[i] >> (8 * d)) & 255]++;
    for (int d = 0; d < BYTES && k > 0; d++) {
        size_t *c = count[d], sum = 0;
        if (c[(a[0] >> (8 * d)) & 255] == k) continue;
        for (int v = 0; v < 256; v++) {
            size_t n = c[v];
            c[v] = sum;
            sum += n;
        }
        for (size_t i = 0; i < k; i++) b[c[(a[i] >> (8 * d)) & 255]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    return a;
}

/* ---- row access and validation */

static inline size_t metric_row(const uint32_t *subset, size_t i)
{
    return subset ? subset[i] : i;
}

/* Every metric is undefined (NaN) on inputs that do not describe k valid rows: a row index past
 * n, a label outside 0 .. n_classes-1, or the arrays the task needs missing. */
static bool metric_rows_valid(const fs_predictions *p, const uint32_t *subset, size_t k)
{
    bool reg = p->n_classes == 0;
    if (!p->probs || p->n_classes < 0 || (reg ? !p->target : !p->y)) return false;
    if (p->labels_checked) {
        for (size_t i = 0; subset && i < k; i++)
            if (subset[i] >= p->n) return false;
        return subset || k <= p->n;
    }
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        if (r >= p->n) return false;
        if (!reg && (p->y[r] < 0 || p->y[r] >= p->n_classes)) return false;
    }
    return true;
}

void fs_metric_check_labels(fs_predictions *p)
{
    p->labels_checked = false;
    p->labels_checked = metric_rows_valid(p, NULL, p->n);
}

/* Lowest index of the largest probability, so a tie in a binary row predicts class 0. */
static int metric_argmax(const double *row, int n_classes)
{
    int best = 0;
    for (int c = 1; c < n_classes; c++)
        if (row[c] > row[best]) best = c;
    return best;
}

/* ---- the metrics */

static double metric_accuracy(const fs_predictions *p, const uint32_t *subset, size_t k,
                              void *scratch)
{
    (void)scratch;
    size_t hits = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        hits += metric_argmax(p->probs + r * (size_t)p->n_classes, p->n_classes) == p->y[r];
    }
    return (double)hits / (double)k;
}

/* Clamped to [1e-15, 1] so one confident mistake costs ~34.5, not infinity; a NaN probability
 * (a diverged model) stays NaN rather than hiding behind the clamp. */
static double metric_logloss(const fs_predictions *p, const uint32_t *subset, size_t k)
{
    double sum = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        double q = p->probs[r * (size_t)p->n_classes + (size_t)p->y[r]];
        q = q < 1e-15 ? 1e-15 : q > 1 ? 1 : q;
        sum -= log(q);
    }
    return sum / (double)k;
}

static double metric_mse(const fs_predictions *p, const uint32_t *subset, size_t k)
{
    double sum = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        double e = p->probs[r] - (double)p->target[r];
        sum += e * e;
    }
    return sum / (double)k;
}

/* Mann-Whitney U, counted as 2U in integers so the result is exact up to the final division:
 * every (positive, negative) pair adds 2 when the positive scores higher, 1 when they tie. */

/* Both classes sorted ascending: each group of equal positive keys adds pos_g * (2 neg_below +
 * neg_g), its negatives below and equal found by walking the negatives alongside. */
static uint64_t auc_twice_u_merged(const uint64_t *pos, size_t n_pos, const uint64_t *neg,
                                   size_t n_neg)
{
    uint64_t neg_below = 0, twice_u = 0;
    for (size_t i = 0, j; i < n_pos; i = j) {
        uint64_t key = pos[i], neg_eq = 0;
        for (j = i; j < n_pos && pos[j] == key; j++) {
        }
        while (neg_below < n_neg && neg[neg_below] < key) neg_below++;
        while (neg_below + neg_eq < n_neg && neg[neg_below + neg_eq] == key) neg_eq++;
        twice_u += (uint64_t)(j - i) * (2 * neg_below + neg_eq);
    }
    return twice_u;
}

/* Click and fraud data have one class fifty times rarer than the other. Sorting both classes
 * 8 bytes a pass was a tenth of the shipped ctr_regions run (perf: the test set's AUC, overall
 * and by region, every tenth round); sorting only the rare class and placing each key of the
 * common one among its keys through a table of buckets took its evaluation from 0.40-0.43 s to
 * 0.30-0.32 s. Used when the rarer class is under a fifth of the rows. */
#define AUC_RARE_SHARE 5
#define AUC_BUCKETS_MAX_BITS 16

/* The rare class's sorted keys a[0..m) (m >= 1), split into 2^bits buckets of (key - a[0]) >>
 * shift, and first[t]: how many keys lie in the buckets before t (first[2^bits] = m). */
typedef struct auc_buckets {
    const uint64_t *a;
    size_t m;
    unsigned shift;
    uint32_t *first;
} auc_buckets;

static void auc_buckets_build(auc_buckets *bk, const uint64_t *a, size_t m, uint32_t *first)
{
    unsigned bits = 1; /* about four buckets a key, at most 2^16 */
    while (bits < AUC_BUCKETS_MAX_BITS && ((size_t)1 << bits) < 4 * m) bits++;
    uint64_t span = a[m - 1] - a[0];
    unsigned used = span ? 64 - (unsigned)__builtin_clzll(span) : 0;
    *bk = (auc_buckets){a, m, used > bits ? used - bits : 0, first};
    size_t n_buckets = (size_t)1 << bits, t = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t b = (a[i] - a[0]) >> bk->shift; t <= b; t++) first[t] = (uint32_t)i;
    for (; t <= n_buckets; t++) first[t] = (uint32_t)m;
}

/* The first i in [lo, hi) with a[i] > x (past_equal) or a[i] >= x; hi when none. */
static size_t auc_bound(const uint64_t *a, size_t lo, size_t hi, uint64_t x, bool past_equal)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (past_equal ? a[mid] <= x : a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* How many of the rare keys lie below x (*below) and equal it (*equal). Keys in earlier buckets
 * are below x, in later ones above: only x's own bucket is searched, by a scan when short (most
 * hold none or one), by bisection when long (ties, or keys bunched together). */
static void auc_place(const auc_buckets *bk, uint64_t x, size_t *below, size_t *equal)
{
    const uint64_t *a = bk->a;
    if (x < a[0] || x > a[bk->m - 1]) {
        *below = x < a[0] ? 0 : bk->m, *equal = 0;
        return;
    }
    size_t t = (x - a[0]) >> bk->shift, lo = bk->first[t], hi = bk->first[t + 1], lt, le;
    if (hi - lo <= 8) {
        lt = le = lo;
        for (size_t i = lo; i < hi; i++) lt += a[i] < x, le += a[i] <= x;
    } else {
        lt = auc_bound(a, lo, hi, x, false);
        le = auc_bound(a, lt, hi, x, true);
    }
    *below = lt, *equal = le - lt;
}

/* rare[0..m) sorted, the common class's keys unsorted: 2U summed over the common keys. */
static uint64_t auc_twice_u_placed(const uint64_t *rare, size_t m, bool rare_is_pos,
                                   const uint64_t *common, size_t n, uint32_t *first)
{
    auc_buckets bk;
    auc_buckets_build(&bk, rare, m, first);
    uint64_t twice_u = 0;
    for (size_t i = 0; i < n; i++) {
        size_t below, equal;
        auc_place(&bk, common[i], &below, &equal);
        /* a negative scores under (m - below - equal) positives, ties `equal`; a positive
         * scores over `below` negatives */
        twice_u += rare_is_pos ? 2 * (m - below - equal) + equal : 2 * below + equal;
    }
    return twice_u;
}

/* keys: the scratch, 2k keys: the positives' keys from the front, the negatives' from the back of
 * its first half; the second half is the radix sort's buffer, or the rare class's and its
 * bucket table. */
static double metric_auc(const fs_predictions *p, const uint32_t *subset, size_t k,
                         uint64_t *keys)
{
    size_t n_pos = 0, n_neg = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        double s = p->probs[2 * r + 1];
        if (isnan(s)) return NAN;
        if (p->y[r] == 1) keys[n_pos++] = metric_key(s);
        else keys[k - ++n_neg] = metric_key(s);
    }
    if (n_pos == 0 || n_neg == 0) return NAN;
    uint64_t *pos = keys, *neg = keys + n_pos, twice_u;
    bool pos_rare = n_pos <= n_neg;
    size_t m = pos_rare ? n_pos : n_neg, n = k - m;
    /* the table (4 (2^bits + 1) bytes, bits <= log2(4m) + 1) fits the buffer's room after the
     * rare keys, 8 (k - m) bytes, whenever the common class is 5 times larger */
    if (m * AUC_RARE_SHARE < n) {
        const uint64_t *rare = metric_radix_sort(pos_rare ? pos : neg, keys + k, m);
        twice_u = auc_twice_u_placed(rare, m, pos_rare, pos_rare ? neg : pos, n,
                                     (uint32_t *)(void *)(keys + k + m));
    } else {
        const uint64_t *sp = metric_radix_sort(pos, keys + k, n_pos);
        const uint64_t *sn = metric_radix_sort(neg, keys + k + n_pos, n_neg);
        twice_u = auc_twice_u_merged(sp, n_pos, sn, n_neg);
    }
    return (double)twice_u / (2.0 * (double)n_pos * (double)n_neg);
}

/* Confidence and correctness of one row: binary tasks bin p(class 1) against the label
 * (reliability of the positive-class probability); multiclass tasks bin the top-label
 * confidence against whether the top label is right (Guo et al. 2017). */
static void metric_ece_row(const fs_predictions *p, size_t r, double *conf, double *hit)
{
    const double *row = p->probs + r * (size_t)p->n_classes;
    if (p->n_classes == 2) {
        *conf = row[1];
        *hit = p->y[r] == 1;
        return;
    }
    int top = metric_argmax(row, p->n_classes);
    *conf = row[top];
    *hit = top == p->y[r];
}

/* 10 equal-width bins, weighted by count: sum_b (n_b / k) |mean conf_b - mean hit_b|, which is
 * sum_b |sum conf_b - sum hit_b| / k. Confidence 1 goes to the top bin; values a rounding error
 * outside [0, 1] go to the nearest bin. */
static double metric_ece(const fs_predictions *p, const uint32_t *subset, size_t k,
                         void *scratch)
{
    (void)scratch;
    enum { N_BINS = 10 };
    double conf_sum[N_BINS] = {0}, hit_sum[N_BINS] = {0};
    for (size_t i = 0; i < k; i++) {
        double conf, hit;
        metric_ece_row(p, metric_row(subset, i), &conf, &hit);
        if (isnan(conf)) return NAN;
        int b = conf <= 0 ? 0 : conf >= 1 ? N_BINS - 1 : (int)(conf * N_BINS);
        b = b >= N_BINS ? N_BINS - 1 : b;
        conf_sum[b] += conf;
        hit_sum[b] += hit;
    }
    double ece = 0;
    for (int b = 0; b < N_BINS; b++) ece += fabs(conf_sum[b] - hit_sum[b]);
    return ece / (double)k;
}

static double metric_loss(const fs_predictions *p, const uint32_t *subset, size_t k, void *scratch)
{
    (void)scratch;
    return p->n_classes == 0 ? metric_mse(p, subset, k) : metric_logloss(p, subset, k);
}

static double metric_rmse(const fs_predictions *p, const uint32_t *subset, size_t k, void *scratch)
{
    (void)scratch;
    return sqrt(metric_mse(p, subset, k));
}

static double metric_auc_of(const fs_predictions *p, const uint32_t *subset, size_t k,
                            void *scratch)
{
    return scratch ? metric_auc(p, subset, k, scratch) : NAN;
}

/* Mean squared distance of p(class 1) from the 0/1 label, summed in row order. */
static double metric_brier(const fs_predictions *p, const uint32_t *subset, size_t k, void *scratch)
{
    (void)scratch;
    double sum = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = metric_row(subset, i);
        double e = p->probs[2 * r + 1] - (p->y[r] == 1);
        sum += e * e;
    }
    return sum / (double)k;
}

#define CLASSES (FS_TASK_BINARY | FS_TASK_MULTICLASS)
static const fs_metric_info metric_table[FS_METRIC_COUNT] = {
    [FS_METRIC_ACCURACY] = {"accuracy", "accuracy", "test accuracy (fraction correct)", false, true,
                            CLASSES, metric_accuracy},
    [FS_METRIC_LOSS] = {"loss", "loss", "test loss (mean log loss, nats; MSE for ratings)", true,
                        false, CLASSES | FS_TASK_REGRESSION, metric_loss},
    [FS_METRIC_AUC] = {"auc", "AUC", "test ROC AUC", false, true, FS_TASK_BINARY, metric_auc_of},
    [FS_METRIC_ECE] = {"ece", "ECE", "expected calibration error (0-1)", true, true, CLASSES,
                       metric_ece},
    [FS_METRIC_RMSE] = {"rmse", "RMSE", "RMSE (rating units)", true, false, FS_TASK_REGRESSION,
                        metric_rmse},
    [FS_METRIC_HR10] = {"hr10", "HR@10", "hit rate at 10 (fraction)", false, true,
                        FS_TASK_RECOMMENDER, NULL},
    [FS_METRIC_BRIER] = {"brier", "Brier score", "Brier score (mean squared error of p, 0-1)", true,
                         true, FS_TASK_BINARY, metric_brier},
};

const fs_metric_info *fs_metric_info_of(fs_metric m)
{
    return (unsigned)m < FS_METRIC_COUNT ? &metric_table[m] : NULL;
}

const char *fs_metric_name(fs_metric m)
{
    return (unsigned)m < FS_METRIC_COUNT ? metric_table[m].name : "unknown";
}

fs_metric fs_metric_from_name(const char *name)
{
    for (int m = 0; m < FS_METRIC_COUNT; m++)
        if (name && !strcmp(name, metric_table[m].name)) return (fs_metric)m;
    return FS_METRIC_COUNT;
}

bool fs_metric_lower_is_better(fs_metric m)
{
    return (unsigned)m < FS_METRIC_COUNT && metric_table[m].lower_is_better;
}

unsigned fs_metric_task_of(int n_classes, bool recommender)
{
    unsigned t = n_classes == 0   ? FS_TASK_REGRESSION
                 : n_classes == 2 ? FS_TASK_BINARY
                                  : FS_TASK_MULTICLASS;
    return t | (recommender ? FS_TASK_RECOMMENDER : 0u);
}

bool fs_metric_fits(fs_metric m, int n_classes, bool recommender)
{
    return (unsigned)m < FS_METRIC_COUNT &&
           (metric_table[m].tasks & fs_metric_task_of(n_classes, recommender));
}

void fs_metric_list(unsigned tasks, char *buf, size_t n)
{
    size_t at = 0;
    if (n) buf[0] = '\0';
    for (int m = 0; m < FS_METRIC_COUNT && at < n; m++)
        if (metric_table[m].tasks & tasks)
            at += (size_t)snprintf(buf + at, n - at, "%s\"%s\"", at ? ", " : "",
                                   metric_table[m].name);
}

double fs_metric_eval(fs_metric m, const fs_predictions *p, const uint32_t *subset, size_t k,
                      void *scratch)
{
    const fs_metric_info *mi = fs_metric_info_of(m);
    if (!mi || !mi->eval || !(mi->tasks & fs_metric_task_of(p->n_classes, false))) return NAN;
    if (k == 0 || !metric_rows_valid(p, subset, k)) return NAN;
    return mi->eval(p, subset, k, scratch);
}

/* metric_key's inverse (-0 comes back as +0, which no sum below tells apart). */
static double metric_unkey(uint64_t u)
{
    u = u >> 63 ? u & ~(UINT64_C(1) << 63) : ~u;
    double s;
    memcpy(&s, &u, sizeof s);
    return s;
}

/* The worst ceil(m / 10) of the m finite values: the lowest when higher is better, the highest
 * otherwise; averaged in sorted order so the result does not depend on client order. Sorted by
 * the AUC's radix sort: 100,000 clients' accuracies took 1.8 ms to heapsort, a twelfth of an
 * evaluation of the shipped ctr_regions. */
double fs_metric_worst_decile(const double *client_values, size_t n, bool lower_is_better,
                              double *scratch)
{
    uint64_t *keys = (uint64_t *)(void *)scratch;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(client_values[i])) keys[m++] = metric_key(client_values[i]);
    if (m == 0) return NAN;
    const uint64_t *sorted = metric_radix_sort(keys, keys + m, m);
    size_t w = (m + 9) / 10, first = lower_is_better ? m - w : 0;
    double sum = 0;
    for (size_t i = first; i < first + w; i++) sum += metric_unkey(sorted[i]);
    return sum / (double)w;
}
