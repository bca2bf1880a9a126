/* fs_csv: the CSV loader (fs_data_load_csv, contract in fs_load.h).
 *
 * Reading: zlib's gz* calls, so plain and gzip files both work. RFC 4180 fields: a field that
 * starts with '"' runs to the next lone '"' ("" is a literal quote) and may hold delimiters and
 * line breaks; a '"' inside an unquoted field is kept literally. LF and CRLF line endings (not
 * CR alone). Blank lines are skipped. Bytes pass through unchanged (UTF-8 or not, except group
 * values: see below); a UTF-8 byte order mark before the header is dropped. Lines, fields per
 * line and the feature space are bounded (FS_LOAD_MAX_*, fs_load.h). Numbers are parsed with
 * strtod (C locale, blanks around them allowed); empty, NaN, Inf, out-of-float-range or trailing
 * text are errors; magnitudes beyond FS_LOAD_LARGE_VALUE load with one warning per column.
 *
 * Feature layout. Feature columns come in the order of opts->features, or in file order when it
 * is NULL (every column but the label and the groups).
 *  - Dense (no categorical column, or FS_CAT_ONEHOT): a numeric column is one feature; a
 *    categorical column with K distinct values is K consecutive features, one per value in
 *    byte-wise (strcmp) order, set to 1 for the row's value and 0 otherwise.
 *  - Sparse (FS_CAT_HASH with at least one categorical column): d = hash_buckets + n_numeric.
 *    A categorical value v of column c sets index FNV-1a-64("c=v") % hash_buckets (offset basis
 *    0xcbf29ce484222325, prime 0x100000001b3, over the bytes of name, '=', value) to 1; two
 *    columns of a row landing in one bucket add up (the usual hashing trick). The j-th numeric
 *    feature (0-based, in feature order) is index hash_buckets + j, stored only when non-zero.
 *  - Sparse (FS_CAT_INDEX with at least one categorical column): exactly the dense one-hot
 *    index space and d, stored as CSR: a categorical column gives one entry (its value's index,
 *    1), a numeric column its one index when the float value is non-zero. For id columns with
 *    thousands of values (MovieLens items), where dense rows are too wide and hashing merges ids.
 * Labels: classes as in fs_load.h; numeric labels that compare equal ("1", "1.0") are one class.
 * Groups: levels are the distinct values in strcmp order, stored whole; a value must be valid
 * UTF-8 of at most FS_DATA_LEVEL_MAX (255) bytes, or the load fails naming file and line.
 *
 * Two passes over the file: the first validates every row and learns the row count, the
 * categories, levels and classes (reporting up to FS_ERR_MAX_MSGS errors); the second fills. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fs_load.h"
#include "fs_load_int.h"
#include "fs_text.h"

#define CSV_MAX_CLASSES 10000 /* more distinct labels than this is a regression target */
#define CSV_SHOW 40           /* bytes of a bad field quoted in a message */

/* ---- record reader ---------------------------------------------------------------------- */

typedef struct csv_reader {
    gzFile f;
    const char *path;
    char delim;
    char *raw;            /* the record's physical lines */
    size_t raw_len, raw_cap;
    char *buf;            /* unquoted fields, NUL-terminated, one after another */
    size_t buf_cap;
    char **field;
    size_t n_fields, field_cap;
    size_t *off;          /* field offsets into buf while splitting */
    size_t off_cap;
    size_t line;          /* physical lines read so far */
    size_t rec_line;      /* line where the current record starts */
    bool eof;
} csv_reader;

static int csv_open(csv_reader *r, const char *path, char delim, fs_err *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->delim = delim;
    errno = 0;
    if (!(r->f = gzopen(path, "rb"))) {
        if (errno == 0) return FS_ENOMEM;
        fs_err_add(err, path, "expected a readable CSV file, found: %s", strerror(errno));
        return FS_EIO;
    }
    gzbuffer(r->f, 1u << 18);
    return FS_OK;
}

static void csv_close(csv_reader *r)
{
    if (r->f) gzclose(r->f);
    free(r->raw);
    free(r->buf);
    free(r->field);
    free(r->off);
    memset(r, 0, sizeof *r);
}

/* Appends one physical line (with its '\n', if any) to raw; sets eof when nothing is left. */
static int csv_getline(csv_reader *r, fs_err *err)
{
    int rc = fs_load_getline(r->f, r->path, r->line + 1, &r->raw, &r->raw_cap, &r->raw_len,
                             &r->eof, err);
    if (!rc && !r->eof) r->line++;
    return rc;
}

