/* fs_libsvm: the LIBSVM/SVMlight loader (fs_data_load_libsvm, contract in fs_load.h).
 *
 * A line is "label idx:val idx:val ... # comment"; tokens are separated by blanks, blank and
 * comment-only lines are skipped, "qid:N" tokens (SVMlight ranking) are ignored. Read through
 * zlib's gz* calls, so plain and gzip files both work.
 *  - Labels must be integers. All in {-1, +1} or all in {0, 1}: binary, class 1 = the label 1.
 *    Otherwise the distinct labels in increasing order are classes 0, 1, 2, ...
 *  - Indices are 1-based (stored as index - 1) unless zero_based. Indices out of order within
 *    a line are sorted (some writers emit them unordered and the order carries no meaning); an
 *    index given twice on a line is an error, since no single value is right.
 *  - Values are kept as written, zeros included; NaN, Inf and values beyond float range are
 *    errors; lines with a value beyond FS_LOAD_LARGE_VALUE are counted and warned about.
 *  - Indices up to FS_LOAD_MAX_FEATURES; a larger one is refused (FS_ESCENARIO) with the model
 *    size it would need, before anything is sized by it.
 * Two passes: the first validates every line (up to FS_ERR_MAX_MSGS errors) and counts rows,
 * non-zeros, labels and the largest index; the second fills a sparse dataset of exact size. */
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

#define SVM_MAX_CLASSES 10000
#define SVM_SHOW 40
#define SVM_BLANKS " \t\r\n\v\f"

typedef struct svm_entry {
    uint32_t idx;
    float val;
} svm_entry;

typedef struct svm_load {
    const char *path;
    fs_err *err;
    gzFile f;
    char *line;
    size_t line_cap, line_no;
    bool eof, zero_based;
    size_t n_features;  /* fixed feature count, 0 = from the data */
    svm_entry *row;     /* the current line's features */
    size_t row_len, row_cap;
    double *label;      /* distinct labels, increasing */
    size_t n_labels, label_cap;
    double cur_label;
    size_t n_rows, nnz, width; /* width: largest 0-based index + 1 */
    fs_load_large large;       /* rows with a value beyond FS_LOAD_LARGE_VALUE */
    size_t large_idx;          /* the (written) index of the largest such value */
    int n_errs;
} svm_load;

/* Reads one physical line into ld->line (any length); sets eof when nothing is left. */
static int svm_getline(svm_load *ld)
{
    size_t len = 0;
    int rc = fs_load_getline(ld->f, ld->path, ld->line_no + 1, &ld->line, &ld->line_cap, &len,
                             &ld->eof, ld->err);
    if (!rc && !ld->eof) ld->line_no++;
    return rc;
}

static int svm_bad(svm_load *ld, const char *what, const char *tok)
{
    size_t n = strlen(tok), m = fs_text_utf8_cut(tok, SVM_SHOW); /* never inside a character */
    fs_err_add(ld->err, NULL, "%s:%zu: expected %s, found '%.*s%s'", ld->path, ld->line_no, what,
               (int)m, tok, n > m ? "..." : "");
    ld->n_errs++;
    return FS_EIO;
}

/* A finite float-range number spanning the whole of s. */
static bool svm_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == 0 && isfinite(*out) && fabs(*out) <= FLT_MAX;
}

static int svm_parse_label(svm_load *ld, const char *tok)
{
    double v;
    if (!svm_number(tok, &v) || v != floor(v) || fabs(v) > INT32_MAX)
        return svm_bad(ld, "an integer label", tok);
    ld->cur_label = v;
    return FS_OK;
}

