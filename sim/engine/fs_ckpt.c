/* fs_ckpt: engine snapshots, of the fs_ckpt_state the engine fills from itself (this module
 * never sees the engine). Layout (all integers u64, host byte order):
 *   header: "FSCK", format version, total length, CRC-32 of bytes [32, length), scenario hash,
 *           data fingerprint, round, bits of a model parameter (fs_real: 32)
 *   sections, in a fixed order, each: 4-letter tag, payload length, payload.
 * Loading checks the header first (a flipped bit anywhere fails the checksum, a copied
 * checkpoint of another scenario or data fails the hashes), then, since a checksum can be
 * recomputed by whoever edits the file, every section against the engine the scenario built:
 * exact sizes, indices in range, a true permutation, finite parameters. Model parameters, the
 * personal table and the client vectors are fs_real; optimizer moments and the server's
 * control variate are double. Device draws (speed,
 * links, data sizes, consent) are not stored: fs_pop_init redraws them from the seed, so an
 * edited value cannot reach the time model. */
#include "fs_ckpt.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fs_crc32.h"

#define CKPT_MAGIC 0x4b435346u /* "FSCK" */
#define CKPT_VERSION 4u /* 2: float64 parameters, no precision word; 3: no MIXS, IPWR */
#define CKPT_HEADER (8 * sizeof(uint64_t))
#define CKPT_CRC_FROM (4 * sizeof(uint64_t)) /* the checksum covers what follows its own field */
/* Virtual times must leave room for deadlines and intervals added to them (no overflow). */
#define CKPT_MAX_TIME ((int64_t)1 << 61)

/* ---- hashing ---- */

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n)
{
    return fs_crc32(crc, p, n);
}

static uint32_t crc_dataset(uint32_t crc, const fs_dataset *ds)
{
    uint64_t shape[3] = {ds->n, ds->d, (uint64_t)(int64_t)ds->n_classes};
    crc = crc_bytes(crc, shape, sizeof shape);
    if (ds->x) crc = crc_bytes(crc, ds->x, ds->n * ds->d * sizeof *ds->x);
    if (ds->x8) crc = crc_bytes(crc, ds->x8, ds->n * ds->d);
    if (ds->ptr) {
        crc = crc_bytes(crc, ds->ptr, (ds->n + 1) * sizeof *ds->ptr);
        crc = crc_bytes(crc, ds->idx, ds->ptr[ds->n] * sizeof *ds->idx);
        crc = crc_bytes(crc, ds->val, ds->ptr[ds->n] * sizeof *ds->val);
    }
    if (ds->y) crc = crc_bytes(crc, ds->y, ds->n * sizeof *ds->y);
    if (ds->target) crc = crc_bytes(crc, ds->target, ds->n * sizeof *ds->target);
    for (size_t g = 0; g < ds->n_groups; g++)
        if (ds->groups[g].level)
            crc = crc_bytes(crc, ds->groups[g].level, ds->n * sizeof *ds->groups[g].level);
    return crc;
}

uint64_t fs_ckpt_fingerprint(const fs_scenario *s, const fs_world *w)
{
    enum fs_data_source src = s->data.source;
    if (src != FS_SRC_FASHION_MNIST && src != FS_SRC_CSV && src != FS_SRC_LIBSVM) return 0;
    /* the loader's digests when both have one (no second pass over the rows), else a CRC;
     * never 0, so "no fingerprint" and "data" differ */
    if (w->train.digest && w->test.digest)
        return (w->train.digest * 0x9e3779b97f4a7c15ull ^ w->test.digest) | 1;
    uint32_t crc = crc_dataset(crc_dataset(0, &w->train), &w->test);
    return (uint64_t)1 << 32 | crc;
}

uint64_t fs_ckpt_scenario_hash(const fs_scenario *s)
{
    size_t n = s->json ? strlen(s->json) : 0;
    return (uint64_t)(uint32_t)n << 32 | crc_bytes(0, s->json, n);
}

/* ---- writing ---- */

/* A counting writer (fs_ckpt_save's first pass) only adds up lengths, so that the second
 * allocates the checkpoint once: growing it by doubling copied and faulted in about twice its
 * size (a million clients' checkpoint is 30 MB). */