static bool csv_at_eol(const csv_reader *r, size_t i)
{
    char c = r->raw[i];
    return c == '\n' || (c == '\r' && (i + 1 == r->raw_len || r->raw[i + 1] == '\n'));
}

/* Splits raw into fields. *out_open is set when raw ends inside a quoted field. */
static int csv_split(csv_reader *r, bool *out_open, fs_err *err)
{
    enum { START, PLAIN, QUOTED, CLOSED } st = START;
    if (fs_array_grow(&r->buf, &r->buf_cap, r->raw_len + 1, 1)) return FS_ENOMEM;
    size_t o = 0, f0 = 0, n = 0;
    for (size_t i = 0;; i++) {
        bool end = i == r->raw_len || (st != QUOTED && csv_at_eol(r, i));
        char c = end ? 0 : r->raw[i];
        if (!end && st == QUOTED) {
            if (c == '"') st = CLOSED;
            else r->buf[o++] = c;
        } else if (!end && c == '"' && st != PLAIN) { /* opening quote, or "" inside quotes */
            if (st == CLOSED) r->buf[o++] = '"';
            st = QUOTED;
        } else if (end || c == r->delim) {
            if (n == FS_LOAD_MAX_COLUMNS) {
                fs_err_add(err, NULL, "%s:%zu: expected at most %d fields, found more", r->path,
                           r->rec_line, FS_LOAD_MAX_COLUMNS);
                return FS_EIO;
            }
            if (fs_array_grow(&r->off, &r->off_cap, n + 1, sizeof *r->off)) return FS_ENOMEM;
            r->off[n++] = f0;
            r->buf[o++] = 0, f0 = o;
            if (end) break;
            st = START;
        } else if (st == CLOSED) {
            fs_err_add(err, NULL, "%s:%zu: expected the delimiter or the end of the line after "
                       "a closing '\"', found '%c'", r->path, r->rec_line, c);
            return FS_EIO;
        } else {
            st = PLAIN, r->buf[o++] = c;
        }
    }
    *out_open = st == QUOTED;
    if (fs_array_grow(&r->field, &r->field_cap, n, sizeof *r->field)) return FS_ENOMEM;
    for (size_t k = 0; k < n; k++) r->field[k] = r->buf + r->off[k];
    r->n_fields = n;
    return FS_OK;
}

/* Reads the next non-blank record into r->field; returns FS_OK with r->eof set at the end. */
static int csv_next(csv_reader *r, fs_err *err)
{
    int rc;
    do {
        r->raw_len = 0;
        if ((rc = csv_getline(r, err)) || r->eof) return rc;
        if (r->line == 1 && r->raw_len >= 3 && !memcmp(r->raw, "\xEF\xBB\xBF", 3)) {
            r->raw_len -= 3; /* a UTF-8 byte order mark, as spreadsheets write */
            memmove(r->raw, r->raw + 3, r->raw_len + 1);
        }
    } while (r->raw_len == 0 || csv_at_eol(r, 0)); /* blank line */
    r->rec_line = r->line;
    for (;;) {
        bool open = false;
        if ((rc = csv_split(r, &open, err)) || !open) return rc;
        if ((rc = csv_getline(r, err))) return rc;
        if (r->eof) {
            fs_err_add(err, NULL, "%s:%zu: expected a closing '\"', found the end of the file",
                       r->path, r->rec_line);
            return FS_EIO;
        }
    }
}

/* ---- string sets: distinct categories, levels and labels --------------------------------- */

typedef struct strset {
    char **key;    /* cap slots, NULL = empty */
    uint32_t *id;  /* rank of the key once sorted */
    size_t cap, n;
} strset;

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}
#define FNV_BASIS UINT64_C(0xcbf29ce484222325)

static size_t strset_slot(const strset *s, const char *k)
{
    size_t i = (size_t)fnv1a(FNV_BASIS, k) & (s->cap - 1);
    while (s->key[i] && strcmp(s->key[i], k)) i = (i + 1) & (s->cap - 1);
    return i;
}

static int strset_add(strset *s, const char *k)
{
    if (2 * (s->n + 1) > s->cap) {
        strset t = {.cap = s->cap ? 2 * s->cap : 16, .n = s->n};
        t.key = calloc(t.cap, sizeof *t.key);
        t.id = calloc(t.cap, sizeof *t.id);
        if (!t.key || !t.id) {
            free(t.key), free(t.id);
            return FS_ENOMEM;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->key[i]) t.key[strset_slot(&t, s->key[i])] = s->key[i];
        free(s->key), free(s->id);
        *s = t;
    }
    size_t i = strset_slot(s, k);
    if (s->key[i]) return FS_OK;
    if (!(s->key[i] = strdup(k))) return FS_ENOMEM;
    s->n++;
    return FS_OK;
}

