/* fs_trace: loading and querying availability and capacity traces. Lines are read byte by byte
 * into a fixed heap buffer (FS_TRACE_MAX_LINE), so a 10 MB line or a binary file stops at the
 * first offending byte. Key names go through an open-addressing hash table at load time only:
 * it finds a key seen before (rows of one key must be together, capacity keys unique). */
#include "fs_trace.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_array.h"
#include "fs_rng.h"

typedef struct loader {
    const char *path;
    FILE *f;
    size_t line;
    char *buf;
    fs_err *err;
    int n_bad;
    fs_trace *t;
    size_t names_len, names_cap, keys_cap, iv_cap;
    size_t *table; /* key index + 1, 0 = empty */
    size_t *key_line; /* line where each key first appeared */
    size_t table_cap;
} loader;

static void bad(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(loader *l, const char *fmt, ...)
{
    char msg[FS_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fs_err_add(l->err, NULL, "%s:%zu: %s", l->path, l->line, msg);
    l->n_bad++;
}

/* Reads one line into l->buf without its newline. 1 = a line, 0 = end of file, -1 = stop (error
 * reported). */
static int read_line(loader *l)
{
    size_t n = 0;
    int ch;
    l->line++;
    while ((ch = getc(l->f)) != EOF && ch != '\n') {
        if (ch == 0 || (ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
            bad(l, "expected text, found a control byte 0x%02x (a binary file?)", ch);
            return -1;
        }
        if (n == FS_TRACE_MAX_LINE) {
            bad(l, "expected a line of at most %d bytes, found a longer one", FS_TRACE_MAX_LINE);
            return -1;
        }
        l->buf[n++] = (char)ch;
    }
    if (ch == EOF && n == 0) return ferror(l->f) ? (bad(l, "expected readable data, found a "
                                                           "read error"), -1) : 0;
    if (n && l->buf[n - 1] == '\r') n--;
    l->buf[n] = '\0';
    return 1;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Index of key `name`, or SIZE_MAX when new. */
static size_t find_key(const loader *l, const char *name)
{
    if (!l->table_cap) return SIZE_MAX;
    size_t mask = l->table_cap - 1;
    for (size_t h = hash_name(name) & mask;; h = (h + 1) & mask) {
        if (!l->table[h]) return SIZE_MAX;
        size_t k = l->table[h] - 1;
        if (!strcmp(l->t->names + l->t->key_off[k], name)) return k;
    }
}

static int add_name(loader *l, const char *s, size_t *out_off)
{
    size_t n = strlen(s) + 1;
    if (fs_array_grow(&l->t->names, &l->names_cap, l->names_len + n, 1)) return FS_ENOMEM;
    memcpy(l->t->names + l->names_len, s, n);
    *out_off = l->names_len;
    l->names_len += n;
    return FS_OK;
}

static int rehash(loader *l, size_t cap)
{
    size_t *t = calloc(cap, sizeof *t);
    if (!t) return FS_ENOMEM;
    free(l->table);
    l->table = t;
    l->table_cap = cap;
    for (size_t k = 0; k < l->t->n_keys; k++) {
        size_t h = hash_name(l->t->names + l->t->key_off[k]) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = k + 1;
    }
    return FS_OK;
}

static int new_key(loader *l, const char *name)
{
    fs_trace *t = l->t;
    size_t cap = l->keys_cap;
    if (fs_array_grow(&t->key_off, &l->keys_cap, t->n_keys + 2, sizeof *t->key_off)) return FS_ENOMEM;
    size_t c2 = cap;
    if (fs_array_grow(&l->key_line, &c2, l->keys_cap, sizeof *l->key_line)) return FS_ENOMEM;
    if (t->kind == FS_TRACE_AVAIL) {
        size_t c3 = cap;
        if (fs_array_grow(&t->iv_off, &c3, l->keys_cap, sizeof *t->iv_off)) return FS_ENOMEM;
        t->iv_off[t->n_keys] = t->n_iv;
    } else {
        size_t c3 = cap;
        if (fs_array_grow(&t->cap, &c3, l->keys_cap, sizeof *t->cap)) return FS_ENOMEM;
    }
    if (add_name(l, name, &t->key_off[t->n_keys])) return FS_ENOMEM;
    l->key_line[t->n_keys] = l->line;
    t->n_keys++;
    if (2 * t->n_keys > l->table_cap) return rehash(l, l->table_cap ? 2 * l->table_cap : 64);
    size_t mask = l->table_cap - 1, h = hash_name(name) & mask;
    while (l->table[h]) h = (h + 1) & mask;
    l->table[h] = t->n_keys;
    return FS_OK;
}

/* Splits the line at commas in place: up to max fields, returns the count (max + 1 = more). */
static size_t split(char *s, char **f, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (n == max) return max + 1;
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c) return n;
        *c = '\0';
        s = c + 1;
    }
}

static bool number(loader *l, const char *text, const char *what, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v) || v < 0) {
        bad(l, "expected a finite number >= 0 for %s, found \"%.40s\"", what, text);
        return false;
    }
    *out = v;
    return true;
}

