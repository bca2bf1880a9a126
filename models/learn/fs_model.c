/* fs_model: the model-generic routines over the fs_model ops: per-thread scratch, evaluation,
 * personal-parameter tables and model release. Scratch is scratch_reals fs_real entries for the
 * ops and max_batch * n_classes doubles where fs_model_evaluate keeps a chunk's probabilities.
 * Sums run in row order, so results never depend on threads or timing. */
#include <math.h>
#include <stdlib.h>

#include "fs_model.h"

#define FS_EVAL_CHUNK 256  /* row ids per chunk when evaluating all rows (kept on the stack) */
#define FS_EVAL_PMIN 1e-15 /* probability floor: keeps one wrong sure answer from giving Inf */

void fs_model_free(fs_model *m)
{
    if (m) m->ops->free(m);
}

fs_model_scratch *fs_model_scratch_new(const fs_model *m)
{
    fs_model_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n = m->scratch_reals;
    s->buf = malloc((s->n ? s->n : 1) * sizeof *s->buf);
    s->probs = malloc((m->max_batch * (size_t)m->n_classes + 1) * sizeof *s->probs);
    if (s->buf && s->probs) return s;
    fs_model_scratch_free(s);
    return NULL;
}

void fs_model_scratch_free(fs_model_scratch *s)
{
    if (!s) return;
    free(s->buf);
    free(s->probs);
    free(s->work_idx);
    free(s->work_val);
    free(s->key_first);
    free(s->key_bits);
    free(s);
}

/* Grows by half again at least: a thread meets clients of every size, and each growth would
 * otherwise fault in fresh pages for a slightly larger client. */
int fs_model_scratch_reserve(fs_model_scratch *s, size_t need)
{
    if (s->work_cap >= need) return FS_OK;
    size_t cap = s->work_cap + s->work_cap / 2 > need ? s->work_cap + s->work_cap / 2 : need;
    free(s->work_idx);
    free(s->work_val);
    s->work_idx = malloc(cap * sizeof *s->work_idx);
    s->work_val = malloc(cap * sizeof *s->work_val);
    s->work_cap = s->work_idx && s->work_val ? cap : 0;
    if (s->work_cap) return FS_OK;
    free(s->work_idx);
    free(s->work_val);
    s->work_idx = NULL, s->work_val = NULL;
    return FS_ENOMEM;
}

/* Adds one chunk's clamped cross-entropy to *loss and its correct argmaxes to *correct. */
static void eval_chunk(const fs_model *m, const fs_dataset *ds, const uint32_t *rows, size_t k,
                       const double *probs, double *loss, size_t *correct)
{
    size_t c = (size_t)m->n_classes;
    for (size_t i = 0; i < k; i++) {
        const double *p = probs + i * c;
        int32_t y = ds->y[rows[i]];
        size_t best = 0;
        for (size_t j = 1; j < c; j++)
            best = p[j] > p[best] ? j : best;
        *correct += best == (size_t)y;
        *loss -= log(p[y] > FS_EVAL_PMIN ? p[y] : FS_EVAL_PMIN);
    }
}

/* With rows == NULL, n is ignored and all ds->n rows are evaluated, their ids generated a chunk
 * at a time on the stack rather than allocated. */
int fs_model_evaluate(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                      const uint32_t *rows, size_t n, fs_model_scratch *s, fs_eval_result *out)
{
    fs_assert(s->n >= m->scratch_reals);
    uint32_t ids[FS_EVAL_CHUNK];
    double *probs = s->probs, loss = 0;
    size_t correct = 0, chunk = m->max_batch;
    if (!rows) {
        n = ds->n;
        chunk = chunk < FS_EVAL_CHUNK ? chunk : FS_EVAL_CHUNK;
    }
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        const uint32_t *r = rows ? rows + at : ids;
        for (size_t i = 0; !rows && i < k; i++)
            ids[i] = (uint32_t)(at + i);
        m->ops->predict(m, w, ds, r, k, probs, s);
        eval_chunk(m, ds, r, k, probs, &loss, &correct);
    }
    out->n = n;
    out->loss = n ? loss / (double)n : 0;
    out->accuracy = n ? (double)correct / (double)n : 0;
    return isfinite(out->loss) ? FS_OK : FS_ENUMERIC;
}

void fs_model_set_personal(fs_model *m, const fs_real *table, int user_group)
{
    m->personal_table = table;
    m->user_group = user_group;
}
