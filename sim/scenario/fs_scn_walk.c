/* fs_scn_walk: the generic half of scenario validation. Walks a cJSON object against a key table
 * (fs_scn_int.h), reports every problem as "<path>: expected <what>, found <what>", fills the
 * typed fields or their defaults, and emits the effective object back from the fields. Knows
 * nothing of particular keys except the data.source and model.kind applicability rules. */
#include "fs_scn_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "size_t fields are stored as uint64_t");
_Static_assert(sizeof(enum fs_dist_kind) == sizeof(int), "enum fields are stored as int");

void fs_scn_bad(fs_scn_ctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_err_vadd(c->err, path, fmt, ap);
    va_end(ap);
    c->n_bad++;
}

void fs_scn_fmt_num(double x, char *buf, size_t n)
{
    /* Same idea as cJSON's printer: 15 digits unless that does not read back exactly. */
    snprintf(buf, n, "%.15g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, n, "%.17g", x);
}

void fs_scn_render(const cJSON *v, char *buf, size_t n)
{
    if (cJSON_IsNumber(v)) {
        fs_scn_fmt_num(v->valuedouble, buf, n);
    } else if (cJSON_IsString(v)) {
        /* Quote, cut long strings, and keep control bytes out of the terminal. */
        size_t len = strlen(v->valuestring), keep = len > 40 ? 40 : len, j = 0;
        char tmp[48];
        for (size_t i = 0; i < keep; i++) {
            unsigned char ch = (unsigned char)v->valuestring[i];
            tmp[j++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
        }
        tmp[j] = '\0';
        snprintf(buf, n, "\"%s%s\"", tmp, len > keep ? "..." : "");
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(buf, n, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(buf, n, "%s", v->child ? "an array" : "an empty array");
    } else if (cJSON_IsObject(v)) {
        snprintf(buf, n, "%s", v->child ? "an object" : "an empty object");
    } else {
        snprintf(buf, n, "an invalid value");
    }
}

void fs_scn_join(char *out, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(out, FS_SCN_PATH_LEN, "%s.%s", parent, key);
    else
        snprintf(out, FS_SCN_PATH_LEN, "%s", key);
}

/* "<path>: expected <what>, found <v rendered>" */
static void wrong_type(fs_scn_ctx *c, const char *path, const char *what, const cJSON *v)
{
    char got[96];
    fs_scn_render(v, got, sizeof got);
    fs_scn_bad(c, path, "expected %s, found %s", what, got);
}

static void *field(void *base, const fs_scn_key *k)
{
    return (char *)base + k->off;
}

/* Fields outside the scenario (a distribution parsed into a temporary) are not tracked. */
static void mark_good(fs_scn_ctx *c, const void *p)
{
    uintptr_t at = (uintptr_t)p, s = (uintptr_t)c->s;
    if (at >= s && at - s < sizeof c->good) c->good[at - s] = true;
}

static void put_int(void *p, size_t size, double v)
{
    if (size == sizeof(int)) {
        int i = (int)v;
        memcpy(p, &i, sizeof i);
    } else {
        uint64_t u = (uint64_t)v;
        memcpy(p, &u, sizeof u);
    }
}

static double get_int(const void *p, size_t size)
{
    if (size == sizeof(int)) {
        int i;
        memcpy(&i, p, sizeof i);
        return i;
    }
    uint64_t u;
    memcpy(&u, p, sizeof u);
    return (double)u;
}

/* ---- unknown keys ------------------------------------------------------------------------- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Case-insensitive Levenshtein distance over at most 64 bytes of each string. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t na = strnlen(a, 64), nb = strnlen(b, 64);
    size_t row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t cost = lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

const char *fs_scn_nearest_key(const char *key, const char *const *names, size_t n_names)
{
    size_t len = strlen(key), limit = len / 3 > 2 ? len / 3 : 2;
    size_t best = SIZE_MAX;
    const char *nearest = NULL;
    for (size_t i = 0; i < n_names; i++) {
        size_t d = edit_distance(key, names[i]);
        if (d < best) best = d, nearest = names[i];
    }
    return nearest && best <= limit && len <= 64 ? nearest : NULL;
}

static void unknown_key(fs_scn_ctx *c, const char *parent, const char *key,
                        const char *const *names, size_t n_names)
{
    char path[FS_SCN_PATH_LEN];
    fs_scn_join(path, parent, key);
    const char *nearest = fs_scn_nearest_key(key, names, n_names);
    if (nearest) {
        fs_scn_bad(c, path, "unknown key; did you mean \"%s\"?", nearest);
        return;
    }
    if (n_names == 0) { /* {"median": {}}: a variant without parameters */
        fs_scn_bad(c, path, "unknown key (this object takes no keys)");
        return;
    }
    char list[FS_ERR_MSG_LEN] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_names && used < sizeof list; i++)
        used += snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    fs_scn_bad(c, path, "unknown key (valid keys: %s)", list);
}