typedef struct writer {
    unsigned char *buf;
    size_t len, cap;
    bool failed, counting;
} writer;

/* n more bytes at the end, for the caller to fill; NULL (and failed) when out of memory, NULL
 * (not failed) when counting. */
static unsigned char *reserve(writer *w, size_t n)
{
    if (w->counting) return w->len += n, NULL;
    if (w->failed) return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return NULL;
        }
        w->buf = b;
        w->cap = cap;
    }
    unsigned char *at = w->buf + w->len;
    w->len += n;
    return at;
}

static void put(writer *w, const void *p, size_t n)
{
    unsigned char *at = reserve(w, n);
    if (at && n) memcpy(at, p, n);
}

static void put_u64(writer *w, uint64_t x)
{
    put(w, &x, sizeof x);
}

static uint64_t tag_of(const char *tag)
{
    uint64_t t = 0;
    memcpy(&t, tag, 4);
    return t;
}

/* A section: its tag, its byte length, then the bytes (NULL p with n = 0 is empty). */
static void put_section(writer *w, const char *tag, const void *p, size_t n)
{
    put_u64(w, tag_of(tag));
    put_u64(w, n);
    put(w, p, n);
}

/* A section whose payload follows in several puts: returns where its length goes. */
static size_t open_section(writer *w, const char *tag)
{
    put_u64(w, tag_of(tag));
    size_t at = w->len;
    put_u64(w, 0);
    return at;
}

static void close_section(writer *w, size_t at)
{
    if (w->failed || w->counting) return;
    uint64_t n = w->len - at - sizeof(uint64_t);
    memcpy(w->buf + at, &n, sizeof n);
}

/* Every allocated vector of a client-state store as (client, vector) pairs, clients ascending. */
static void put_cstate(writer *w, const char *tag, const fs_cstate *s)
{
    size_t at = open_section(w, tag);
    uint64_t count = 0;
    for (size_t c = 0; s->vec && c < s->n_clients; c++)
        count += s->vec[c] != NULL;
    put_u64(w, count);
    for (size_t c = 0; s->vec && c < s->n_clients; c++)
        if (s->vec[c]) {
            put_u64(w, c);
            put(w, s->vec[c], s->len * sizeof **s->vec);
        }
    close_section(w, at);
}

/* What changes in a client record while a run goes on; the rest is redrawn from the seed.
 * `online` holds the availability bit in its low 32 bits and the battery level's float bits,
 * XORed with those of 1.0f, in its high 32: exact both ways, and a checkpoint from before the
 * battery (all zero there) restores a full battery, so the format stays 3. */
typedef struct ckpt_client {
    int64_t t_busy_until, t_known;
    uint64_t online;
} ckpt_client;

static uint64_t pack_online(const fs_client *c)
{
    float one = 1.0f;
    uint32_t bits, one_bits;
    memcpy(&bits, &c->battery, sizeof bits);
    memcpy(&one_bits, &one, sizeof one_bits);
    return (uint64_t)c->avail.online | (uint64_t)(bits ^ one_bits) << 32;
}

static float unpack_battery(uint64_t online)
{
    float one = 1.0f, level;
    uint32_t one_bits;
    memcpy(&one_bits, &one, sizeof one_bits);
    uint32_t bits = (uint32_t)(online >> 32) ^ one_bits;
    memcpy(&level, &bits, sizeof level);
    return level;
}

/* Written into room reserved at once: a put per client was a third of the checkpoint's time
 * (a million clients are a million calls). */
static void put_clients(writer *w, const fs_pop *pop)
{
    size_t at = open_section(w, "CLNT");
    unsigned char *out = reserve(w, pop->n * sizeof(ckpt_client));
    for (size_t i = 0; out && i < pop->n; i++) {
        const fs_client *c = &pop->clients[i];
        ckpt_client r = {c->t_busy_until, c->avail.t_known, pack_online(c)};
        memcpy(out + i * sizeof r, &r, sizeof r);
    }
    close_section(w, at);
}