/* The id of k, or -1 when k is not in the set. */
static long strset_id(const strset *s, const char *k)
{
    if (!s->cap) return -1;
    size_t i = strset_slot(s, k);
    return s->key[i] ? (long)s->id[i] : -1;
}

static void strset_free(strset *s)
{
    for (size_t i = 0; i < s->cap; i++) free(s->key[i]);
    free(s->key), free(s->id);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Gives every key its rank in strcmp order, in id. */
static int strset_rank(strset *s)
{
    char ***p = malloc((s->n ? s->n : 1) * sizeof *p);
    if (!p) return FS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->key[i]) p[m++] = &s->key[i];
    qsort(p, m, sizeof *p, cmp_str);
    for (size_t r = 0; r < m; r++) s->id[p[r] - s->key] = (uint32_t)r;
    free(p);
    return FS_OK;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* strtod on the whole field (blanks around allowed); false on anything else. */
static bool csv_parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s) return false;
    while (*end == ' ' || *end == '\t') end++;
    *out = v;
    return *end == 0;
}

/* ---- the loader -------------------------------------------------------------------------- */

typedef struct csv_feat {
    size_t col;
    bool cat;
    size_t off;   /* dense and index: first feature; hash numeric: hash_buckets + rank */
    strset set;   /* one-hot and index categories */
    fs_load_large large; /* numeric: rows beyond FS_LOAD_LARGE_VALUE */
} csv_feat;

typedef struct csv_group {
    size_t col;
    strset set;
} csv_group;

typedef struct csv_entry {
    uint32_t idx;
    float val;
} csv_entry;

typedef struct csv_load {
    const char *path;
    const fs_csv_opts *o;
    fs_err *err;
    csv_reader rd;
    char **name;            /* header names, n_cols */
    size_t n_cols, label_col;
    csv_feat *feat;
    size_t n_feat;
    csv_group group[FS_DATA_MAX_GROUPS];
    size_t n_group;
    strset labels;
    bool sparse, index, positive_seen; /* index: sparse with the one-hot layout */
    size_t d, n_rows, nnz;
    int n_errs;             /* errors this call added (stop at the collector's cap) */
    csv_entry *scratch;
} csv_load;

#define CSV_FAIL(ld, rc) ((ld)->n_errs++, (rc))

/* Quotes s for a message, cut to CSV_SHOW bytes at a character boundary. */
static const char *csv_show(const char *s, char buf[CSV_SHOW + 4])
{
    size_t n = strlen(s), m = fs_text_utf8_cut(s, CSV_SHOW);
    snprintf(buf, CSV_SHOW + 4, "%.*s%s", (int)m, s, n > m ? "..." : "");
    return buf;
}

/* Case-insensitive edit distance, for "did you mean". Names longer than 63 bytes are cut. */
static size_t csv_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 63), lb = strnlen(b, 63), row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            bool same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + !same;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best, diag = up;
        }
    }
    return row[lb];
}

static int csv_missing(csv_load *ld, const char *what, const char *col)
{
    size_t best = SIZE_MAX, at = 0;
    for (size_t c = 0; c < ld->n_cols; c++) {
        size_t dist = csv_distance(col, ld->name[c]);
        if (dist < best) best = dist, at = c;
    }
    char hint[160] = "";
    if (ld->n_cols && best <= 2 && best < strlen(col))
        snprintf(hint, sizeof hint, " (did you mean '%.100s'?)", ld->name[at]);
    fs_err_add(ld->err, ld->path, "%s: expected a column named '%s', found none among %zu%s",
               what, col, ld->n_cols, hint);
    return CSV_FAIL(ld, FS_ESCENARIO);
}

/* Column index of name; FS_ESCENARIO when absent or not unique. */
static int csv_find(csv_load *ld, const char *what, const char *col, size_t *out)
{
    size_t hits = 0;
    for (size_t c = 0; c < ld->n_cols; c++)
        if (!strcmp(ld->name[c], col)) *out = c, hits++;
    if (hits == 0) return csv_missing(ld, what, col);
    if (hits > 1) {
        fs_err_add(ld->err, ld->path, "%s: expected one column named '%s', found %zu", what, col,
                   hits);
        return CSV_FAIL(ld, FS_ESCENARIO);
    }
    return FS_OK;
}