static bool has_earlier_twin(const cJSON *obj, const cJSON *item)
{
    for (const cJSON *p = obj->child; p && p != item; p = p->next)
        if (p->string && strcmp(p->string, item->string) == 0) return true;
    return false;
}

static void check_names(fs_scn_ctx *c, const cJSON *obj, const char *path, const fs_scn_obj *o)
{
    const char *names[64];
    size_t n_names = o->n_keys < 64 ? o->n_keys : 64;
    for (size_t i = 0; i < n_names; i++)
        names[i] = o->keys[i].name;
    for (const cJSON *it = obj->child; it; it = it->next) {
        size_t i = 0;
        while (i < o->n_keys && strcmp(o->keys[i].name, it->string) != 0)
            i++;
        if (i == o->n_keys) {
            unknown_key(c, path, it->string, names, n_names);
        } else if (has_earlier_twin(obj, it)) {
            char sub[FS_SCN_PATH_LEN];
            fs_scn_join(sub, path, it->string);
            fs_scn_bad(c, sub, "duplicate key");
        }
    }
}

/* ---- scalars ------------------------------------------------------------------------------ */

/* "integer >= 1", "number in (0, 100]", "number". */
static void expect_range(const char *what, unsigned flags, double lo, double hi, char *buf,
                         size_t n)
{
    char a[32], b[32];
    fs_scn_fmt_num(lo, a, sizeof a);
    fs_scn_fmt_num(hi, b, sizeof b);
    bool lo_open = flags & FS_SCN_LO_OPEN, hi_open = flags & FS_SCN_HI_OPEN;
    if ((flags & FS_SCN_LO) && (flags & FS_SCN_HI))
        snprintf(buf, n, "%s in %c%s, %s%c", what, lo_open ? '(' : '[', a, b, hi_open ? ')' : ']');
    else if (flags & FS_SCN_LO)
        snprintf(buf, n, "%s %s %s", what, lo_open ? ">" : ">=", a);
    else if (flags & FS_SCN_HI)
        snprintf(buf, n, "%s %s %s", what, hi_open ? "<" : "<=", b);
    else
        snprintf(buf, n, "%s", what);
}

static bool in_range(double x, unsigned flags, double lo, double hi)
{
    if (flags & FS_SCN_LO && (flags & FS_SCN_LO_OPEN ? x <= lo : x < lo)) return false;
    if (flags & FS_SCN_HI && (flags & FS_SCN_HI_OPEN ? x >= hi : x > hi)) return false;
    return true;
}

/* A number (integral when asked) within the bounds, or an error; the value in *out. */
/* Integers also stay within what their field holds (`limit`), bounds or not. */
static bool check_number(fs_scn_ctx *c, const char *path, const cJSON *v, bool integral,
                         unsigned flags, double lo, double hi, double limit, double *out)
{
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        bool whole = x == floor(x) && fabs(x) <= limit;
        if (isfinite(x) && (!integral || whole) && in_range(x, flags, lo, hi)) {
            *out = x;
            return true;
        }
    }
    char want[96], got[96];
    expect_range(integral ? "integer" : "number", flags, lo, hi, want, sizeof want);
    fs_scn_render(v, got, sizeof got);
    fs_scn_bad(c, path, "expected %s, found %s", want, got);
    return false;
}