void fs_ckpt_reseal(unsigned char *buf, size_t len)
{
    if (len < CKPT_HEADER) return;
    uint64_t crc = crc_bytes(0, buf + CKPT_CRC_FROM, len - CKPT_CRC_FROM);
    memcpy(buf + 3 * sizeof(uint64_t), &crc, sizeof crc);
}

/* Writes the checkpoint's layout through w (counting, or into room reserved once). */
static void put_all(writer *w, const fs_ckpt_state *st)
{
    const fs_pop *pop = st->pop;
    const fs_world *wd = st->world;
    size_t np = st->n_params, k = wd->model->n_personal;
    put_u64(w, CKPT_MAGIC);
    put_u64(w, CKPT_VERSION);
    put_u64(w, 0); /* length and checksum, filled in at the end */
    put_u64(w, 0);
    put_u64(w, fs_ckpt_scenario_hash(st->s));
    put_u64(w, st->data_fingerprint);
    put_u64(w, (uint64_t)st->round);
    put_u64(w, 8 * FS_REAL_BYTES);
    struct {
        int64_t now;
        uint64_t pass;
        double last_accuracy;
    } counters = {st->now, st->pass, st->last_accuracy};
    put_section(w, "CNTR", &counters, sizeof counters);
    put_section(w, "MODL", st->w, np * sizeof *st->w);
    const fs_aggregator *agg = st->agg;
    put_section(w, "OPTM", agg->opt.m, agg->opt.m ? np * sizeof(double) : 0);
    put_section(w, "OPTV", agg->opt.v, agg->opt.v ? np * sizeof(double) : 0);
    put_section(w, "RDP ", agg->rdp.rdp, agg->rdp.n_orders * sizeof(double));
    put_section(w, "EPS ", &agg->epsilon, sizeof agg->epsilon);
    put_section(w, "CTRL", agg->control, agg->control ? np * sizeof(double) : 0);
    put_clients(w, pop);
    put_section(w, "PERM", pop->perm, pop->n * sizeof *pop->perm);
    put_section(w, "PERS", wd->personal, wd->personal ? pop->n * k * sizeof *wd->personal : 0);
    put_cstate(w, "CCTL", st->client_control);
    put_cstate(w, "CRES", st->client_residual);
    put_section(w, "MIXS", st->times_selected, pop->n * sizeof *st->times_selected);
    put_section(w, "IPWR", agg->ipw_reports, agg->ipw_n_levels * sizeof *agg->ipw_reports);
}

unsigned char *fs_ckpt_save(const fs_ckpt_state *st, size_t *out_len)
{
    writer count = {.counting = true};
    put_all(&count, st);
    writer w = {.buf = malloc(count.len), .cap = count.len};
    w.failed = !w.buf;
    put_all(&w, st);
    fs_assert(w.failed || w.len == count.len); /* no realloc: the passes agree */
    if (w.failed) {
        free(w.buf);
        return NULL;
    }
    uint64_t total = w.len;
    memcpy(w.buf + 2 * sizeof(uint64_t), &total, sizeof total);
    fs_ckpt_reseal(w.buf, w.len);
    *out_len = w.len;
    return w.buf;
}

/* ---- reading: a cursor that keeps the first problem as a message ---- */

typedef struct reader {
    const unsigned char *buf;
    size_t len, at;
    bool bad;
    char why[320];
} reader;