static bool csv_listed(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name)) return true;
    return false;
}

static int csv_read_header(csv_load *ld)
{
    int rc = csv_next(&ld->rd, ld->err);
    if (rc) return CSV_FAIL(ld, rc);
    if (ld->rd.eof) {
        fs_err_add(ld->err, ld->path, "expected a header row, found an empty file");
        return CSV_FAIL(ld, FS_EIO);
    }
    ld->n_cols = ld->rd.n_fields;
    if (!(ld->name = calloc(ld->n_cols, sizeof *ld->name))) return FS_ENOMEM;
    for (size_t c = 0; c < ld->n_cols; c++)
        if (!(ld->name[c] = strdup(ld->rd.field[c]))) return FS_ENOMEM;
    return FS_OK;
}

/* Checks the options that need no file. */
static int csv_check_opts(const char *path, const fs_csv_opts *o, fs_err *err)
{
    int rc = FS_OK;
    if (!o->label) {
        fs_err_add(err, path, "label: expected a column name, found none");
        rc = FS_ESCENARIO;
    }
    if (o->regression && o->positive) {
        fs_err_add(err, path, "positive: expected no positive class for a regression target, "
                              "found '%s'", o->positive);
        rc = FS_ESCENARIO;
    }
    if (o->n_groups > FS_DATA_MAX_GROUPS) {
        fs_err_add(err, path, "groups: expected at most %d, found %zu", FS_DATA_MAX_GROUPS,
                   o->n_groups);
        rc = FS_ESCENARIO;
    }
    if (o->encoding == FS_CAT_HASH && o->n_categorical > 0 &&
        (o->hash_buckets == 0 || o->hash_buckets > UINT32_MAX / 2)) {
        fs_err_add(err, path, "hash_buckets: expected 1 .. %u with hashed categories, found %zu",
                   UINT32_MAX / 2, o->hash_buckets);
        rc = FS_ESCENARIO;
    }
    return rc;
}

/* A feature column must not be the label or a group. */
static int csv_add_feat(csv_load *ld, size_t col)
{
    const fs_csv_opts *o = ld->o;
    const char *nm = ld->name[col];
    if (col == ld->label_col || csv_listed(o->groups, o->n_groups, nm)) {
        fs_err_add(ld->err, ld->path, "features: expected columns other than the label and the "
                   "groups, found '%s'", nm);
        return CSV_FAIL(ld, FS_ESCENARIO);
    }
    ld->feat[ld->n_feat++] = (csv_feat){.col = col,
                                        .cat = csv_listed(o->categorical, o->n_categorical, nm)};
    return FS_OK;
}

static int csv_plan_features(csv_load *ld)
{
    const fs_csv_opts *o = ld->o;
    size_t n = o->features ? o->n_features : ld->n_cols;
    if (!(ld->feat = calloc(n ? n : 1, sizeof *ld->feat))) return FS_ENOMEM;
    int rc = FS_OK;
    for (size_t i = 0; i < n; i++) {
        size_t col = i;
        if (o->features) {
            int r = csv_find(ld, "features", o->features[i], &col);
            if (r) rc = rc ? rc : r;
            if (r) continue;
        } else if (col == ld->label_col || csv_listed(o->groups, o->n_groups, ld->name[col])) {
            continue;
        }
        int r = csv_add_feat(ld, col);
        if (r) rc = rc ? rc : r;
    }
    for (size_t i = 0; i < o->n_categorical; i++) {
        bool found = false;
        for (size_t f = 0; f < ld->n_feat; f++) found |= !strcmp(ld->name[ld->feat[f].col],
                                                                 o->categorical[i]);
        if (!found) {
            fs_err_add(ld->err, ld->path, "categorical: expected a feature column, found '%s'",
                       o->categorical[i]);
            rc = CSV_FAIL(ld, FS_ESCENARIO);
        }
    }
    if (rc == FS_OK && ld->n_feat == 0) {
        fs_err_add(ld->err, ld->path, "features: expected at least one feature column, found "
                                      "none");
        rc = CSV_FAIL(ld, FS_ESCENARIO);
    }
    return rc;
}