static bool is_ident(const char *s)
{
    for (; *s; s++) {
        char ch = *s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

static bool check_str(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                      void *base)
{
    if (cJSON_IsString(v)) {
        size_t len = strlen(v->valuestring);
        bool ok = len >= (size_t)k->lo && len <= (size_t)k->hi && len < k->size;
        if (ok && (!(k->flags & FS_SCN_IDENT) || is_ident(v->valuestring))) {
            memcpy(field(base, k), v->valuestring, len + 1);
            return true;
        }
    }
    char got[96];
    fs_scn_render(v, got, sizeof got);
    fs_scn_bad(c, path, "expected string of %g to %g characters%s, found %s", k->lo, k->hi,
               k->flags & FS_SCN_IDENT ? " from [A-Za-z0-9_.-]" : "", got);
    return false;
}

static void list_words(const char *const *words, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; words[i] && used < n; i++)
        used += snprintf(buf + used, n - used, "%s\"%s\"", i ? ", " : "", words[i]);
}

static bool check_enum(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                       void *base)
{
    const char *const *words = k->aux;
    if (cJSON_IsString(v)) {
        for (int i = 0; words[i]; i++) {
            if (strcmp(words[i], v->valuestring) == 0) {
                memcpy(field(base, k), &i, sizeof i);
                return true;
            }
        }
    }
    char want[256], got[96];
    list_words(words, want, sizeof want);
    fs_scn_render(v, got, sizeof got);
    fs_scn_bad(c, path, "expected one of %s, found %s", want, got);
    return false;
}

/* ---- unions and distributions ------------------------------------------------------------- */

/* snprintf into buf + *at, *at kept within n. */
static void append(char *buf, size_t n, size_t *at, const char *fmt, const char *arg)
{
    if (*at >= n) return;
    int w = snprintf(buf + *at, n - *at, fmt, arg);
    *at = w < 0 ? n : *at + (size_t)w;
}

void fs_scn_union_expect(const fs_scn_union *u, const char *first, char *buf, size_t n)
{
    size_t at = 0, nv = u->n_variants;
    if (n) buf[0] = '\0';
    if (first)
        append(buf, n, &at, "%s", first);
    else if (u->word)
        append(buf, n, &at, "\"%s\"", u->word);
    bool lead = at > 0;
    if (nv > 2) { /* grouped: five objects one by one would not read as one choice */
        append(buf, n, &at, "%s", lead ? " or {" : "{");
        for (size_t i = 0; i < nv; i++)
            append(buf, n, &at, i ? " | \"%s\"" : "\"%s\"", u->variants[i].name);
        append(buf, n, &at, "%s", ": {...}}");
        return;
    }
    for (size_t i = 0; i < nv; i++) {
        const char *sep = !lead && i == 0 ? "" : i + 1 == nv ? " or " : ", ";
        append(buf, n, &at, "%s", sep);
        append(buf, n, &at, "{\"%s\": {...}}", u->variants[i].name);
    }
}

/* Validates a union value and the chosen variant's object. Returns the tag, or -1. `first` is
 * the non-object alternative a wrong type is told about (fs_scn_union_expect). */
static int pick_variant(fs_scn_ctx *c, const cJSON *v, const char *path, const fs_scn_union *u,
                        const char *first, void *base)
{
    char got[96];
    if (u->word && cJSON_IsString(v) && strcmp(v->valuestring, u->word) == 0) return u->word_tag;
    if (!cJSON_IsObject(v)) {
        char expect[256];
        fs_scn_union_expect(u, first, expect, sizeof expect);
        wrong_type(c, path, expect, v);
        return -1;
    }
    const char *names[8];
    size_t n_names = u->n_variants < 8 ? u->n_variants : 8;
    for (size_t i = 0; i < n_names; i++)
        names[i] = u->variants[i].name;
    const fs_scn_variant *chosen = NULL;
    int n_keys = 0;
    bool unknown = false;
    for (const cJSON *it = v->child; it; it = it->next, n_keys++) {
        size_t i = 0;
        while (i < n_names && strcmp(names[i], it->string) != 0)
            i++;
        if (i < n_names)
            chosen = &u->variants[i];
        else
            unknown = true, unknown_key(c, path, it->string, names, n_names);
    }
    if (unknown) return -1;
    if (n_keys != 1) {
        char want[128];
        size_t used = 0;
        for (size_t i = 0; i < n_names && used < sizeof want; i++)
            used += snprintf(want + used, sizeof want - used, "%s\"%s\"", i ? ", " : "", names[i]);
        if (n_keys == 0)
            snprintf(got, sizeof got, "an empty object");
        else
            snprintf(got, sizeof got, "%d keys", n_keys);
        fs_scn_bad(c, path, "expected exactly one of %s, found %s", want, got);
        return -1;
    }
    char sub[FS_SCN_PATH_LEN];
    fs_scn_join(sub, path, chosen->name);
    if (!cJSON_IsObject(v->child)) {
        fs_scn_render(v->child, got, sizeof got);
        fs_scn_bad(c, sub, "expected an object, found %s", got);
        return -1;
    }
    int before = c->n_bad;
    fs_scn_walk(c, v->child, sub, chosen->obj, base);
    return c->n_bad == before ? chosen->tag : -1;
}

#define DIST_FIELD(m) .off = offsetof(fs_dist, m), .size = sizeof(double)
static const fs_scn_key lognormal_keys[] = {
    {.name = "mu", .type = FS_SCN_NUM, .flags = FS_SCN_REQ, DIST_FIELD(a)},
    {.name = "sigma", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | FS_SCN_LO, DIST_FIELD(b)},
};
static const fs_scn_key uniform_pos_keys[] = {
    {.name = "min",
     .type = FS_SCN_NUM,
     .flags = FS_SCN_REQ | FS_SCN_LO | FS_SCN_LO_OPEN,
     DIST_FIELD(a)},
    {.name = "max", .type = FS_SCN_NUM, .flags = FS_SCN_REQ, DIST_FIELD(b)},
};
static const fs_scn_key uniform_nonneg_keys[] = {
    {.name = "min", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | FS_SCN_LO, DIST_FIELD(a)},
    {.name = "max", .type = FS_SCN_NUM, .flags = FS_SCN_REQ, DIST_FIELD(b)},
};
static const fs_scn_obj lognormal_obj = {lognormal_keys, 2};
static const fs_scn_obj uniform_pos_obj = {uniform_pos_keys, 2};
static const fs_scn_obj uniform_nonneg_obj = {uniform_nonneg_keys, 2};
static const fs_scn_variant dist_pos_variants[] = {
    {"lognormal", FS_DIST_LOGNORMAL, &lognormal_obj},
    {"uniform", FS_DIST_UNIFORM, &uniform_pos_obj},
};
static const fs_scn_variant dist_nonneg_variants[] = {
    {"lognormal", FS_DIST_LOGNORMAL, &lognormal_obj},
    {"uniform", FS_DIST_UNIFORM, &uniform_nonneg_obj},
};
static const fs_scn_union dist_pos = FS_SCN_UNION_OF(NULL, -1, dist_pos_variants);
static const fs_scn_union dist_nonneg = FS_SCN_UNION_OF(NULL, -1, dist_nonneg_variants);

/* The key's lower bound (> 0 or >= 0) applies to a constant and to uniform's min. */
static bool check_dist(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                       void *base)
{
    fs_dist *d = field(base, k);
    unsigned bound = k->flags & (FS_SCN_LO | FS_SCN_LO_OPEN);
    if (cJSON_IsNumber(v)) {
        double x;
        if (!check_number(c, path, v, false, bound, 0, 0, 0, &x)) return false;
        *d = (fs_dist){.kind = FS_DIST_CONST, .a = x};
        return true;
    }
    char num[64];
    expect_range("number", bound, 0, 0, num, sizeof num);
    fs_dist tmp = {0};
    int tag =
        pick_variant(c, v, path, bound & FS_SCN_LO_OPEN ? &dist_pos : &dist_nonneg, num, &tmp);
    if (tag < 0) return false;
    tmp.kind = (enum fs_dist_kind)tag;
    if (tmp.kind == FS_DIST_UNIFORM && tmp.b < tmp.a) {
        char sub[FS_SCN_PATH_LEN], a[32], b[32];
        fs_scn_join(sub, path, "uniform.max");
        fs_scn_fmt_num(tmp.a, a, sizeof a);
        fs_scn_fmt_num(tmp.b, b, sizeof b);
        fs_scn_bad(c, sub, "expected number >= min (%s), found %s", a, b);
        return false;
    }
    *d = tmp;
    return true;
}

static cJSON *emit_dist(const fs_dist *d)
{
    if (d->kind == FS_DIST_CONST) return cJSON_CreateNumber(d->a);
    bool logn = d->kind == FS_DIST_LOGNORMAL;
    cJSON *outer = cJSON_CreateObject();
    cJSON *inner = cJSON_AddObjectToObject(outer, logn ? "lognormal" : "uniform");
    if (!inner || !cJSON_AddNumberToObject(inner, logn ? "mu" : "min", d->a) ||
        !cJSON_AddNumberToObject(inner, logn ? "sigma" : "max", d->b)) {
        cJSON_Delete(outer);
        return NULL;
    }
    return outer;
}

/* ---- arrays ------------------------------------------------------------------------------- */

/* A number in [lo, hi] that is a whole number of quarters (time-zone offsets in hours: India
 * 5.5, Nepal 5.75): 4x must be an integer, exactly (0.25 is a binary fraction). */
static bool check_quarter(fs_scn_ctx *c, const char *path, const cJSON *v, unsigned flags,
                          double lo, double hi, double *out)
{
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble, q = 4 * x;
        if (isfinite(x) && q == floor(q) && in_range(x, flags, lo, hi)) {
            *out = x;
            return true;
        }
    }
    char want[96], got[96];
    expect_range("number", flags, lo, hi, want, sizeof want);
    fs_scn_render(v, got, sizeof got);
    fs_scn_bad(c, path, "expected %s in multiples of 0.25, found %s", want, got);
    return false;
}

