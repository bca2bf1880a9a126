/* fs_scn_mem: the memory a scenario needs, estimated from the scenario alone before anything is
 * allocated, and the check that refuses at validation what cannot fit (rather than being killed
 * by the kernel an hour into a run). The figures are expected values, not bounds: the largest
 * terms (model copies in flight, materialised rows, per-client records) as the engine, the
 * generators and the population allocate them. Data-dependent sizes (a CSV's one-hot width, a
 * LIBSVM file's largest index) are left to the loaders. */
#include "fs_scn.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_algo.h"
#include "fs_model_kinds.h"
#include "fs_real.h"
#include "fs_server.h"

#define GIB 1073741824.0

/* Parameters of the model on data of d features and k classes (0: regression), as the model
 * kinds count them (fs_model_kinds.c). */
static double model_params(const fs_scenario *s, double d, double k)
{
    return fs_model_kind_of(s)->params(s, d, k >= 2 ? k : 1);
}

/* Mean of lognormal(mu, sigma) draws of a count, capped as the generators cap them. */
static double lognormal_mean(double mu, double sigma, double cap)
{
    double m = exp(mu + sigma * sigma / 2);
    return m < 1 ? 1 : m > cap ? cap : m;
}

/* Bytes of the rows the run holds: every client's when materialised, else the evaluation
 * sample's. Per row: label or target, row offset, partition entry, group levels. */
static double data_bytes(const fs_scenario *s, const fs_scn_shape *d)
{
    const typeof(s->data) *D = &s->data;
    double clients = (double)D->clients;
    if (D->on_demand && (double)s->eval.sample_clients < clients)
        clients = (double)s->eval.sample_clients;
    double groups = (double)d->n_groups * 4, rows, per_row;
    switch (D->source) {
    case FS_SRC_FASHION_MNIST:
        rows = (D->train_samples ? (double)D->train_samples : 60000) +
               (D->test_samples ? (double)D->test_samples : 10000);
        return rows * (784 * 4 + 16);
    case FS_SRC_MARKETING: { /* 9 user and ad features plus interest crosses, 8 bytes each */
        double interests = D->marketing.n_interests < 8 ? (double)D->marketing.n_interests : 8;
        rows = lognormal_mean(D->marketing.exposure_mu, D->marketing.exposure_sigma, 1048576);
        per_row = (9 + interests) * 8 + 24 + groups;
        break;
    }
    case FS_SRC_FRAUD:
        rows = lognormal_mean(D->fraud.tx_mu, D->fraud.tx_sigma, 1048576);
        per_row = (double)d->n_features * 4 + 16 + groups;
        break;
    case FS_SRC_RATINGS:
        rows = lognormal_mean(D->ratings.activity_mu, D->ratings.activity_sigma,
                              (double)D->ratings.n_items);
        per_row = 8 + 24 + groups;
        break;
    default: /* synthetic: small; files: known once read */
        return 0;
    }
    return clients * rows * per_row;
}

void fs_scn_mem_estimate(const fs_scenario *s, const fs_scn_shape *d, int n_threads,
                         fs_scn_mem *out)
{
    memset(out, 0, sizeof *out);
    double k = d->n_classes == FS_SCN_UNKNOWN ? 2 : d->n_classes;
    out->n_params = d->n_features ? model_params(s, (double)d->n_features, k) : 0;
    double threads = n_threads > 0 ? n_threads : 1;
    double sel = s->server.mode == FS_SERVER_ASYNC
                     ? (double)s->server.concurrency + (double)s->server.buffer_size
                     : ceil((double)s->server.clients_per_round * s->server.over_selection);
    if (sel > (double)s->data.clients) sel = (double)s->data.clients;
    /* Dense models keep an update per client in flight; sparse ones (logreg, mf on sparse rows)
     * keep only the touched coordinates. Each thread holds a gradient and a local model; the
     * global model, the aggregator's sums and the server optimizer's moments add a few more.
     * Those server-side sums and moments are double; everything else is fs_real. */
    bool sparse = fs_model_kind_sparse_updates(s, d->sparse);
    double reals = (sparse ? 0 : sel) + 3 * threads, doubles = 5, r = FS_REAL_BYTES;
    bool control = fs_algo_of(s)->control_variate; /* a c_i per slot, a c - c_i per thread */
    if (control) reals += sel + threads;
    if (s->train.compression != FS_COMP_NONE && s->train.error_feedback) reals += sel;
    out->copies = reals + 1 + doubles;
    out->model = out->n_params * (r * (reals + 1) + 8 * doubles);
    /* per-client state the algorithms keep (SCAFFOLD's control variates, compression residuals)
     * is allocated when a client first trains: at most every client that can be selected */
    double touched = fmin((double)s->data.clients, sel * (double)s->server.rounds);
    if (control) out->model += touched * out->n_params * r;
    if (s->train.compression != FS_COMP_NONE && s->train.error_feedback && !sparse)
        out->model += touched * out->n_params * r;
    /* Krum's distances between the reports of a server step (fs_robust_krum.c) */
    double n_step = fs_server_of(s->server.mode)->step_reports(s);
    if (s->server.robust == FS_ROBUST_KRUM) out->model += n_step * n_step * 8;
    /* population records, sizes and selection permutation; a recommender's private factors */
    out->clients = (double)s->data.clients * (64 + 4 + 16 + 8);
    const fs_model_desc *mk = fs_model_kind_of(s);
    if (mk->personal) out->clients += (double)s->data.clients * mk->personal(s) * FS_REAL_BYTES;
    out->data = data_bytes(s, d);
    out->total = out->model + out->clients + out->data;
}