static int csv_plan(csv_load *ld)
{
    const fs_csv_opts *o = ld->o;
    int label_rc = csv_find(ld, "label", o->label, &ld->label_col), rc = label_rc;
    for (size_t g = 0; g < o->n_groups; g++) {
        int r = csv_find(ld, "groups", o->groups[g], &ld->group[ld->n_group].col);
        if (r == FS_OK) ld->n_group++;
        else rc = rc ? rc : r;
    }
    if (label_rc) return rc; /* features are "every other column": unknowable without it */
    int feat_rc = csv_plan_features(ld);
    if (rc || feat_rc) return rc ? rc : feat_rc;
    ld->sparse = o->encoding != FS_CAT_ONEHOT && o->n_categorical > 0;
    ld->index = ld->sparse && o->encoding == FS_CAT_INDEX;
    if (ld->index) return FS_OK; /* laid out in csv_build, once categories are known */
    size_t n_num = 0;
    for (size_t f = 0; f < ld->n_feat; f++)
        if (!ld->feat[f].cat) ld->feat[f].off = n_num++;
    if (ld->sparse) {
        for (size_t f = 0; f < ld->n_feat; f++) ld->feat[f].off += o->hash_buckets;
        ld->d = o->hash_buckets + n_num;
        if (!(ld->scratch = malloc(ld->n_feat * sizeof *ld->scratch))) return FS_ENOMEM;
    }
    return FS_OK;
}

static int csv_number(csv_load *ld, size_t col, double *out)
{
    const char *s = ld->rd.field[col];
    char show[CSV_SHOW + 4];
    const char *what = NULL;
    if (!csv_parse_num(s, out)) what = "a number";
    else if (!isfinite(*out)) what = "a finite number";
    else if (fabs(*out) > FLT_MAX) what = "a number within float range";
    if (!what) return FS_OK;
    fs_err_add(ld->err, NULL, "%s:%zu: column '%s': expected %s, found '%s'", ld->path,
               ld->rd.rec_line, ld->name[col], what, csv_show(s, show));
    return CSV_FAIL(ld, FS_EIO);
}

static int cmp_entry(const void *a, const void *b)
{
    const csv_entry *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The sparse row in scratch: sorted, merged, zeros dropped; returns its length. */
static size_t csv_sparse_row(csv_load *ld)
{
    size_t m = 0;
    for (size_t f = 0; f < ld->n_feat; f++) {
        const csv_feat *ft = &ld->feat[f];
        const char *s = ld->rd.field[ft->col];
        if (ft->cat) {
            uint64_t h = fnv1a(fnv1a(fnv1a(FNV_BASIS, ld->name[ft->col]), "="), s);
            ld->scratch[m++] = (csv_entry){(uint32_t)(h % ld->o->hash_buckets), 1.0f};
            continue;
        }
        double v = 0;
        csv_parse_num(s, &v); /* validated in pass 1 */
        if (v != 0) ld->scratch[m++] = (csv_entry){(uint32_t)ft->off, (float)v};
    }
    qsort(ld->scratch, m, sizeof *ld->scratch, cmp_entry);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (k && ld->scratch[k - 1].idx == ld->scratch[i].idx) ld->scratch[k - 1].val +=
                                                              ld->scratch[i].val;
        else ld->scratch[k++] = ld->scratch[i];
    }
    return k;
}

/* A group value becomes a level name in the database, the report's SVG and HTML and the
 * terminal: it must be valid UTF-8 and at most FS_DATA_LEVEL_MAX bytes (stored whole, so two
 * long levels never merge). */
static int csv_level(csv_load *ld, size_t col)
{
    const char *s = ld->rd.field[col];
    size_t len = strlen(s), ok = fs_text_utf8_prefix(s, len);
    if (ok < len) {
        fs_err_add(ld->err, NULL, "%s:%zu: column '%s': expected UTF-8 text, found the invalid "
                   "byte 0x%02x at byte %zu", ld->path, ld->rd.rec_line, ld->name[col],
                   (unsigned char)s[ok], ok + 1);
        return CSV_FAIL(ld, FS_EIO);
    }
    if (len <= FS_DATA_LEVEL_MAX) return FS_OK;
    char show[CSV_SHOW + 4];
    fs_err_add(ld->err, NULL, "%s:%zu: column '%s': expected a group level of at most %d bytes, "
               "found %zu bytes ('%s')", ld->path, ld->rd.rec_line, ld->name[col],
               FS_DATA_LEVEL_MAX, len, csv_show(s, show));
    return CSV_FAIL(ld, FS_EIO);
}

static int csv_check_width(csv_load *ld)
{
    if (ld->rd.n_fields == ld->n_cols) return FS_OK;
    fs_err_add(ld->err, NULL, "%s:%zu: expected %zu fields (as in the header), found %zu",
               ld->path, ld->rd.rec_line, ld->n_cols, ld->rd.n_fields);
    return CSV_FAIL(ld, FS_EIO);
}