static bool check_int_array(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                            void *base)
{
    size_t cap = k->size / sizeof(int);
    char elem[64], got[96];
    unsigned bound = k->flags & (FS_SCN_LO | FS_SCN_LO_OPEN | FS_SCN_HI | FS_SCN_HI_OPEN);
    expect_range("integers", bound, k->lo, k->hi, elem, sizeof elem);
    int count = cJSON_GetArraySize(v);
    int least = k->aux && k->def == 0 ? 0 : 1; /* keys whose default is [] accept [] */
    if (!cJSON_IsArray(v) || count < least || (size_t)count > cap) {
        if (cJSON_IsArray(v) && count > 0)
            snprintf(got, sizeof got, "%d items", count);
        else
            fs_scn_render(v, got, sizeof got);
        fs_scn_bad(c, path, "expected an array of %d to %zu %s, found %s", least, cap, elem, got);
        return false;
    }
    /* Elements go straight into the field: a failed scenario is discarded as a whole. */
    int *vals = field(base, k);
    bool ok = true;
    int i = 0;
    bool quarters = k->flags & FS_SCN_QUARTERS;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        char sub[FS_SCN_PATH_LEN + 16];
        double x = 0;
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        if (quarters) {
            ok = check_quarter(c, sub, it, bound, k->lo, k->hi, &x) && ok;
            vals[i] = (int)llround(4 * x);
            continue;
        }
        ok = check_number(c, sub, it, true, bound, k->lo, k->hi, INT_MAX, &x) && ok;
        vals[i] = (int)x;
    }
    if (!ok) return false;
    size_t n = (size_t)count;
    memcpy((char *)base + k->off2, &n, sizeof n);
    return true;
}