static bool key_ok(loader *l, const char *k)
{
    size_t n = strlen(k);
    if (n && n <= FS_TRACE_MAX_KEY && !isspace((unsigned char)k[0]) &&
        !isspace((unsigned char)k[n - 1]))
        return true;
    bad(l, "expected a key of 1 to %d bytes without surrounding spaces, found \"%.40s\"",
        FS_TRACE_MAX_KEY, k);
    return false;
}

/* "charging", "wifi", "idle" joined by '+', or empty (unknown). */
static bool parse_state(loader *l, char *s, uint8_t *out)
{
    *out = 0;
    if (!*s) return true;
    static const struct { const char *w; uint8_t bit; } words[] = {
        {"charging", FS_TRACE_CHARGING}, {"wifi", FS_TRACE_UNMETERED}, {"idle", FS_TRACE_IDLE}};
    const char *w = s;
    for (;;) {
        size_t n = strcspn(w, "+");
        size_t i = 0;
        for (; i < sizeof words / sizeof words[0]; i++)
            if (strlen(words[i].w) == n && !strncmp(w, words[i].w, n)) break;
        if (i == sizeof words / sizeof words[0]) {
            bad(l, "expected a state of charging, wifi, idle (joined by '+') or empty, found "
                   "\"%.40s\"", s);
            return false;
        }
        *out |= words[i].bit;
        if (!w[n]) break;
        w += n + 1;
    }
    *out |= FS_TRACE_KNOWN;
    return true;
}

static int avail_row(loader *l, char **f, size_t nf)
{
    fs_trace *t = l->t;
    if (nf < 3 || nf > 4) {
        bad(l, "expected 3 or 4 columns (key,start_s,end_s[,state]), found %s",
            nf > 4 ? "more" : nf == 1 ? "1" : "2");
        return FS_OK;
    }
    double s = 0, e = 0;
    uint8_t st = 0;
    if (!key_ok(l, f[0]) | !number(l, f[1], "start_s", &s) | !number(l, f[2], "end_s", &e) |
        !(nf < 4 || parse_state(l, f[3], &st)))
        return FS_OK;
    if (e <= s) {
        bad(l, "expected end_s > start_s (%s), found %s", f[1], f[2]);
        return FS_OK;
    }
    int64_t s_us = llround(s * 1e6), e_us = llround(e * 1e6);
    size_t k = find_key(l, f[0]);
    bool last = t->n_keys && k == t->n_keys - 1;
    if (k != SIZE_MAX && !last) {
        bad(l, "expected the rows of key \"%s\" together (sorted by key, then start_s), found it "
               "again after other keys (first at line %zu)", f[0], l->key_line[k]);
        return FS_OK;
    }
    if (last && t->n_iv > t->iv_off[k]) {
        const fs_trace_iv *p = &t->iv[t->n_iv - 1];
        if (s_us < p->start) {
            bad(l, "expected start_s >= %.17g (rows sorted by key, then start_s), found %s",
                (double)p->start / 1e6, f[1]);
            return FS_OK;
        }
        if (s_us < p->end) {
            bad(l, "expected start_s >= %.17g (the end of key \"%s\"'s previous interval: "
                   "intervals must not overlap), found %s", (double)p->end / 1e6, f[0], f[1]);
            return FS_OK;
        }
    }
    if (k == SIZE_MAX && new_key(l, f[0])) return FS_ENOMEM;
    if (fs_array_grow(&t->iv, &l->iv_cap, t->n_iv + 1, sizeof *t->iv)) return FS_ENOMEM;
    t->iv[t->n_iv++] = (fs_trace_iv){.start = s_us, .end = e_us, .state = st};
    if (t->period_us && e_us > t->period_us)
        bad(l, "expected end_s <= period_s (%.17g), found %s", (double)t->period_us / 1e6, f[2]);
    return FS_OK;
}

