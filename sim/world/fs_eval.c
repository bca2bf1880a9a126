/* fs_eval: chunked parallel prediction (across threads, and across MPI ranks to rank 0), then
 * metrics over all rows, segments and clients. */
#include "fs_eval.h"

#include "fs_attack.h"
#include "fs_mpi.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256
#define METRIC_THREADS_MAX 4
#define WORST_CLIENTS_PARALLEL_MIN 4096
#define FS_EVAL_TAG 21 /* predictions to rank 0 */

/* Defaults by task: what a planner looks at first comes first. */
static size_t default_metrics(int n_classes, bool recommender, fs_metric *out)
{
    if (n_classes == 0) {
        out[0] = FS_METRIC_RMSE, out[1] = FS_METRIC_LOSS, out[2] = FS_METRIC_HR10;
        return recommender ? 3 : 2;
    }
    if (n_classes == 2) {
        out[0] = FS_METRIC_AUC, out[1] = FS_METRIC_LOSS, out[2] = FS_METRIC_ACCURACY;
        out[3] = FS_METRIC_ECE;
        return 4;
    }
    out[0] = FS_METRIC_ACCURACY, out[1] = FS_METRIC_LOSS;
    return 2;
}

static int pick_metrics(fs_evaluator *ev, const fs_scenario *s, int n_classes, fs_err *err)
{
    bool recommender = ev->world->model->n_personal > 0 && ev->world->test_part.n_clients > 0;
    if (!s->eval.n_metrics) {
        ev->n_metrics = default_metrics(n_classes, recommender, ev->metrics);
        return FS_OK;
    }
    int rc = FS_OK;
    for (size_t i = 0; i < s->eval.n_metrics; i++) {
        char path[40];
        snprintf(path, sizeof path, "eval.metrics[%zu]", i);
        /* fs_world_init refused this already (fs_scn_check_shape); kept for direct callers */
        if (fs_scn_check_metric_fits(s, err, path, s->eval.metrics[i], n_classes, recommender))
            rc = FS_ESCENARIO;
        ev->metrics[ev->n_metrics++] = fs_metric_from_name(s->eval.metrics[i]);
    }
    return rc;
}

static int find_groups(const fs_dataset *test, const fs_scenario *s, int *out_groups, fs_err *err)
{
    int rc = FS_OK;
    for (size_t i = 0; i < s->eval.n_segments; i++) {
        out_groups[i] = fs_dataset_find_group(test, s->eval.segments[i]);
        if (out_groups[i] >= 0) continue;
        char path[40], have[256] = "none";
        snprintf(path, sizeof path, "eval.segments[%zu]", i);
        for (size_t g = 0, at = 0; g < test->n_groups && at < sizeof have; g++)
            at += (size_t)snprintf(have + at, sizeof have - at, "%s%s", g ? ", " : "",
                                   test->groups[g].name);
        fs_err_add(err, path, "expected a group column of the data (%s), found \"%s\"", have,
                   s->eval.segments[i]);
        rc = FS_ESCENARIO;
    }
    return rc;
}

/* Row lists of every level of the chosen groups, stored back to back (a counting sort). */
/* Test rows owned by clients who did not consent: never read (NULL when there are none). */
static bool *excluded_rows(const fs_world *w, const fs_pop *pop)
{
    const fs_partition *tp = &w->test_part;
    bool any = false;
    for (size_t c = 0; pop && c < tp->n_clients && !any; c++)
        any = !pop->clients[c].consent;
    if (!any) return NULL;
    bool *out = calloc(w->test.n ? w->test.n : 1, sizeof *out);
    for (size_t c = 0; out && c < tp->n_clients; c++)
        if (!pop->clients[c].consent)
            for (size_t i = tp->offset[c]; i < tp->offset[c + 1]; i++)
                out[tp->rows[i]] = true;
    return out;
}