/* An array of up to cap short names (column names, metric names), each 1..31 characters. */
static bool check_str_array(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                            void *base)
{
    size_t cap = k->size / FS_SCN_NAME_LEN;
    char got[96];
    int count = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || (size_t)count > cap) {
        if (cJSON_IsArray(v))
            snprintf(got, sizeof got, "%d items", count);
        else
            fs_scn_render(v, got, sizeof got);
        fs_scn_bad(c, path, "expected an array of at most %zu strings, found %s", cap, got);
        return false;
    }
    char(*vals)[FS_SCN_NAME_LEN] = field(base, k);
    bool ok = true;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        size_t len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
        if (len >= 1 && len < FS_SCN_NAME_LEN) {
            memcpy(vals[i], it->valuestring, len + 1);
            continue;
        }
        char sub[FS_SCN_PATH_LEN + 16];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        fs_scn_render(it, got, sizeof got);
        fs_scn_bad(c, sub, "expected string of 1 to %d characters, found %s", FS_SCN_NAME_LEN - 1,
                   got);
        ok = false;
    }
    size_t n = (size_t)count;
    if (ok) memcpy((char *)base + k->off2, &n, sizeof n);
    return ok;
}

static cJSON *emit_str_array(const fs_scn_key *k, const void *base)
{
    size_t n;
    memcpy(&n, (const char *)base + k->off2, sizeof n);
    const char(*vals)[FS_SCN_NAME_LEN] = (const void *)((const char *)base + k->off);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(vals[i]))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- the walk ----------------------------------------------------------------------------- */