static int cap_row(loader *l, char **f, size_t nf)
{
    fs_trace *t = l->t;
    if (nf < 4 || nf > 5) {
        bad(l, "expected 4 or 5 columns (key,compute_ms_per_sample,uplink_kbps,downlink_kbps"
               "[,device_model]), found %s", nf > 5 ? "more" : nf == 1 ? "1" : nf == 2 ? "2" : "3");
        return FS_OK;
    }
    double c = 0, up = 0, down = 0;
    if (!key_ok(l, f[0]) | !number(l, f[1], "compute_ms_per_sample", &c) |
        !number(l, f[2], "uplink_kbps", &up) | !number(l, f[3], "downlink_kbps", &down))
        return FS_OK;
    if (c <= 0 || up <= 0 || down <= 0) {
        bad(l, "expected compute_ms_per_sample, uplink_kbps and downlink_kbps > 0, found %s, "
               "%s, %s", f[1], f[2], f[3]);
        return FS_OK;
    }
    size_t k = find_key(l, f[0]);
    if (k != SIZE_MAX) {
        bad(l, "expected each key once, found \"%s\" again (first at line %zu)", f[0],
            l->key_line[k]);
        return FS_OK;
    }
    if (new_key(l, f[0])) return FS_ENOMEM;
    fs_trace_cap *r = &t->cap[t->n_keys - 1];
    *r = (fs_trace_cap){c, up, down, SIZE_MAX};
    if (nf == 5 && f[4][0] && add_name(l, f[4], &r->model_off)) return FS_ENOMEM;
    return FS_OK;
}

/* `# period_s=N` (availability, before any row); other "# ..." lines are comments. */
static void directive(loader *l, const char *s, bool rows_seen)
{
    const char *p = s + 1;
    while (*p == ' ') p++;
    if (strncmp(p, "period_s=", 9)) return;
    if (l->t->kind != FS_TRACE_AVAIL || rows_seen) {
        bad(l, "expected period_s only in an availability trace, before its rows, found \"%.40s\"",
            s);
        return;
    }
    double v;
    if (number(l, p + 9, "period_s", &v)) {
        if (v <= 0) bad(l, "expected period_s > 0, found %s", p + 9);
        else l->t->period_us = llround(v * 1e6);
    }
}

static const char *const headers[] = {"# fedsim-avail v1", "# fedsim-capacity v1"};

static int read_all(loader *l)
{
    int got = read_line(l);
    if (got < 0) return FS_OK;
    if (got == 0 || strcmp(l->buf, headers[l->t->kind])) {
        bad(l, "expected the header \"%s\", found \"%.40s\"", headers[l->t->kind],
            got ? l->buf : "");
        return FS_OK;
    }
    size_t rows = 0;
    while ((got = read_line(l)) > 0) {
        if (!l->buf[0]) continue;
        if (l->buf[0] == '#') {
            directive(l, l->buf, rows > 0);
            continue;
        }
        char *f[6] = {0};
        size_t nf = split(l->buf, f, 5);
        rows++;
        int rc = l->t->kind == FS_TRACE_AVAIL ? avail_row(l, f, nf) : cap_row(l, f, nf);
        if (rc) return rc;
    }
    if (got == 0 && !rows) bad(l, "expected at least one row, found none");
    return FS_OK;
}