/* Pass 1 on one row: validate, learn categories, levels and labels, count non-zeros. */
static int csv_scan_row(csv_load *ld)
{
    int rc = csv_check_width(ld);
    if (rc) return rc;
    double v = 0;
    size_t nz = 0; /* FS_CAT_INDEX: one entry per category, one per non-zero number */
    for (size_t f = 0; f < ld->n_feat; f++) {
        csv_feat *ft = &ld->feat[f];
        if (!ft->cat) {
            rc = csv_number(ld, ft->col, &v) ? FS_EIO : rc;
            nz += (float)v != 0;
            fs_load_note(&ft->large, v, ld->rd.rec_line);
        } else if (!ld->sparse || ld->index) {
            if (strset_add(&ft->set, ld->rd.field[ft->col])) return FS_ENOMEM;
            nz++;
        }
    }
    for (size_t g = 0; g < ld->n_group; g++) {
        int r = csv_level(ld, ld->group[g].col);
        if (r == FS_ENOMEM) return r;
        rc = rc ? rc : r;
        if (!r && strset_add(&ld->group[g].set, ld->rd.field[ld->group[g].col])) return FS_ENOMEM;
    }
    const char *lab = ld->rd.field[ld->label_col];
    if (ld->o->regression) rc = csv_number(ld, ld->label_col, &v) ? FS_EIO : rc;
    else if (strset_add(&ld->labels, lab)) return FS_ENOMEM;
    if (ld->o->positive && !strcmp(lab, ld->o->positive)) ld->positive_seen = true;
    if (rc == FS_OK && ld->sparse) ld->nnz += ld->index ? nz : csv_sparse_row(ld);
    return rc;
}

static int csv_pass1(csv_load *ld)
{
    int rc = FS_OK;
    size_t max = ld->o->max_rows ? ld->o->max_rows : SIZE_MAX;
    while (ld->n_rows < max && ld->n_errs < FS_ERR_MAX_MSGS) {
        int r = csv_next(&ld->rd, ld->err);
        if (r == FS_ENOMEM) return r;
        if (r) rc = CSV_FAIL(ld, r);
        if (r && ld->rd.eof) break;
        if (r) continue;
        if (ld->rd.eof) break;
        r = csv_scan_row(ld);
        if (r == FS_ENOMEM) return r;
        rc = rc ? rc : r;
        ld->n_rows++;
    }
    if (rc) return rc;
    if (ld->n_rows == 0 || ld->n_rows > UINT32_MAX) {
        fs_err_add(ld->err, ld->path, "expected 1 .. %u data rows, found %zu", UINT32_MAX,
                   ld->n_rows);
        return CSV_FAIL(ld, FS_EIO);
    }
    return FS_OK;
}

typedef struct csv_numkey {
    double v;
    uint32_t *id;
    const char *key;
} csv_numkey;

static int cmp_numkey(const void *a, const void *b)
{
    const csv_numkey *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Numeric label texts: classes in value order, equal values sharing a class. */
static int csv_rank_numeric(strset *s, int *out_n)
{
    csv_numkey *k = malloc((s->n ? s->n : 1) * sizeof *k);
    if (!k) return FS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->key[i]) continue;
        csv_parse_num(s->key[i], &k[m].v);
        k[m].id = &s->id[i];
        k[m++].key = s->key[i];
    }
    qsort(k, m, sizeof *k, cmp_numkey);
    uint32_t c = 0;
    for (size_t r = 0; r < m; r++) {
        if (r && k[r].v != k[r - 1].v) c++;
        *k[r].id = c;
    }
    *out_n = m ? (int)c + 1 : 0;
    free(k);
    return FS_OK;
}

static void csv_list_labels(const strset *s, char *buf, size_t len)
{
    size_t used = 0, shown = 0;
    buf[0] = 0;
    for (size_t i = 0; i < s->cap && used < len && shown < 5; i++)
        if (s->key[i]) used += snprintf(buf + used, len - used, "%s'%.30s'", shown++ ? ", " : "",
                                        s->key[i]);
    if (s->n > shown && used < len) snprintf(buf + used, len - used, ", ...");
}