static int svm_parse_feature(svm_load *ld, char *tok)
{
    char *colon = strchr(tok, ':');
    if (!colon || colon == tok) return svm_bad(ld, "'index:value'", tok);
    *colon = 0;
    bool digits = strspn(tok, "0123456789") == strlen(tok);
    errno = 0;
    unsigned long long i = digits ? strtoull(tok, NULL, 10) : 0;
    double v;
    bool val_ok = svm_number(colon + 1, &v);
    unsigned long long lo = ld->zero_based ? 0 : 1;
    if (digits && !errno && i >= lo && i - lo >= FS_LOAD_MAX_FEATURES) {
        /* refused before the feature space is sized by it: one line could demand any memory */
        fs_err_add(ld->err, NULL, "%s:%zu: expected a feature index <= %llu, found %s (a model "
                   "of %llu features needs %.1f GiB per copy; renumber or hash the features)",
                   ld->path, ld->line_no, (unsigned long long)FS_LOAD_MAX_FEATURES - 1 + lo, tok,
                   i - lo + 1, (double)(i - lo + 1) * 8 / (1u << 30));
        *colon = ':';
        ld->n_errs++;
        return FS_ESCENARIO;
    }
    *colon = ':';
    if (!digits || errno || i < lo) {
        char what[64];
        snprintf(what, sizeof what, "an index >= %llu in 'index:value'", lo);
        return svm_bad(ld, what, tok);
    }
    if (!val_ok) return svm_bad(ld, "a finite number after ':'", tok);
    if (ld->n_features && i - lo >= ld->n_features) {
        char what[80];
        snprintf(what, sizeof what, "an index <= %llu (n_features %zu)", ld->n_features - 1 + lo,
                 ld->n_features);
        return svm_bad(ld, what, tok);
    }
    if (fs_array_grow(&ld->row, &ld->row_cap, ld->row_len + 1, sizeof *ld->row)) return FS_ENOMEM;
    ld->row[ld->row_len++] = (svm_entry){(uint32_t)(i - lo), (float)v};
    return FS_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const svm_entry *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorts the row's features by index and rejects an index given twice. */
static int svm_sort_row(svm_load *ld)
{
    bool sorted = true;
    for (size_t k = 1; k < ld->row_len; k++) sorted &= ld->row[k - 1].idx < ld->row[k].idx;
    if (sorted) return FS_OK;
    qsort(ld->row, ld->row_len, sizeof *ld->row, cmp_entry);
    for (size_t k = 1; k < ld->row_len; k++) {
        if (ld->row[k - 1].idx != ld->row[k].idx) continue;
        fs_err_add(ld->err, NULL, "%s:%zu: expected each index once per line, found %llu twice",
                   ld->path, ld->line_no,
                   (unsigned long long)ld->row[k].idx + (ld->zero_based ? 0 : 1));
        ld->n_errs++;
        return FS_EIO;
    }
    return FS_OK;
}

/* Parses the current line into cur_label and row. *out_data is false for blank or comment
 * lines. */
static int svm_parse_line(svm_load *ld, bool *out_data)
{
    char *hash = strchr(ld->line, '#');
    if (hash) *hash = 0;
    char *save = NULL, *tok = strtok_r(ld->line, SVM_BLANKS, &save);
    ld->row_len = 0;
    *out_data = tok != NULL;
    if (!tok) return FS_OK;
    int rc = svm_parse_label(ld, tok);
    while (rc == FS_OK && (tok = strtok_r(NULL, SVM_BLANKS, &save))) {
        if (strncmp(tok, "qid:", 4) == 0) continue;
        rc = svm_parse_feature(ld, tok);
    }
    return rc ? rc : svm_sort_row(ld);
}

/* Adds the current label to the sorted set of distinct labels. */
static int svm_note_label(svm_load *ld)
{
    size_t lo = 0, hi = ld->n_labels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ld->label[mid] < ld->cur_label) lo = mid + 1;
        else hi = mid;
    }
    if (lo < ld->n_labels && ld->label[lo] == ld->cur_label) return FS_OK;
    if (ld->n_labels == SVM_MAX_CLASSES) {
        fs_err_add(ld->err, NULL, "%s:%zu: expected at most %d distinct labels, found more",
                   ld->path, ld->line_no, SVM_MAX_CLASSES);
        ld->n_errs++;
        return FS_EIO;
    }
    if (fs_array_grow(&ld->label, &ld->label_cap, ld->n_labels + 1, sizeof *ld->label))
        return FS_ENOMEM;
    memmove(ld->label + lo + 1, ld->label + lo, (ld->n_labels - lo) * sizeof *ld->label);
    ld->label[lo] = ld->cur_label;
    ld->n_labels++;
    return FS_OK;
}

/* Counts the line once when one of its values is extreme, remembering where the largest is. */
static void svm_note_large(svm_load *ld)
{
    size_t at = 0;
    for (size_t k = 1; k < ld->row_len; k++)
        if (fabsf(ld->row[k].val) > fabsf(ld->row[at].val)) at = k;
    if (!ld->row_len) return;
    double before = ld->large.max_abs;
    fs_load_note(&ld->large, ld->row[at].val, ld->line_no);
    if (ld->large.max_abs > before) ld->large_idx = ld->row[at].idx + (ld->zero_based ? 0 : 1);
}

