/* fs_ckpt: engine snapshots. Layout: "FSCK", format version, then fixed sections in order, each
 * a length-checked copy of engine memory; loading checks every size against the engine the
 * scenario built, so a snapshot of another scenario is refused rather than misread. */
#include "fs_ckpt.h"

#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC 0x4b435346u /* "FSCK" */
#define CKPT_VERSION 1u

typedef struct writer {
    unsigned char *buf;
    size_t len, cap;
    bool failed;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->failed) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        unsigned char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_u64(writer *w, uint64_t x)
{
    put(w, &x, sizeof x);
}

/* A counted block: its byte length, then the bytes (NULL p with n = 0 is an empty block). */
static void put_block(writer *w, const void *p, size_t n)
{
    put_u64(w, n);
    put(w, p, n);
}

/* Every allocated vector of a client-state store as (client, vector) pairs. */
static void put_cstate(writer *w, const fs_cstate *s)
{
    uint64_t count = 0;
    for (size_t c = 0; s->vec && c < s->n_clients; c++) count += s->vec[c] != NULL;
    put_u64(w, count);
    for (size_t c = 0; s->vec && c < s->n_clients; c++)
        if (s->vec[c]) {
            put_u64(w, c);
            put(w, s->vec[c], s->len * sizeof(double));
        }
}

unsigned char *fs_ckpt_save(const fs_engine *e, size_t *out_len)
{
    writer w = {0};
    const fs_pop *pop = e->cfg->pop;
    const fs_world *wd = e->cfg->world;
    size_t np = e->n_params, k = wd->model->n_personal;
    put_u64(&w, CKPT_MAGIC);
    put_u64(&w, CKPT_VERSION);
    int64_t now = e->now;
    put(&w, &now, sizeof now);
    put_u64(&w, e->pass);
    put_u64(&w, (uint64_t)e->round);
    put(&w, &e->last_accuracy, sizeof e->last_accuracy);
    put_block(&w, e->w, np * sizeof *e->w);
    put_block(&w, e->agg.opt.m, e->agg.opt.m ? np * sizeof(double) : 0);
    put_block(&w, e->agg.opt.v, e->agg.opt.v ? np * sizeof(double) : 0);
    put_block(&w, &e->agg.rdp, sizeof e->agg.rdp);
    put(&w, &e->agg.epsilon, sizeof e->agg.epsilon);
    put_block(&w, e->agg.control, e->agg.control ? np * sizeof(double) : 0);
    put_block(&w, pop->clients, pop->n * sizeof *pop->clients);
    put_block(&w, pop->perm, pop->n * sizeof *pop->perm);
    put_block(&w, wd->personal, wd->personal ? pop->n * k * sizeof(double) : 0);
    put_cstate(&w, &e->client_control);
    put_cstate(&w, &e->client_residual);
    if (w.failed) {
        free(w.buf);
        return NULL;
    }
    *out_len = w.len;
    return w.buf;
}

/* ---- loading ---- */

typedef struct reader {
    const unsigned char *buf;
    size_t len, at;
    const char *bad; /* first section that did not fit */
} reader;

static bool take(reader *r, void *p, size_t n, const char *what)
{
    if (r->bad) return false;
    if (r->len - r->at < n) {
        r->bad = what;
        return false;
    }
    if (n) memcpy(p, r->buf + r->at, n);
    r->at += n;
    return true;
}

static uint64_t take_u64(reader *r, const char *what)
{
    uint64_t x = 0;
    take(r, &x, sizeof x, what);
    return x;
}

/* A block that must be exactly `n` bytes (dst may be NULL only when n is 0). */
static void take_block(reader *r, void *dst, size_t n, const char *what)
{
    if (take_u64(r, what) != n && !r->bad) r->bad = what;
    take(r, dst, n, what);
}

static int take_cstate(reader *r, fs_cstate *s, const char *what)
{
    uint64_t count = take_u64(r, what);
    for (uint64_t i = 0; i < count && !r->bad; i++) {
        uint64_t c = take_u64(r, what);
        if (!s->vec || c >= s->n_clients) {
            r->bad = what;
            break;
        }
        double *v = fs_cstate_get(s, c);
        if (!v) return FS_ENOMEM;
        take(r, v, s->len * sizeof(double), what);
    }
    return FS_OK;
}

int fs_ckpt_load(fs_engine *e, const unsigned char *buf, size_t len, fs_err *err)
{
    reader r = {buf, len, 0, NULL};
    fs_pop *pop = e->cfg->pop;
    fs_world *wd = e->cfg->world;
    size_t np = e->n_params, k = wd->model->n_personal;
    if (take_u64(&r, "header") != CKPT_MAGIC || take_u64(&r, "header") != CKPT_VERSION)
        r.bad = "header";
    int64_t now = 0;
    take(&r, &now, sizeof now, "clock");
    e->now = now;
    e->pass = take_u64(&r, "counters");
    e->round = (int)take_u64(&r, "counters");
    take(&r, &e->last_accuracy, sizeof e->last_accuracy, "counters");
    take_block(&r, e->w, np * sizeof *e->w, "model");
    take_block(&r, e->agg.opt.m, e->agg.opt.m ? np * sizeof(double) : 0, "optimizer");
    take_block(&r, e->agg.opt.v, e->agg.opt.v ? np * sizeof(double) : 0, "optimizer");
    take_block(&r, &e->agg.rdp, sizeof e->agg.rdp, "accountant");
    take(&r, &e->agg.epsilon, sizeof e->agg.epsilon, "accountant");
    take_block(&r, e->agg.control, e->agg.control ? np * sizeof(double) : 0, "control variate");
    take_block(&r, pop->clients, pop->n * sizeof *pop->clients, "population");
    take_block(&r, pop->perm, pop->n * sizeof *pop->perm, "population");
    take_block(&r, wd->personal, wd->personal ? pop->n * k * sizeof(double) : 0, "personal");
    int rc = take_cstate(&r, &e->client_control, "control variates");
    if (!rc) rc = take_cstate(&r, &e->client_residual, "residuals");
    if (rc) return fs_err_add(err, NULL, "out of memory restoring the checkpoint"), rc;
    if (r.bad || r.at != r.len) {
        fs_err_add(err, NULL, "the checkpoint does not match this scenario or this fedsim build "
                   "(%s); start a new run", r.bad ? r.bad : "trailing bytes");
        return FS_ESCENARIO;
    }
    return FS_OK;
}