/* Keys that belong to one data source (or model kind) are errors under the others, once the
 * source (kind) is known. */
static bool applies(const fs_scn_ctx *c, const fs_scn_key *k)
{
    const fs_scenario *s = c->s;
    if (k->sources && c->good[offsetof(fs_scenario, data.source)] &&
        !(k->sources & FS_SCN_SRC(s->data.source)))
        return false;
    if (k->models && c->good[offsetof(fs_scenario, model.kind)] &&
        !(k->models & FS_SCN_MODEL(s->model.kind)))
        return false;
    return true;
}

/* Whether the source and kind a key depends on are known (else it is neither demanded nor
 * defaulted). */
static bool selectors_known(const fs_scn_ctx *c, const fs_scn_key *k)
{
    return (!k->sources || c->good[offsetof(fs_scenario, data.source)]) &&
           (!k->models || c->good[offsetof(fs_scenario, model.kind)]);
}

static void not_applicable(fs_scn_ctx *c, const fs_scn_key *k, const char *path)
{
    const fs_scenario *s = c->s;
    if (k->sources && !(k->sources & FS_SCN_SRC(s->data.source)))
        fs_scn_bad(c, path, "not applicable to source \"%s\"%s", fs_scn_sources[s->data.source],
                   k->na_note ? k->na_note : "");
    else
        fs_scn_bad(c, path, "not applicable to model.kind \"%s\"%s",
                   fs_scn_model_kinds[s->model.kind], k->na_note ? k->na_note : "");
}

/* A JSON object as compact text in the key's char array. */
static bool check_json(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                       void *base)
{
    if (!cJSON_IsObject(v)) {
        wrong_type(c, path, "an object", v);
        return false;
    }
    char *text = cJSON_PrintUnformatted(v);
    size_t len = text ? strlen(text) : 0;
    bool ok = text && len < k->size;
    if (ok)
        memcpy(field(base, k), text, len + 1);
    else if (text)
        fs_scn_bad(c, path, "expected an object of at most %zu characters as JSON, found %zu",
                   k->size - 1, len);
    else
        fs_scn_bad(c, path, "out of memory");
    cJSON_free(text);
    return ok;
}