static void __attribute__((format(printf, 2, 3))) refuse(reader *r, const char *fmt, ...)
{
    if (r->bad) return;
    r->bad = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static bool take(reader *r, void *p, size_t n, const char *what)
{
    if (r->bad) return false;
    if (r->len - r->at < n) {
        refuse(r, "truncated in %s (%zu bytes left, %zu needed)", what, r->len - r->at, n);
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

/* Opens section `tag`: checks the tag and that its payload is exactly n bytes (n = SIZE_MAX:
 * any length that fits, returned). */
static size_t open_take(reader *r, const char *tag, size_t n)
{
    uint64_t t = take_u64(r, tag), got = take_u64(r, tag);
    if (r->bad) return 0;
    if (t != tag_of(tag)) {
        refuse(r, "expected section %s at byte %zu", tag, r->at - 16);
        return 0;
    }
    if (n == SIZE_MAX) {
        if (got > r->len - r->at) refuse(r, "section %s: truncated", tag);
        return (size_t)got;
    }
    if (got != n)
        refuse(r, "section %s: expected %zu bytes, found %llu", tag, n, (unsigned long long)got);
    return n;
}

static void take_section(reader *r, const char *tag, void *dst, size_t n)
{
    if (open_take(r, tag, n) == n) take(r, dst, n, tag);
}

/* Value i of an array of fs_real (width FS_REAL_BYTES) or of double. */
static double value_at(const void *v, size_t i, size_t width)
{
    return width == sizeof(double) ? ((const double *)v)[i] : ((const fs_real *)v)[i];
}

/* Parameters must be finite: a NaN or infinity would spread through every later round. */
static void check_finite(reader *r, const char *tag, const void *v, size_t n, size_t width)
{
    for (size_t i = 0; !r->bad && i < n; i++)
        if (!isfinite(value_at(v, i, width)))
            refuse(r, "section %s: value %zu is %g, expected a finite number", tag, i,
                   value_at(v, i, width));
}

/* n values of `width` bytes (fs_real or double) into dst, when dst exists. */
static void take_params(reader *r, const char *tag, void *dst, size_t n, size_t width)
{
    take_section(r, tag, dst, dst ? n * width : 0);
    if (dst) check_finite(r, tag, dst, n, width);
}

static bool bad_time(int64_t t)
{
    return t != INT64_MIN && (t < 0 || t >= CKPT_MAX_TIME);
}

static void take_clients(reader *r, fs_pop *pop)
{
    if (open_take(r, "CLNT", pop->n * sizeof(ckpt_client)) != pop->n * sizeof(ckpt_client)) return;
    for (size_t i = 0; i < pop->n && !r->bad; i++) {
        ckpt_client c;
        take(r, &c, sizeof c, "CLNT");
        if (r->bad) break;
        float battery = unpack_battery(c.online);
        if (bad_time(c.t_busy_until) || bad_time(c.t_known) || (uint32_t)c.online > 1 ||
            !(battery >= 0 && battery <= 1)) {
            refuse(r, "section CLNT: client %zu has an impossible state", i);
            break;
        }
        fs_client *cl = &pop->clients[i];
        cl->t_busy_until = c.t_busy_until;
        cl->avail.t_known = c.t_known;
        cl->avail.online = (uint8_t)(c.online & 1);
        cl->battery = battery;
    }
}

/* Selection indexes clients through the permutation, so it must be one: every entry below the
 * population size, none twice. */
static int take_perm(reader *r, fs_pop *pop)
{
    take_section(r, "PERM", pop->perm, pop->n * sizeof *pop->perm);
    if (r->bad) return FS_OK;
    unsigned char *seen = calloc(pop->n / 8 + 1, 1);
    if (!seen) return FS_ENOMEM;
    for (size_t i = 0; i < pop->n; i++) {
        uint32_t id = pop->perm[i];
        if (id >= pop->n) {
            refuse(r, "section PERM: entry %zu is %u, expected a client id below %zu", i, id,
                   pop->n);
            break;
        }
        if (seen[id / 8] & (1u << id % 8)) {
            refuse(r, "section PERM: client %u appears twice", id);
            break;
        }
        seen[id / 8] |= (unsigned char)(1u << id % 8);
    }
    free(seen);
    return FS_OK;
}

/* Selections per client: a client is selected at most once per selection pass, and never
 * without consent. */
static void take_selected(reader *r, const fs_ckpt_state *st)
{
    const fs_pop *pop = st->pop;
    take_section(r, "MIXS", st->times_selected, pop->n * sizeof *st->times_selected);
    for (size_t i = 0; !r->bad && i < pop->n; i++)
        if (st->times_selected[i] > st->pass || (st->times_selected[i] && !pop->clients[i].consent))
            refuse(r, "section MIXS: client %zu was selected %u times, impossible in %llu passes"
                      "%s", i, st->times_selected[i], (unsigned long long)st->pass,
                   pop->clients[i].consent ? "" : " (it does not consent)");
}

/* ipw's history: no level can have more reports than there were selections. */
static void take_ipw(reader *r, const fs_ckpt_state *st)
{
    fs_aggregator *a = st->agg;
    take_section(r, "IPWR", a->ipw_reports, a->ipw_n_levels * sizeof *a->ipw_reports);
    uint64_t selections = 0;
    for (size_t i = 0; i < st->pop->n; i++)
        selections += st->times_selected[i];
    for (size_t l = 0; !r->bad && l < a->ipw_n_levels; l++)
        if (a->ipw_reports[l] > selections)
            refuse(r, "section IPWR: level %zu has %llu reports, more than the %llu selections",
                   l, (unsigned long long)a->ipw_reports[l], (unsigned long long)selections);
}

static int take_cstate(reader *r, const char *tag, fs_cstate *s)
{
    size_t n = open_take(r, tag, SIZE_MAX), end = r->at + n;
    if (r->bad) return FS_OK;
    uint64_t count = take_u64(r, tag);
    size_t vec = s->len * sizeof **s->vec;
    if (!r->bad && (count > (s->vec ? s->n_clients : 0) || n != 8 + count * (8 + vec))) {
        refuse(r, "section %s: %llu vectors in %zu bytes do not fit %zu clients", tag,
               (unsigned long long)count, n, s->vec ? s->n_clients : 0);
        return FS_OK;
    }
    uint64_t last = 0;
    for (uint64_t i = 0; i < count && !r->bad; i++) {
        uint64_t c = take_u64(r, tag);
        if (!r->bad && (c >= s->n_clients || (i > 0 && c <= last))) {
            refuse(r, "section %s: client %llu out of order or range (%zu clients)", tag,
                   (unsigned long long)c, s->n_clients);
            break;
        }
        last = c;
        fs_real *v = fs_cstate_get(s, c);
        if (!v) return FS_ENOMEM;
        take(r, v, vec, tag);
        check_finite(r, tag, v, s->len, sizeof *v);
    }
    if (!r->bad && r->at != end) refuse(r, "section %s: length does not match", tag);
    return FS_OK;
}

/* The header: what the snapshot claims to be, checked before any section is read. */
static void check_header(reader *r, const fs_ckpt_state *st)
{
    uint64_t h[8] = {0};
    if (r->len < CKPT_HEADER) {
        refuse(r, "truncated to %zu bytes (a header needs %zu)", r->len, CKPT_HEADER);
        return;
    }
    memcpy(h, r->buf, CKPT_HEADER);
    r->at = CKPT_HEADER;
    uint64_t crc = crc_bytes(0, r->buf + CKPT_CRC_FROM, r->len - CKPT_CRC_FROM);
    if (h[0] != CKPT_MAGIC)
        refuse(r, "not a fedsim checkpoint (no FSCK header)");
    else if (h[1] == 2)
        refuse(r, "written by an earlier fedsim that trained in float64 (format version 2); this "
                  "fedsim trains in " FS_REAL_NAME " and cannot continue it: run again without "
                  "--resume");
    else if (h[1] != CKPT_VERSION)
        refuse(r, "format version %llu, this fedsim reads version %u", (unsigned long long)h[1],
               CKPT_VERSION);
    else if (h[7] != 8 * FS_REAL_BYTES)
        refuse(r, "its parameters are %llu-bit floats; this fedsim trains in " FS_REAL_NAME
                  " and cannot continue it: run again without --resume",
               (unsigned long long)h[7]);
    else if (h[2] != r->len)
        refuse(r, "truncated or extended: %zu bytes, its header says %llu", r->len,
               (unsigned long long)h[2]);
    else if (h[3] != crc)
        refuse(r,
               "checksum mismatch (stored %08llx, computed %08llx): the checkpoint was "
               "damaged or edited",
               (unsigned long long)h[3], (unsigned long long)crc);
    else if (h[4] != fs_ckpt_scenario_hash(st->s))
        refuse(r, "taken from a different effective scenario than the run's");
    else if (h[5] != st->data_fingerprint)
        refuse(r, "the input data differ from those the run was started with (a data file "
                  "changed since the checkpoint: restore it)");
    else if (h[6] != (uint64_t)st->round)
        refuse(r,
               "its header says round %llu (checkpoints.round was edited, or the "
               "checkpoint comes from another run)",
               (unsigned long long)h[6]);
    else if (h[6] < 1 || h[6] >= (uint64_t)st->s->server.rounds)
        refuse(r, "round %llu is outside 1..%d", (unsigned long long)h[6],
               st->s->server.rounds - 1);
}

static void take_counters(reader *r, fs_ckpt_state *st)
{
    struct {
        int64_t now;
        uint64_t pass;
        double last_accuracy;
    } c;
    take_section(r, "CNTR", &c, sizeof c);
    if (r->bad) return;
    if (c.now < 0 || c.now >= CKPT_MAX_TIME) {
        refuse(r, "section CNTR: virtual time %lld is impossible", (long long)c.now);
        return;
    }
    if (isinf(c.last_accuracy)) {
        refuse(r, "section CNTR: headline metric is infinite");
        return;
    }
    st->now = c.now;
    st->pass = c.pass;
    st->last_accuracy = c.last_accuracy;
}

/* The accountant's orders are constants of fs_rdp_init; only the spent RDP is restored. */
static void take_privacy(reader *r, fs_aggregator *agg, const fs_scenario *s)
{
    fs_rdp *a = &agg->rdp;
    take_section(r, "RDP ", a->rdp, a->n_orders * sizeof(double));
    for (size_t i = 0; !r->bad && i < a->n_orders; i++)
        if (!(a->rdp[i] >= 0)) refuse(r, "section RDP: order %zu has RDP %g", i, a->rdp[i]);
    take_section(r, "EPS ", &agg->epsilon, sizeof agg->epsilon);
    bool dp = s->privacy.dp;
    if (!r->bad && (dp ? !(agg->epsilon >= 0) : !isnan(agg->epsilon)))
        refuse(r, "section EPS: epsilon %g is impossible for this scenario", agg->epsilon);
}

int fs_ckpt_load(fs_ckpt_state *st, const unsigned char *buf, size_t len, const char *origin,
                 fs_err *err)
{
    reader r = {.buf = buf, .len = len};
    fs_pop *pop = st->pop;
    fs_world *wd = st->world;
    size_t np = st->n_params, k = wd->model->n_personal;
    check_header(&r, st);
    take_counters(&r, st);
    take_params(&r, "MODL", st->w, np, sizeof *st->w);
    take_params(&r, "OPTM", st->agg->opt.m, np, sizeof *st->agg->opt.m);
    take_params(&r, "OPTV", st->agg->opt.v, np, sizeof *st->agg->opt.v);
    take_privacy(&r, st->agg, st->s);
    take_params(&r, "CTRL", st->agg->control, np, sizeof *st->agg->control);
    take_clients(&r, pop);
    int rc = take_perm(&r, pop);
    take_params(&r, "PERS", wd->personal, pop->n * k, sizeof *wd->personal);
    if (!rc) rc = take_cstate(&r, "CCTL", st->client_control);
    if (!rc) rc = take_cstate(&r, "CRES", st->client_residual);
    take_selected(&r, st);
    take_ipw(&r, st);
    if (rc) return fs_err_add(err, NULL, "out of memory restoring the checkpoint"), rc;
    if (!r.bad && r.at != r.len) refuse(&r, "%zu bytes after the last section", r.len - r.at);
    if (!r.bad) return FS_OK;
    fs_err_add(err, NULL,
               "%s%scheckpoint of round %d: %s; refusing to resume (use another "
               "results file to start afresh)",
               origin ? origin : "", origin ? ": " : "", st->round, r.why);
    return FS_EDB;
}

bool fs_ckpt_find(const unsigned char *buf, size_t len, const char *tag, size_t *out_off,
                  size_t *out_len)
{
    size_t at = CKPT_HEADER;
    while (len >= 16 && at <= len - 16) {
        uint64_t t, n;
        memcpy(&t, buf + at, 8);
        memcpy(&n, buf + at + 8, 8);
        at += 16;
        if (n > len - at) return false;
        if (t == tag_of(tag)) {
            *out_off = at;
            *out_len = (size_t)n;
            return true;
        }
        at += (size_t)n;
    }
    return false;
}