static int svm_pass1(svm_load *ld)
{
    int rc = FS_OK;
    while (ld->n_errs < FS_ERR_MAX_MSGS) {
        bool data;
        int r = svm_getline(ld);
        if (r || ld->eof) return r ? r : rc;
        if ((r = svm_parse_line(ld, &data)) == FS_OK && data) r = svm_note_label(ld);
        if (r == FS_ENOMEM) return r;
        rc = rc ? rc : r;
        if (r || !data) continue;
        ld->n_rows++;
        ld->nnz += ld->row_len;
        svm_note_large(ld);
        if (ld->row_len && ld->row[ld->row_len - 1].idx + (size_t)1 > ld->width)
            ld->width = ld->row[ld->row_len - 1].idx + (size_t)1;
    }
    return rc;
}

/* Binary when every label is in {-1, 1} or every label is in {0, 1}. */
static bool svm_binary(const svm_load *ld)
{
    bool pm = true, zo = true;
    for (size_t k = 0; k < ld->n_labels; k++) {
        pm &= ld->label[k] == -1 || ld->label[k] == 1;
        zo &= ld->label[k] == 0 || ld->label[k] == 1;
    }
    return pm || zo;
}

static int32_t svm_class(const svm_load *ld, bool binary)
{
    if (binary) return ld->cur_label == 1;
    size_t lo = 0, hi = ld->n_labels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ld->label[mid] < ld->cur_label) lo = mid + 1;
        else hi = mid;
    }
    return lo < ld->n_labels && ld->label[lo] == ld->cur_label ? (int32_t)lo : -1;
}

static int svm_changed(svm_load *ld)
{
    fs_err_add(ld->err, NULL, "%s:%zu: expected the same data as in the first pass, found a "
               "changed file", ld->path, ld->line_no);
    return FS_EIO;
}

static int svm_pass2(svm_load *ld, fs_dataset *ds)
{
    bool binary = svm_binary(ld);
    ld->line_no = 0;
    ld->eof = false;
    if (gzrewind(ld->f)) return svm_changed(ld);
    size_t r = 0;
    while (r < ds->n) {
        bool data;
        int rc = svm_getline(ld);
        if (rc == FS_OK && ld->eof) rc = svm_changed(ld);
        if (rc == FS_OK) rc = svm_parse_line(ld, &data);
        if (rc) return rc;
        if (!data) continue;
        size_t at = ds->ptr[r];
        int32_t c = svm_class(ld, binary);
        if (c < 0 || at + ld->row_len > ld->nnz) return svm_changed(ld);
        ds->y[r] = c;
        for (size_t k = 0; k < ld->row_len; k++) {
            if (ld->row[k].idx >= ds->d) return svm_changed(ld);
            ds->idx[at + k] = ld->row[k].idx;
            ds->val[at + k] = ld->row[k].val;
        }
        ds->ptr[++r] = at + ld->row_len;
    }
    return FS_OK;
}

int fs_data_load_libsvm(const char *path, size_t n_features, bool zero_based, fs_dataset *out,
                        fs_err *err)
{
    memset(out, 0, sizeof *out);
    svm_load ld = {.path = path, .err = err, .zero_based = zero_based, .n_features = n_features};
    int rc = FS_OK;
    if (n_features > FS_LOAD_MAX_FEATURES) {
        fs_err_add(err, path, "n_features: expected at most %zu, found %zu", FS_LOAD_MAX_FEATURES,
                   n_features);
        return FS_ESCENARIO;
    }
    errno = 0;
    if (!(ld.f = gzopen(path, "rb"))) {
        rc = errno ? FS_EIO : FS_ENOMEM;
        if (errno)
            fs_err_add(err, path, "expected a readable LIBSVM file, found: %s", strerror(errno));
        goto fail;
    }
    gzbuffer(ld.f, 1u << 18);
    if ((rc = svm_pass1(&ld))) goto fail;
    if (ld.n_rows == 0 || ld.n_rows > UINT32_MAX) {
        fs_err_add(err, path, "expected 1 .. %u data lines, found %zu", UINT32_MAX, ld.n_rows);
        rc = FS_EIO;
        goto fail;
    }
    char what[64];
    snprintf(what, sizeof what, "features (largest at index %zu)", ld.large_idx);
    fs_load_warn_large(path, what, &ld.large, "");
    int n_classes = svm_binary(&ld) ? 2 : (int)ld.n_labels;
    size_t d = n_features ? n_features : ld.width;
    if ((rc = fs_dataset_alloc_sparse(out, ld.n_rows, d, ld.nnz, n_classes))) goto fail;
    if ((rc = svm_pass2(&ld, out))) goto fail;
    gzclose(ld.f);
    free(ld.line), free(ld.row), free(ld.label);
    return FS_OK;
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, path, "out of memory while loading");
    if (ld.f) gzclose(ld.f);
    free(ld.line), free(ld.row), free(ld.label);
    fs_dataset_fini(out);
    return rc;
}