/* Each interval's end of its contiguous run, backwards, then across the wrap. */
static void link_runs(fs_trace *t)
{
    if (t->kind != FS_TRACE_AVAIL) return;
    t->iv_off[t->n_keys] = t->n_iv;
    for (size_t k = 0; k < t->n_keys; k++) {
        size_t a = t->iv_off[k], b = t->iv_off[k + 1];
        for (size_t i = b; i-- > a;)
            t->iv[i].off = i + 1 < b && t->iv[i + 1].start == t->iv[i].end ? t->iv[i + 1].off
                                                                           : t->iv[i].end;
        if (!t->period_us || t->iv[a].start != 0 || t->iv[b - 1].end != t->period_us) continue;
        int64_t wrap = t->iv[a].off == t->period_us ? INT64_MAX : t->period_us + t->iv[a].off;
        for (size_t i = a; i < b; i++)
            if (t->iv[i].off == t->period_us) t->iv[i].off = wrap;
    }
}

int fs_trace_load(const char *path, enum fs_trace_kind kind, fs_trace *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    loader l = {.path = path, .err = err, .t = out};
    l.f = fopen(path, "rb");
    if (!l.f) {
        fs_err_add(err, NULL, "%s: expected a readable trace file, found none (%s)", path,
                   strerror(errno));
        return FS_EIO;
    }
    int rc = FS_ENOMEM;
    l.buf = malloc(FS_TRACE_MAX_LINE + 1);
    if (l.buf) rc = read_all(&l);
    /* new_key keeps room for n_keys + 1 offsets: link_runs closes the last key */
    fclose(l.f);
    free(l.buf);
    free(l.table);
    free(l.key_line);
    if (rc == FS_ENOMEM) fs_err_add(err, NULL, "%s: out of memory loading the trace", path);
    if (!rc && l.n_bad) rc = FS_ESCENARIO;
    if (rc) {
        fs_trace_fini(out);
        return rc;
    }
    link_runs(out);
    return FS_OK;
}

void fs_trace_fini(fs_trace *t)
{
    free(t->names);
    free(t->key_off);
    free(t->iv);
    free(t->iv_off);
    free(t->cap);
    memset(t, 0, sizeof *t);
}

const char *fs_trace_key_name(const fs_trace *t, uint32_t key)
{
    return t->names + t->key_off[key];
}

uint32_t fs_trace_assign_key(const fs_trace *t, enum fs_trace_assign how, uint64_t pop_seed,
                             uint64_t client)
{
    uint64_t h = how == FS_TRACE_MODULO ? client
                                        : fs_rng_seed(pop_seed, FS_RNG_TRACE, client, FS_RNG_NONE);
    return (uint32_t)(h % t->n_keys);
}

const char *fs_trace_resolve(const char *scenario_file, const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(scenario_file, '/');
    if (path[0] == '/' || !slash) snprintf(buf, n, "%s", path);
    else snprintf(buf, n, "%.*s/%s", (int)(slash - scenario_file), scenario_file, path);
    return buf;
}

/* The period's start (base) and t's phase within it. */
static int64_t phase_of(const fs_trace *t, int64_t t_us, int64_t *base)
{
    if (!t->period_us) return *base = 0, t_us;
    int64_t ph = t_us % t->period_us;
    if (ph < 0) ph += t->period_us;
    *base = t_us - ph;
    return ph;
}

/* Index of key's last interval starting at or before phase, or SIZE_MAX. */
static size_t last_start(const fs_trace *t, uint32_t key, int64_t ph)
{
    size_t lo = t->iv_off[key], hi = t->iv_off[key + 1];
    size_t first = lo;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->iv[mid].start <= ph) lo = mid + 1;
        else hi = mid;
    }
    return lo == first ? SIZE_MAX : lo - 1;
}

static const fs_trace_iv *covering(const fs_trace *t, uint32_t key, int64_t t_us, int64_t *base)
{
    int64_t ph = phase_of(t, t_us, base);
    size_t i = last_start(t, key, ph);
    return i != SIZE_MAX && ph < t->iv[i].end ? &t->iv[i] : NULL;
}

bool fs_trace_online(const fs_trace *t, uint32_t key, int64_t t_us)
{
    int64_t base;
    return covering(t, key, t_us, &base) != NULL;
}