static int build_segments(fs_evaluator *ev, const fs_dataset *test, const int *groups,
                          size_t n_groups, const bool *skip)
{
    size_t n_seg = 1;
    for (size_t i = 0; i < n_groups; i++)
        n_seg += test->groups[groups[i]].n_levels;
    ev->segments = calloc(n_seg, sizeof *ev->segments);
    ev->segment_rows = malloc(((n_groups + 1) * test->n + 1) * sizeof *ev->segment_rows);
    if (!ev->segments || !ev->segment_rows) return FS_ENOMEM;
    ev->segments[0] = (fs_segment){.name = "all", .rows = NULL, .n = test->n};
    size_t at = 0, k = 1;
    if (skip) {
        ev->segments[0].rows = ev->segment_rows;
        for (size_t r = 0; r < test->n; r++)
            if (!skip[r]) ev->segment_rows[at++] = (uint32_t)r;
        ev->segments[0].n = at;
    }
    for (size_t i = 0; i < n_groups; i++) {
        const fs_group *g = &test->groups[groups[i]];
        for (size_t lv = 0; lv < g->n_levels; lv++, k++) {
            fs_segment *seg = &ev->segments[k];
            if (g->level_names)
                snprintf(seg->name, sizeof seg->name, "%s=%s", g->name, g->level_names[lv]);
            else
                snprintf(seg->name, sizeof seg->name, "%s=%zu", g->name, lv);
            seg->rows = ev->segment_rows + at;
            for (size_t r = 0; r < test->n; r++)
                if (g->level[r] == lv && !(skip && skip[r])) ev->segment_rows[at++] = (uint32_t)r;
            seg->n = (size_t)(ev->segment_rows + at - seg->rows);
        }
    }
    ev->n_segments = n_seg;
    return FS_OK;
}

static int alloc_buffers(fs_evaluator *ev, const fs_world *w)
{
    size_t n = w->test.n, width = w->test.n_classes > 0 ? (size_t)w->test.n_classes : 1;
    size_t n_clients = w->test_part.n_clients;
    ev->scratch = calloc((size_t)ev->n_threads, sizeof *ev->scratch);
    ev->probs = malloc((n ? n : 1) * width * sizeof *ev->probs);
    /* each metric thread sorts in its own scratch (32 bytes a test row): a few suffice */
    ev->metric_threads = ev->n_threads < METRIC_THREADS_MAX ? ev->n_threads : METRIC_THREADS_MAX;
    ev->metric_scratch = calloc((size_t)ev->metric_threads, sizeof *ev->metric_scratch);
    for (int i = 0; ev->metric_scratch && i < ev->metric_threads; i++)
        if (!(ev->metric_scratch[i] = malloc(fs_metric_scratch_bytes(n ? n : 1))))
            return FS_ENOMEM;
    ev->client_values = malloc((n_clients ? n_clients : 1) * sizeof *ev->client_values);
    ev->client_scratch = malloc(2 * (n_clients ? n_clients : 1) * sizeof *ev->client_scratch);
    ev->rows = calloc(ev->n_metrics * (ev->n_segments + 1) + 3, sizeof *ev->rows);
    if (!ev->scratch || !ev->probs || !ev->metric_scratch || !ev->client_values ||
        !ev->client_scratch || !ev->rows)
        return FS_ENOMEM;
    for (int i = 0; i < ev->n_threads; i++)
        if (!(ev->scratch[i] = fs_model_scratch_new(w->model))) return FS_ENOMEM;
    return FS_OK;
}

/* The test partition with opted-out clients' rows removed (their slices left empty). */
static int consenting_partition(const fs_partition *tp, const fs_pop *pop, fs_partition *out)
{
    out->n_clients = tp->n_clients;
    out->offset = calloc(tp->n_clients + 1, sizeof *out->offset);
    out->rows = malloc((tp->offset[tp->n_clients] + 1) * sizeof *out->rows);
    if (!out->offset || !out->rows) return FS_ENOMEM;
    size_t at = 0;
    for (size_t c = 0; c < tp->n_clients; c++) {
        if (pop->clients[c].consent)
            for (size_t i = tp->offset[c]; i < tp->offset[c + 1]; i++)
                out->rows[at++] = tp->rows[i];
        out->offset[c + 1] = at;
    }
    return FS_OK;
}