/* ---- the limit ---------------------------------------------------------------------------- */

/* "8G", "512M", "1.5T", "123456" (bytes); binary units. */
static bool parse_size(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || !(v > 0) || !isfinite(v)) return false;
    const char *units = "KMGT";
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (*end && !u) return false;
    if (u) {
        v *= pow(1024, (double)(u - units + 1));
        end++;
        if (*end == 'i' || *end == 'I') end++;
        if (*end == 'b' || *end == 'B') end++;
    }
    if (*end) return false;
    *out = v;
    return true;
}

/* The machine's memory: MemTotal, else the physical pages. 0 when unknown. Read once: a fuzzer
 * parses millions of scenarios. */
static double machine_memory(void)
{
    static double cached = -1;
    if (cached >= 0) return cached;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    cached = kb > 0 ? kb * 1024 : pages > 0 && size > 0 ? (double)pages * (double)size : 0;
    return cached;
}

static void fmt_bytes(double b, char *buf, size_t n)
{
    if (b >= GIB)
        snprintf(buf, n, "%.1f GiB", b / GIB);
    else
        snprintf(buf, n, "%.0f MiB", ceil(b / 1048576));
}

int fs_scn_check_memory(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    const char *env = getenv("FEDSIM_MAX_MEMORY");
    double limit = 0;
    if (env && *env && !parse_size(env, &limit)) {
        const char *file = err ? err->file : NULL;
        if (err) err->file = NULL;
        fs_err_add(err, "FEDSIM_MAX_MEMORY", "expected a size such as 8G or 512M, found \"%.40s\"",
                   env);
        if (err) err->file = file;
        return FS_ESCENARIO;
    }
    const char *source = env && *env ? "FEDSIM_MAX_MEMORY" : "the machine's memory";
    if (!limit) limit = machine_memory();
    fs_scn_mem m; /* on as many threads as fedsim run uses by default (OMP_NUM_THREADS) */
    fs_scn_mem_estimate(s, d, omp_get_max_threads(), &m);
    if (!limit || m.total <= limit) return FS_OK;
    /* name the key to change for the largest term, and how */
    const char *path, *remedy;
    if (m.data >= m.model && m.data >= m.clients) {
        bool generated = s->data.source >= FS_SRC_MARKETING && s->data.source <= FS_SRC_RATINGS;
        path = generated ? "data.on_demand" : "data.train_samples";
        remedy = generated ? "set data.on_demand: true to generate each client's rows when it "
                             "trains, or fewer data.clients"
                           : "keep fewer training images (data.train_samples)";
    } else if (m.model >= m.clients) {
        const char *size_key = fs_model_kind_of(s)->size_key;
        path = size_key                             ? size_key
               : s->data.source == FS_SRC_MARKETING ? "data.marketing.hash_bits"
               : s->data.source == FS_SRC_LIBSVM    ? "data.libsvm.features"
                                                    : "model.kind";
        remedy = "use fewer hidden units (model.hidden) or fewer features, or fewer clients in "
                 "flight (server.clients_per_round, server.async.concurrency)";
    } else {
        path = "data.clients";
        remedy = "simulate fewer clients (data.clients)";
    }
    char need[32], have[32], model[32], data[32], clients[32];
    fmt_bytes(m.total, need, sizeof need);
    fmt_bytes(limit, have, sizeof have);
    fmt_bytes(m.model, model, sizeof model);
    fmt_bytes(m.data, data, sizeof data);
    fmt_bytes(m.clients, clients, sizeof clients);
    return fs_scn_bad_key(s, err, path,
                          "expected a scenario that fits in %s (%s), found an estimated %s "
                          "(model: %.0f parameters x %.0f copies and per-client state, %s; data "
                          "rows %s; client records %s); %s",
                          have, source, need, m.n_params, m.copies, model, data, clients, remedy);
}