/* Class count after pass 1; labels ranked (numerically when every label is a number). */
static int csv_classes(csv_load *ld, int *out_n)
{
    const fs_csv_opts *o = ld->o;
    *out_n = o->regression ? 0 : 2;
    if (o->regression) return FS_OK;
    if (o->positive && !ld->positive_seen) {
        char seen[200];
        csv_list_labels(&ld->labels, seen, sizeof seen);
        fs_err_add(ld->err, ld->path, "positive: expected label '%s' in column '%s', found only "
                   "%s", o->positive, o->label, seen);
        return CSV_FAIL(ld, FS_ESCENARIO);
    }
    if (o->positive) return FS_OK;
    if (ld->labels.n > CSV_MAX_CLASSES) {
        fs_err_add(ld->err, ld->path, "label: expected at most %d distinct values in column '%s' "
                   "(set regression for a numeric target), found %zu", CSV_MAX_CLASSES, o->label,
                   ld->labels.n);
        return CSV_FAIL(ld, FS_ESCENARIO);
    }
    bool numeric = true;
    double v;
    for (size_t i = 0; i < ld->labels.cap && numeric; i++)
        if (ld->labels.key[i]) numeric = csv_parse_num(ld->labels.key[i], &v) && isfinite(v);
    if (numeric) return csv_rank_numeric(&ld->labels, out_n);
    *out_n = (int)ld->labels.n;
    return strset_rank(&ld->labels);
}

/* After pass 1: rank categories, lay out one-hot features (dense or index), allocate the dataset
 * and groups. */
static int csv_build(csv_load *ld, fs_dataset *out)
{
    int n_classes, rc = csv_classes(ld, &n_classes);
    if (rc) return rc;
    if (!ld->sparse || ld->index) {
        ld->d = 0;
        for (size_t f = 0; f < ld->n_feat; f++) {
            csv_feat *ft = &ld->feat[f];
            ft->off = ld->d;
            ld->d += ft->cat ? ft->set.n : 1;
            if (ft->cat && (rc = strset_rank(&ft->set))) return rc;
        }
    }
    if ((!ld->sparse || ld->index) && ld->d > FS_LOAD_MAX_FEATURES) { /* before sizing by d */
        fs_err_add(ld->err, ld->path, "features: expected at most %zu features, found %zu (a "
                   "model would need %.1f GiB per copy; use encoding \"hash\" or fewer "
                   "categorical columns)", FS_LOAD_MAX_FEATURES, ld->d,
                   (double)ld->d * 8 / (1u << 30));
        return CSV_FAIL(ld, FS_ESCENARIO);
    }
    if (!ld->sparse) {
        if ((rc = fs_dataset_alloc(out, ld->n_rows, ld->d, n_classes))) return rc;
        if (n_classes == 0) {
            free(out->y), out->y = NULL;
            if (!(out->target = calloc(ld->n_rows, sizeof *out->target))) return FS_ENOMEM;
        }
    } else if ((rc = fs_dataset_alloc_sparse(out, ld->n_rows, ld->d, ld->nnz, n_classes))) {
        return rc;
    }
    for (size_t g = 0; g < ld->n_group; g++) {
        csv_group *gr = &ld->group[g];
        size_t at;
        if ((rc = strset_rank(&gr->set))) return rc;
        rc = fs_dataset_add_group(out, ld->name[gr->col], gr->set.n, &at);
        if (rc == FS_ESCENARIO)
            fs_err_add(ld->err, ld->path, "groups: expected distinct names, found '%s' twice",
                       ld->name[gr->col]);
        if (rc) return rc == FS_ESCENARIO ? CSV_FAIL(ld, rc) : rc;
        const char **names = malloc((gr->set.n ? gr->set.n : 1) * sizeof *names);
        if (!names) return FS_ENOMEM;
        for (size_t i = 0; i < gr->set.cap; i++)
            if (gr->set.key[i]) names[gr->set.id[i]] = gr->set.key[i];
        rc = fs_group_set_names(&out->groups[at], names); /* lengths checked in pass 1 */
        free(names);
        if (rc) return rc;
    }
    return FS_OK;
}

static int csv_changed(csv_load *ld)
{
    fs_err_add(ld->err, NULL, "%s:%zu: expected the same data as in the first pass, found a "
               "changed file", ld->path, ld->rd.rec_line);
    return CSV_FAIL(ld, FS_EIO);
}

/* Pass 2 on row r with FS_CAT_INDEX. Features are laid out in feature order, so the entries come
 * out ascending with no sort. */
static int csv_fill_index(csv_load *ld, fs_dataset *ds, size_t r)
{
    size_t at = ds->ptr[r];
    for (size_t f = 0; f < ld->n_feat; f++) {
        const csv_feat *ft = &ld->feat[f];
        const char *s = ld->rd.field[ft->col];
        long id = ft->cat ? strset_id(&ft->set, s) : 0;
        double v = 1;
        if (!ft->cat) csv_parse_num(s, &v);
        if (id < 0) return csv_changed(ld);
        if ((float)v == 0) continue;
        if (at == ld->nnz) return csv_changed(ld);
        ds->idx[at] = (uint32_t)(ft->off + (size_t)id);
        ds->val[at++] = (float)v;
    }
    ds->ptr[r + 1] = at;
    return FS_OK;
}