unsigned fs_trace_state_at(const fs_trace *t, uint32_t key, int64_t t_us)
{
    int64_t base;
    const fs_trace_iv *iv = covering(t, key, t_us, &base);
    return iv ? FS_TRACE_ONLINE | iv->state : 0;
}

int64_t fs_trace_offline_at(const fs_trace *t, uint32_t key, int64_t t_us)
{
    int64_t base;
    const fs_trace_iv *iv = covering(t, key, t_us, &base);
    if (!iv) return t_us;
    return iv->off == INT64_MAX ? INT64_MAX : base + iv->off;
}

int64_t fs_trace_next_online(const fs_trace *t, uint32_t key, int64_t t_us)
{
    int64_t base, ph = phase_of(t, t_us, &base);
    size_t i = last_start(t, key, ph);
    if (i != SIZE_MAX && ph < t->iv[i].end) return t_us;
    size_t next = i == SIZE_MAX ? t->iv_off[key] : i + 1;
    if (next < t->iv_off[key + 1]) return base + t->iv[next].start;
    if (!t->period_us) return INT64_MAX;
    return base + t->period_us + t->iv[t->iv_off[key]].start;
}

/* Overlap of key's intervals with `bits`, shifted by base, with [t0, t1). */
static int64_t overlap_in_period(const fs_trace *t, uint32_t key, unsigned bits, int64_t base,
                                 int64_t t0, int64_t t1)
{
    int64_t us = 0;
    size_t i = last_start(t, key, t0 - base);
    for (i = i == SIZE_MAX ? t->iv_off[key] : i; i < t->iv_off[key + 1]; i++) {
        const fs_trace_iv *iv = &t->iv[i];
        int64_t a = base + iv->start, b = base + iv->end;
        if (a >= t1) break;
        if ((iv->state & bits) != bits) continue;
        a = a > t0 ? a : t0, b = b < t1 ? b : t1;
        if (b > a) us += b - a;
    }
    return us;
}

double fs_trace_seconds_in(const fs_trace *t, uint32_t key, unsigned bits, int64_t t0_us,
                           int64_t t1_us)
{
    if (t1_us <= t0_us) return 0;
    if (!t->period_us) return (double)overlap_in_period(t, key, bits, 0, t0_us, t1_us) / 1e6;
    int64_t base, us = 0;
    phase_of(t, t0_us, &base);
    for (; base < t1_us; base += t->period_us) {
        int64_t a = t0_us > base ? t0_us : base;
        us += overlap_in_period(t, key, bits, base, a, t1_us);
    }
    return (double)us / 1e6;
}

bool fs_trace_has_states(const fs_trace *t)
{
    for (size_t i = 0; i < t->n_iv; i++)
        if (t->iv[i].state & FS_TRACE_KNOWN) return true;
    return false;
}

const char *fs_trace_cap_model(const fs_trace *t, uint32_t key)
{
    fs_assert(t->kind == FS_TRACE_CAPACITY && key < t->n_keys);
    size_t off = t->cap[key].model_off;
    return off == SIZE_MAX ? NULL : t->names + off;
}

typedef struct named_key {
    const char *name;
    uint32_t key;
} named_key;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named_key *)a)->name, ((const named_key *)b)->name);
}

uint32_t *fs_trace_key_map_new(const fs_trace *from, const fs_trace *to)
{
    uint32_t *map = malloc((from->n_keys ? from->n_keys : 1) * sizeof *map);
    named_key *sorted = malloc((to->n_keys ? to->n_keys : 1) * sizeof *sorted);
    if (!map || !sorted) {
        free(map);
        free(sorted);
        return NULL;
    }
    for (size_t k = 0; k < to->n_keys; k++)
        sorted[k] = (named_key){fs_trace_key_name(to, (uint32_t)k), (uint32_t)k};
    qsort(sorted, to->n_keys, sizeof *sorted, by_name);
    for (size_t k = 0; k < from->n_keys; k++) {
        named_key want = {fs_trace_key_name(from, (uint32_t)k), 0};
        const named_key *hit = bsearch(&want, sorted, to->n_keys, sizeof *sorted, by_name);
        map[k] = hit ? hit->key : UINT32_MAX;
    }
    free(sorted);
    return map;
}