/* The backdoor's success rows (fs_attack_backdoor_rows) and their predictions' buffer. */
static int backdoor_init(fs_evaluator *ev, const fs_world *w, const fs_scenario *s)
{
    const fs_dataset *test = &w->test;
    int32_t level = s->eval.n_segments ? fs_attack_level_index(test, s->eval.segments[0],
                                                               s->adversary.bd_segment)
                                       : -1;
    int rc = FS_OK;
    ev->backdoor = true;
    ev->bd_label = s->adversary.bd_label;
    if (!(ev->bd_rows = malloc((test->n ? test->n : 1) * sizeof *ev->bd_rows))) return FS_ENOMEM;
    ev->bd_n = fs_attack_backdoor_rows(s, test, level, ev->bd_rows, &ev->bd_triggered, &rc);
    if (rc || !ev->bd_triggered.n) return rc;
    ev->bd_probs = malloc(ev->bd_n * (size_t)test->n_classes * sizeof *ev->bd_probs);
    return ev->bd_probs ? FS_OK : FS_ENOMEM;
}

int fs_evaluator_init(fs_evaluator *ev, const fs_world *w, const fs_scenario *s, const fs_pop *pop,
                      int n_threads, fs_err *err)
{
    memset(ev, 0, sizeof *ev);
    ev->pop = pop;
    ev->world = w;
    ev->seed = s->population_seed;
    ev->n_threads = n_threads > 0 ? n_threads : 1;
    ev->worst_clients = s->eval.worst_clients && w->test_part.n_clients > 0;
    if (s->eval.train_metrics) {
        size_t width = w->train.n_classes > 0 ? (size_t)w->train.n_classes : 1;
        ev->train_probs = malloc((w->train.n ? w->train.n : 1) * width * sizeof *ev->train_probs);
        ev->train_scratch = malloc(fs_metric_scratch_bytes(w->train.n ? w->train.n : 1));
        if (!ev->train_probs || !ev->train_scratch) {
            fs_evaluator_fini(ev);
            fs_err_add(err, NULL, "out of memory preparing the evaluation");
            return FS_ENOMEM;
        }
    }
    int groups[FS_SCN_MAX_NAMES];
    int rc = pick_metrics(ev, s, w->test.n_classes, err);
    int rc2 = find_groups(&w->test, s, groups, err);
    if (rc || rc2) return FS_ESCENARIO;
    bool *skip = excluded_rows(w, pop);
    rc = build_segments(ev, &w->test, groups, s->eval.n_segments, skip);
    if (!rc && skip) rc = consenting_partition(&w->test_part, pop, &ev->consenting_test);
    free(skip);
    if (!rc && fs_attack_has_backdoor(s)) rc = backdoor_init(ev, w, s);
    if (rc || (rc = alloc_buffers(ev, w))) {
        fs_evaluator_fini(ev);
        fs_err_add(err, NULL, "out of memory preparing the evaluation");
    }
    return rc;
}

void fs_evaluator_fini(fs_evaluator *ev)
{
    for (int i = 0; ev->scratch && i < ev->n_threads; i++)
        fs_model_scratch_free(ev->scratch[i]);
    free(ev->scratch);
    free(ev->segments);
    free(ev->segment_rows);
    free(ev->probs);
    for (int i = 0; ev->metric_scratch && i < ev->metric_threads; i++)
        free(ev->metric_scratch[i]);
    free(ev->metric_scratch);
    free(ev->client_values);
    free(ev->client_scratch);
    free(ev->rows);
    free(ev->train_probs);
    free(ev->train_scratch);
    fs_partition_fini(&ev->consenting_test);
    free(ev->bd_rows);
    free(ev->bd_probs);
    fs_dataset_fini(&ev->bd_triggered);
    memset(ev, 0, sizeof *ev);
}

/* Rank r's chunks [lo, hi) of n_chunks, an even share (all of them on one rank). */
static void rank_chunks(size_t n_chunks, int r, size_t *lo, size_t *hi)
{
    size_t ranks = (size_t)fs_mpi_size();
    *lo = n_chunks * (size_t)r / ranks;
    *hi = n_chunks * (size_t)(r + 1) / ranks;
}

/* Across ranks, each rank's predictions to rank 0, rank after rank: rank 0 alone computes the
 * metrics (it alone records them). */