static bool set_default(fs_scn_ctx *c, const fs_scn_key *k, const char *path, void *base)
{
    void *p = field(base, k);
    switch (k->type) {
    case FS_SCN_INT:
        put_int(p, k->size, k->def);
        return true;
    case FS_SCN_NUM:
        memcpy(p, &k->def, sizeof k->def);
        return true;
    case FS_SCN_BOOL:
        *(bool *)p = k->def != 0;
        return true;
    case FS_SCN_ENUM:
    case FS_SCN_UNION: {
        int i = (int)k->def;
        memcpy(p, &i, sizeof i);
        return true;
    }
    case FS_SCN_STR:
    case FS_SCN_JSON:
        if (!k->def_str) return false;
        snprintf(p, k->size, "%s", k->def_str);
        return true;
    case FS_SCN_OBJ: {
        int before = c->n_bad;
        fs_scn_walk(c, NULL, path, k->aux, base);
        return c->n_bad == before;
    }
    case FS_SCN_DIST:
        memcpy(p, k->aux, sizeof(fs_dist));
        return true;
    case FS_SCN_INT_ARRAY: {
        int first = (int)k->def;
        size_t n = k->aux ? (size_t)k->def : 1;
        memcpy(p, k->aux ? k->aux : &first, n * sizeof first);
        memcpy((char *)base + k->off2, &n, sizeof n);
        return true;
    }
    case FS_SCN_STR_ARRAY: {
        size_t zero = 0;
        memcpy((char *)base + k->off2, &zero, sizeof zero);
        return true;
    }
    case FS_SCN_KEEP:
    case FS_SCN_RAW:
        return false;
    }
    return false;
}

static bool check_value(fs_scn_ctx *c, const fs_scn_key *k, const cJSON *v, const char *path,
                        void *base)
{
    void *p = field(base, k);
    double x;
    switch (k->type) {
    case FS_SCN_INT:
    case FS_SCN_NUM:
        if (!check_number(c, path, v, k->type == FS_SCN_INT, k->flags, k->lo, k->hi,
                          k->size == sizeof(int) ? INT_MAX : FS_SCN_INT_LIMIT, &x))
            return false;
        if (k->type == FS_SCN_INT)
            put_int(p, k->size, x);
        else
            memcpy(p, &x, sizeof x);
        return true;
    case FS_SCN_BOOL:
        if (cJSON_IsBool(v)) {
            *(bool *)p = cJSON_IsTrue(v);
            return true;
        }
        wrong_type(c, path, "true or false", v);
        return false;
    case FS_SCN_STR:
        return check_str(c, k, v, path, base);
    case FS_SCN_JSON:
        return check_json(c, k, v, path, base);
    case FS_SCN_ENUM:
        return check_enum(c, k, v, path, base);
    case FS_SCN_OBJ:
        if (cJSON_IsObject(v)) {
            int before = c->n_bad;
            fs_scn_walk(c, v, path, k->aux, base);
            return c->n_bad == before;
        }
        wrong_type(c, path, "an object", v);
        return false;
    case FS_SCN_UNION: {
        const fs_scn_union *u = k->aux;
        int tag = pick_variant(c, v, path, u, NULL, base);
        if (tag >= 0) memcpy(p, &tag, sizeof tag);
        return tag >= 0;
    }
    case FS_SCN_DIST:
        return check_dist(c, k, v, path, base);
    case FS_SCN_INT_ARRAY:
        return check_int_array(c, k, v, path, base);
    case FS_SCN_STR_ARRAY:
        return check_str_array(c, k, v, path, base);
    case FS_SCN_RAW:
        if (cJSON_IsObject(v)) return false; /* checked by its own module */
        wrong_type(c, path, "an object", v);
        return false;
    case FS_SCN_KEEP:
        if (cJSON_IsString(v)) return false; /* valid, but no field to mark */
        wrong_type(c, path, "string", v);
        return false;
    }
    return false;
}

void fs_scn_walk(fs_scn_ctx *c, const cJSON *obj, const char *path, const fs_scn_obj *o, void *base)
{
    if (obj) check_names(c, obj, path, o);
    for (size_t i = 0; i < o->n_keys; i++) {
        const fs_scn_key *k = &o->keys[i];
        char sub[FS_SCN_PATH_LEN];
        fs_scn_join(sub, path, k->name);
        const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, k->name) : NULL;
        if (v && !applies(c, k)) {
            not_applicable(c, k, sub);
            continue;
        }
        /* another source's (kind's) key, or one not known yet: nothing to demand or default */
        bool selected = k->sources || k->models;
        if (!v && selected && (!selectors_known(c, k) || !applies(c, k))) continue;
        if (!v && (k->flags & FS_SCN_REQ)) {
            fs_scn_bad(c, sub, "missing required key");
            continue;
        }
        if (k->present_off) *(bool *)((char *)base + k->present_off) = v != NULL;
        if (!v && k->present_off) continue; /* an optional feature left off: nothing to fill */
        bool ok = v ? check_value(c, k, v, sub, base) : set_default(c, k, sub, base);
        /* Objects have no field of their own; KEEP keys none at all. */
        if (ok && k->type != FS_SCN_OBJ) mark_good(c, field(base, k));
    }
}