/* Pass 2 on row r. Values were validated in pass 1; a mismatch means the file changed. */
static int csv_fill_row(csv_load *ld, fs_dataset *ds, size_t r)
{
    if (ld->rd.n_fields != ld->n_cols) return csv_changed(ld);
    const char *lab = ld->rd.field[ld->label_col];
    double v = 0;
    if (ld->o->regression) csv_parse_num(lab, &v), ds->target[r] = (float)v;
    else if (ld->o->positive) ds->y[r] = !strcmp(lab, ld->o->positive);
    else if (strset_id(&ld->labels, lab) < 0) return csv_changed(ld);
    else ds->y[r] = (int32_t)strset_id(&ld->labels, lab);
    for (size_t g = 0; g < ld->n_group; g++) {
        long id = strset_id(&ld->group[g].set, ld->rd.field[ld->group[g].col]);
        if (id < 0) return csv_changed(ld);
        ds->groups[g].level[r] = (uint32_t)id;
    }
    if (ld->index) return csv_fill_index(ld, ds, r);
    if (ld->sparse) {
        size_t m = csv_sparse_row(ld), at = ds->ptr[r];
        if (at + m > ld->nnz) return csv_changed(ld);
        for (size_t k = 0; k < m; k++) ds->idx[at + k] = ld->scratch[k].idx,
                                        ds->val[at + k] = ld->scratch[k].val;
        ds->ptr[r + 1] = at + m;
        return FS_OK;
    }
    float *x = ds->x + r * ds->d;
    for (size_t f = 0; f < ld->n_feat; f++) {
        const csv_feat *ft = &ld->feat[f];
        long id = ft->cat ? strset_id(&ft->set, ld->rd.field[ft->col]) : 0;
        if (id < 0) return csv_changed(ld);
        if (ft->cat) x[ft->off + (size_t)id] = 1.0f;
        else csv_parse_num(ld->rd.field[ft->col], &v), x[ft->off] = (float)v;
    }
    return FS_OK;
}

static int csv_pass2(csv_load *ld, fs_dataset *ds)
{
    ld->rd.line = 0;
    ld->rd.eof = false;
    int rc = gzrewind(ld->rd.f) ? csv_changed(ld) : csv_next(&ld->rd, ld->err); /* header */
    for (size_t r = 0; rc == FS_OK && r < ld->n_rows; r++) {
        if ((rc = csv_next(&ld->rd, ld->err))) break;
        rc = ld->rd.eof ? csv_changed(ld) : csv_fill_row(ld, ds, r);
    }
    return rc;
}

static void csv_free(csv_load *ld)
{
    csv_close(&ld->rd);
    for (size_t c = 0; ld->name && c < ld->n_cols; c++) free(ld->name[c]);
    free(ld->name);
    for (size_t f = 0; f < ld->n_feat; f++) strset_free(&ld->feat[f].set);
    free(ld->feat);
    for (size_t g = 0; g < FS_DATA_MAX_GROUPS; g++) strset_free(&ld->group[g].set);
    strset_free(&ld->labels);
    free(ld->scratch);
}

int fs_data_load_csv(const char *path, const fs_csv_opts *opts, fs_dataset *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    csv_load ld = {.path = path, .o = opts, .err = err};
    int rc = csv_check_opts(path, opts, err);
    if (rc) return rc;
    if ((rc = csv_open(&ld.rd, path, opts->delimiter ? opts->delimiter : ',', err))) goto fail;
    if ((rc = csv_read_header(&ld))) goto fail;
    if ((rc = csv_plan(&ld))) goto fail;
    if ((rc = csv_pass1(&ld))) goto fail;
    for (size_t f = 0; f < ld.n_feat; f++) {
        char what[256];
        snprintf(what, sizeof what, "column '%.200s'", ld.name[ld.feat[f].col]);
        fs_load_warn_large(path, what, &ld.feat[f].large, " (data.csv.standardize rescales it)");
    }
    if ((rc = csv_build(&ld, out))) goto fail;
    if ((rc = csv_pass2(&ld, out))) goto fail;
    csv_free(&ld);
    return FS_OK;
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, path, "out of memory while loading");
    csv_free(&ld);
    fs_dataset_fini(out);
    return rc;
}