static int gather_predictions(size_t n, size_t width, double *out, fs_err *err)
{
    int me = fs_mpi_rank(), rc = FS_OK;
    for (int r = 1; r < fs_mpi_size() && !rc; r++) {
        if (me != 0 && me != r) continue;
        size_t lo, hi;
        rank_chunks((n + CHUNK - 1) / CHUNK, r, &lo, &hi);
        size_t from = lo * CHUNK, to = hi * CHUNK < n ? hi * CHUNK : n;
        size_t bytes = (to > from ? to - from : 0) * width * sizeof *out;
        rc = me == 0 ? fs_mpi_recv(r, FS_EVAL_TAG, out + from * width, bytes, err)
                     : fs_mpi_send(0, FS_EVAL_TAG, out + from * width, bytes, err);
    }
    return rc;
}

/* Every row of ds into out (n * width), in fixed chunks across threads, and across MPI ranks
 * (rank 0 then holds them all): a row's prediction is its chunk's, wherever it is computed. */
static int predict_all(fs_evaluator *ev, const fs_real *w, const fs_dataset *ds, double *out,
                       fs_err *err)
{
    const fs_world *wd = ev->world;
    const fs_model *m = wd->model;
    size_t n = ds->n, width = m->n_classes > 0 ? (size_t)m->n_classes : 1;
    size_t lo, hi;
    rank_chunks((n + CHUNK - 1) / CHUNK, fs_mpi_rank(), &lo, &hi);
#pragma omp parallel for num_threads(ev->n_threads) schedule(static)
    for (size_t c = lo; c < hi; c++) {
        uint32_t rows[CHUNK];
        size_t start = c * CHUNK, len = n - start < CHUNK ? n - start : CHUNK;
        for (size_t i = 0; i < len; i++)
            rows[i] = (uint32_t)(start + i);
        m->ops->predict(m, w, ds, rows, len, out + start * width,
                        ev->scratch[omp_get_thread_num()]);
    }
    return fs_mpi_size() > 1 ? gather_predictions(n, width, out, err) : FS_OK;
}

static double worst_clients(fs_evaluator *ev, const fs_predictions *p, fs_metric m)
{
    const fs_partition *tp = &ev->world->test_part;
    /* each client's value is its own: computed side by side, they are those of one thread (a
     * parallel region costs tens of microseconds: a few clients stay on this one) */
#pragma omp parallel for num_threads(ev->metric_threads) schedule(static) \
    if (tp->n_clients >= WORST_CLIENTS_PARALLEL_MIN)
    for (size_t c = 0; c < tp->n_clients; c++)
        ev->client_values[c] = ev->pop && !ev->pop->clients[c].consent
                                   ? NAN /* never read; NaN is left out of the worst decile */
                                   : fs_metric_eval(m, p, tp->rows + tp->offset[c],
                                                    fs_partition_size(tp, c),
                                                    ev->metric_scratch[omp_get_thread_num()]);
    return fs_metric_worst_decile(ev->client_values, tp->n_clients, fs_metric_lower_is_better(m),
                                  ev->client_scratch);
}

/* A metric of the predictions is the table's; one without a function needs the model itself: the
 * hit rate (it ranks items the rows do not contain), on the whole test set only. */
static double metric_value(fs_evaluator *ev, const fs_real *w, fs_metric m, const fs_predictions *p,
                           const fs_segment *seg, void *scratch)
{
    const fs_world *wd = ev->world;
    if (fs_metric_info_of(m)->eval) return fs_metric_eval(m, p, seg->rows, seg->n, scratch);
    if (m != FS_METRIC_HR10 || seg->rows) return NAN;
    const fs_partition *tp = ev->consenting_test.offset ? &ev->consenting_test : &wd->test_part;
    return fs_mf_hit_rate(wd->model, w, &wd->train, &wd->train_part, &wd->test, tp, 10, 100,
                          ev->seed, ev->n_threads);
}

/* Row k of the evaluation: metric m on segment k / n_metrics, in thread t's scratch. */
static void set_value(fs_evaluator *ev, const fs_real *w, const fs_predictions *p, size_t k,
                      fs_metric m, int t)
{
    const fs_segment *seg = &ev->segments[k / ev->n_metrics];
    double v = metric_value(ev, w, m, p, seg, ev->metric_scratch[t]);
    ev->rows[k] = (fs_db_eval){seg->name, fs_metric_name(m), v};
}

/* The headline and loss of the global model on every client's training data (segment
 * "train"): what FedProx's experiments plot as training loss. */
