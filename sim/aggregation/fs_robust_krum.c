/* fs_robust_krum: server.robust's krum, Krum and Multi-Krum (Blanchard et al. 2017, "Machine
 * learning with adversaries: Byzantine tolerant gradient descent"). Each report's score is the sum
 * of its squared L2 distances to its n - f - 2 nearest other reports; the m lowest scores (ties:
 * lower client id) are averaged weighted by samples as FedAvg would (Flower's Multi-Krum does the
 * same), so m = 1 is FedAvg on the report Krum picks and f = 0, m = n is FedAvg. Distances merge
 * the ascending coordinate lists of dense or sparse updates. A round with n <= 2f + 2 reports (a
 * short round, a partial last buffer) cannot be scored: it is skipped and the model stays; with
 * fewer reports than configured, m is capped at n - f. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_agg.h"
#include "fs_robust.h"
#include "fs_robust_coord.h"

/* Entry i of an update as (coordinate, value): every coordinate of a dense one. */
static size_t n_entries(const fs_update *u)
{
    return u->sparse ? u->nnz : u->n_params;
}

static size_t entry_idx(const fs_update *u, size_t i)
{
    return u->sparse ? u->idx[i] : i;
}

static double entry_val(const fs_update *u, size_t i)
{
    return u->sparse ? u->val[i] : u->dense[i];
}

/* ||sa a - sb b||^2 by a merge of the two ascending coordinate lists (dense, sparse or mixed),
 * so a coordinate neither touched costs nothing. */
static double dist2(const fs_update *a, double sa, const fs_update *b, double sb)
{
    size_t na = n_entries(a), nb = n_entries(b), i = 0, k = 0;
    double d2 = 0;
    while (i < na || k < nb) {
        size_t ja = i < na ? entry_idx(a, i) : SIZE_MAX, jb = k < nb ? entry_idx(b, k) : SIZE_MAX;
        double x = ja <= jb ? sa * entry_val(a, i++) : 0;
        double y = jb <= ja ? sb * entry_val(b, k++) : 0;
        d2 += (x - y) * (x - y);
    }
    return d2;
}

typedef struct scored {
    double score;
    uint32_t client;
    size_t k;
} scored;

static int cmp_scored(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? -1 : 1;
    return (a->client > b->client) - (a->client < b->client);
}

/* Each report's Krum score: the sum of its n - f - 2 smallest squared distances to the others
 * (d: n x n scratch, row: n). */
static void krum_scores(const fs_agg_report *r, size_t n, const double *scale, size_t f, double *d,
                        double *row, scored *sc)
{
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            d[a * n + b] = d[b * n + a] = dist2(r[a].update, scale[a], r[b].update, scale[b]);
    for (size_t a = 0; a < n; a++) {
        size_t c = 0;
        for (size_t b = 0; b < n; b++)
            if (b != a) row[c++] = d[a * n + b];
        qsort(row, c, sizeof *row, fs_robust_cmp_double);
        double sum = 0;
        for (size_t i = 0; i < n - f - 2; i++)
            sum += row[i];
        sc[a] = (scored){sum, r[a].client, a};
    }
}

static int krum_combine(const fs_scenario *s, const fs_agg_report *r, size_t n,
                        const double *weight, const double *scale, size_t np, double *delta)
{
    size_t f = s->server.krum_f;
    if (n <= 2 * f + 2) return FS_ROBUST_SKIPPED;
    size_t m = s->server.krum_m < n - f ? s->server.krum_m : n - f;
    double *d = malloc(n * n * sizeof *d), *row = malloc(n * sizeof *row);
    scored *sc = malloc(n * sizeof *sc);
    bool *chosen = calloc(n, sizeof *chosen);
    int rc = d && row && sc && chosen ? FS_OK : FS_ENOMEM;
    if (!rc) {
        krum_scores(r, n, scale, f, d, row, sc);
        qsort(sc, n, sizeof *sc, cmp_scored);
        for (size_t i = 0; i < m; i++)
            chosen[sc[i].k] = true;
        /* FedAvg over the chosen, summed in report order as fs_agg sums */
        double total = 0;
        memset(delta, 0, np * sizeof *delta);
        for (size_t k = 0; k < n; k++)
            if (chosen[k]) fs_agg_add_scaled(delta, r[k].update, weight[k] * scale[k]);
        for (size_t k = 0; k < n; k++)
            if (chosen[k]) total += weight[k];
        for (size_t j = 0; j < np; j++)
            delta[j] /= total;
    }
    free(d), free(row), free(sc), free(chosen);
    return rc;
}

static const char *n_reports_word(const fs_scenario *s)
{
    return s->server.mode == FS_SERVER_ASYNC ? "server.async.buffer_size"
                                             : "server.clients_per_round";
}

static const char *krum_misfit(const fs_scenario *s, size_t n, const char **key, char *buf,
                               size_t len)
{
    size_t f = s->server.krum_f, m = s->server.krum_m;
    if (n < 3)
        *key = "f", snprintf(buf, len,
                             "Krum needs more than 2f + 2 reports per server step (each is scored "
                             "against its n - f - 2 nearest others): n = %s = %zu is too few for "
                             "any f",
                             n_reports_word(s), n);
    else if (n <= 2 * f + 2)
        *key = "f", snprintf(buf, len,
                             "Krum needs more than 2f + 2 reports per server step (each is scored "
                             "against its n - f - 2 nearest others): expected f <= %zu with n = "
                             "%s = %zu, found %zu",
                             (n - 3) / 2, n_reports_word(s), n, f);
    else if (m > n - f)
        *key = "m", snprintf(buf, len,
                             "expected at most n - f = %zu reports averaged (n = %s = %zu, f = "
                             "%zu), found %zu",
                             n - f, n_reports_word(s), n, f, m);
    else
        return NULL;
    return buf;
}

const fs_robust fs_robust_krum_row = {.name = "krum",
                                      .noun = "Krum's choice",
                                      .needs = FS_ROBUST_SEES_UPDATES,
                                      .misfit = krum_misfit,
                                      .combine = krum_combine};