/* ---- emitting the effective scenario ------------------------------------------------------ */

static cJSON *emit_union(const fs_scn_ctx *c, const fs_scn_key *k, const void *base)
{
    const fs_scn_union *u = k->aux;
    int tag;
    memcpy(&tag, (const char *)base + k->off, sizeof tag);
    if (u->word && tag == u->word_tag) return cJSON_CreateString(u->word);
    for (size_t i = 0; i < u->n_variants; i++) {
        if (u->variants[i].tag != tag) continue;
        cJSON *outer = cJSON_CreateObject();
        cJSON *inner = fs_scn_emit(c, u->variants[i].obj, base, NULL);
        if (outer && inner && cJSON_AddItemToObject(outer, u->variants[i].name, inner))
            return outer;
        cJSON_Delete(outer);
        cJSON_Delete(inner);
        return NULL;
    }
    return NULL;
}

/* Quarter-hour counts back to hours: 22 -> 5.5; whole hours print as integers, as before. */
static cJSON *emit_quarters(const int *q, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(q[i] / 4.0);
        if (!x || !cJSON_AddItemToArray(arr, x)) {
            cJSON_Delete(x);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *emit_key(const fs_scn_ctx *c, const fs_scn_key *k, const void *base, const cJSON *src)
{
    const void *p = (const char *)base + k->off;
    double x;
    int i;
    switch (k->type) {
    case FS_SCN_INT:
        return cJSON_CreateNumber(get_int(p, k->size));
    case FS_SCN_NUM:
        memcpy(&x, p, sizeof x);
        return cJSON_CreateNumber(x);
    case FS_SCN_BOOL:
        return cJSON_CreateBool(*(const bool *)p);
    case FS_SCN_STR:
        return cJSON_CreateString(p);
    case FS_SCN_JSON:
        return cJSON_Parse(p);
    case FS_SCN_ENUM:
        memcpy(&i, p, sizeof i);
        return cJSON_CreateString(((const char *const *)k->aux)[i]);
    case FS_SCN_OBJ:
        return fs_scn_emit(c, k->aux, base, cJSON_IsObject(src) ? src : NULL);
    case FS_SCN_UNION:
        return emit_union(c, k, base);
    case FS_SCN_DIST:
        return emit_dist(p);
    case FS_SCN_INT_ARRAY: {
        size_t n;
        memcpy(&n, (const char *)base + k->off2, sizeof n);
        if (k->flags & FS_SCN_QUARTERS) return emit_quarters(p, n);
        return cJSON_CreateIntArray(p, (int)n);
    }
    case FS_SCN_STR_ARRAY:
        return emit_str_array(k, base);
    case FS_SCN_KEEP:
        return cJSON_CreateString(src->valuestring);
    case FS_SCN_RAW:
        return NULL;
    }
    return NULL;
}

cJSON *fs_scn_emit(const fs_scn_ctx *c, const fs_scn_obj *o, const void *base, const cJSON *src)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return NULL;
    for (size_t i = 0; i < o->n_keys; i++) {
        const fs_scn_key *k = &o->keys[i];
        const cJSON *v = src ? cJSON_GetObjectItemCaseSensitive(src, k->name) : NULL;
        if (!applies(c, k) || (k->type == FS_SCN_KEEP && !cJSON_IsString(v)) ||
            k->type == FS_SCN_RAW)
            continue;
        if (k->present_off && !*(const bool *)((const char *)base + k->present_off)) continue;
        cJSON *item = emit_key(c, k, base, v);
        if (!item || !cJSON_AddItemToObject(obj, k->name, item)) {
            cJSON_Delete(item);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}