static size_t train_rows(fs_evaluator *ev, fs_db_eval *out)
{
    const fs_dataset *train = &ev->world->train;
    fs_predictions p = {.n = train->n,
                        .n_classes = train->n_classes,
                        .probs = ev->train_probs,
                        .y = train->y,
                        .target = train->target};
    fs_metric_check_labels(&p);
    fs_metric m[2] = {ev->metrics[0] == FS_METRIC_HR10 ? FS_METRIC_RMSE : ev->metrics[0],
                      FS_METRIC_LOSS};
    size_t k = 0;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && m[0] == FS_METRIC_LOSS) break;
        out[k++] = (fs_db_eval){"train", fs_metric_name(m[i]),
                                fs_metric_eval(m[i], &p, NULL, train->n, ev->train_scratch)};
    }
    return k;
}

/* The backdoor's success: the share of its rows (the other class, trigger applied or in the
 * target level) that the model predicts as the backdoor's label. NaN without rows. */
static double backdoor_success(fs_evaluator *ev)
{
    size_t width = (size_t)ev->world->test.n_classes, hits = 0;
    const double *probs = ev->probs;
    const uint32_t *rows = ev->bd_rows;
    if (ev->bd_triggered.n) probs = ev->bd_probs, rows = NULL;
    for (size_t i = 0; i < ev->bd_n; i++) {
        const double *p = probs + (rows ? rows[i] : i) * width;
        size_t best = 0;
        for (size_t c = 1; c < width; c++)
            if (p[c] > p[best]) best = c;
        hits += best == (size_t)ev->bd_label;
    }
    return ev->bd_n ? (double)hits / (double)ev->bd_n : NAN;
}

int fs_evaluator_run(fs_evaluator *ev, const fs_real *w, const fs_db_eval **out_rows,
                     size_t *out_n_rows, double *out_headline, fs_err *err)
{
    const fs_dataset *test = &ev->world->test;
    int rc = predict_all(ev, w, test, ev->probs, err);
    if (!rc && ev->train_probs) rc = predict_all(ev, w, &ev->world->train, ev->train_probs, err);
    if (!rc && ev->backdoor && ev->bd_triggered.n)
        rc = predict_all(ev, w, &ev->bd_triggered, ev->bd_probs, err);
    if (rc || fs_mpi_rank() > 0) { /* the other ranks computed their share: no rows */
        *out_rows = ev->rows;
        *out_n_rows = ev->n_rows = 0;
        *out_headline = NAN;
        return rc;
    }
    fs_predictions p = {.n = test->n,
                        .n_classes = test->n_classes,
                        .probs = ev->probs,
                        .y = test->y,
                        .target = test->target};
    fs_metric_check_labels(&p);
    /* every (segment, metric) value is a function of the predictions alone, each written to
     * its own row: computed side by side, the values are those of one thread */
    size_t n_values = ev->n_segments * ev->n_metrics;
#pragma omp parallel for num_threads(ev->metric_threads) schedule(dynamic, 1)
    for (size_t k = 0; k < n_values; k++) {
        fs_metric m = ev->metrics[k % ev->n_metrics];
        if (fs_metric_info_of(m)->eval) set_value(ev, w, &p, k, m, omp_get_thread_num());
    }
    /* the hit rate ranks on every thread itself */
    for (size_t k = 0; k < n_values; k++) {
        fs_metric m = ev->metrics[k % ev->n_metrics];
        if (!fs_metric_info_of(m)->eval) set_value(ev, w, &p, k, m, 0);
    }
    size_t k = n_values;
    if (ev->worst_clients) {
        /* accuracy, not the headline: AUC is undefined on most clients' few test rows */
        fs_metric m = test->n_classes ? FS_METRIC_ACCURACY : FS_METRIC_RMSE;
        ev->rows[k++] =
            (fs_db_eval){"worst10_clients", fs_metric_name(m), worst_clients(ev, &p, m)};
    }
    if (ev->train_probs) k += train_rows(ev, ev->rows + k);
    if (ev->backdoor) ev->rows[k++] = (fs_db_eval){"backdoor", "success", backdoor_success(ev)};
    *out_rows = ev->rows;
    *out_n_rows = ev->n_rows = k;
    *out_headline = ev->rows[0].value;
    return FS_OK;
}
