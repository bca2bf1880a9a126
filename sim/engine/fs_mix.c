/* fs_mix: participation mix per group column and stage, and selection fairness (Jain et al.
 * 1984: J = (sum x)^2 / (N sum x^2), 1 when every consenting client was selected equally often,
 * 1/N when one client took every selection). */
#include "fs_mix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_array.h"
#include "fs_energy.h"

const char *const fs_mix_stage_names[FS_MIX_N_STAGES] = {"population", "consenting", "online",
                                                         "selected", "reported"};

void fs_mix_tz_name(int q, char *out, size_t n)
{
    if (q % 4 == 0)
        snprintf(out, n, "utc%+d", q / 4);
    else
        snprintf(out, n, "utc%+g", q / 4.0);
}

/* A new group with room for n_levels names and counts; NULL when out of memory (nothing kept). */
static fs_mix_group *add_group(fs_mix *m, const char *name, int32_t *level, size_t n_levels)
{
    fs_mix_group *g = &m->groups[m->n_groups];
    *g = (fs_mix_group){.level = level, .n_levels = n_levels};
    snprintf(g->name, sizeof g->name, "%s", name);
    g->level_names = calloc(n_levels ? n_levels : 1, sizeof *g->level_names);
    g->count = calloc((n_levels ? n_levels : 1) * FS_MIX_N_STAGES, sizeof *g->count);
    if (!g->level_names || !g->count) {
        free(g->level_names);
        free(g->count);
        *g = (fs_mix_group){0};
        return NULL;
    }
    m->n_groups++;
    return g;
}

static void free_group(fs_mix_group *g)
{
    for (size_t l = 0; g->level_names && l < g->n_levels; l++)
        free(g->level_names[l]);
    free(g->level_names);
    free(g->count);
    free(g->level);
    *g = (fs_mix_group){0};
}

static bool set_names(fs_mix_group *g, const char *const *names)
{
    for (size_t l = 0; l < g->n_levels; l++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", l);
        if (!(g->level_names[l] = strdup(names && names[l] ? names[l] : num))) return false;
    }
    return true;
}

/* eval.segments[i]: the data's group column, levels as the evaluator names them. */
static int add_segment(fs_mix *m, const fs_world *w, const char *name, size_t i, fs_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "eval.segments[%zu]", i);
    int rc = FS_OK;
    int32_t *level = fs_world_client_levels_new(w, name, path, &rc, err);
    if (!level) return rc;
    const fs_group *col = &w->train.groups[fs_dataset_find_group(&w->train, name)];
    if (col->n_levels > FS_MIX_MAX_LEVELS) {
        free(level);
        return FS_OK;
    }
    fs_mix_group *g = add_group(m, name, level, col->n_levels);
    if (!g) free(level);
    return g && set_names(g, (const char *const *)col->level_names) ? FS_OK : FS_ENOMEM;
}

static size_t find_name(const char **names, size_t n, const char *name)
{
    size_t k = 0;
    while (k < n && strcmp(names[k], name) != 0)
        k++;
    return k;
}

/* The clients table's device_class: the capacity trace's device model (interned, in order of
 * first appearance; past FS_MIX_MAX_LEVELS - 1 models the rest are "other"; each trace key is
 * looked up once), else the energy model's class. */
static int add_device_class(fs_mix *m, const fs_pop *pop)
{
    size_t n = pop->n, n_keys = pop->cap_trace ? pop->cap_trace->n_keys : 0;
    int32_t *level = malloc((n ? n : 1) * sizeof *level);
    const char **names = calloc(FS_MIX_MAX_LEVELS, sizeof *names);
    int32_t *by_key = malloc((n_keys ? n_keys : 1) * sizeof *by_key);
    size_t n_names = 0;
    bool ok = level && names && by_key;
    for (size_t k = 0; ok && k < n_keys; k++)
        by_key[k] = -1;
    for (size_t c = 0; ok && c < n; c++) {
        const fs_client *cl = &pop->clients[c];
        uint32_t key = pop->cap_trace ? fs_pop_cap_key(pop, (uint32_t)c) : 0;
        if (!pop->cap_trace) {
            level[c] = cl->dev_class;
            continue;
        }
        if (by_key[key] < 0) {
            const char *model = fs_trace_cap_model(pop->cap_trace, key);
            const char *name = model ? model : fs_energy_class_names[cl->dev_class];
            size_t k = find_name(names, n_names, name);
            if (k == n_names && n_names >= FS_MIX_MAX_LEVELS - 1)
                k = find_name(names, n_names, name = "other");
            if (k == n_names) names[n_names++] = name;
            /* without a model the class decides: not a property of the key */
            if (model) by_key[key] = (int32_t)k;
            level[c] = (int32_t)k;
            continue;
        }
        level[c] = by_key[key];
    }
    if (ok && !pop->cap_trace)
        for (n_names = 0; n_names < FS_SCN_N_DEV_CLASSES; n_names++)
            names[n_names] = fs_energy_class_names[n_names];
    fs_mix_group *g = ok ? add_group(m, "device_class", level, n_names) : NULL;
    ok = g && set_names(g, names);
    if (!g) free(level);
    free(names);
    free(by_key);
    return ok ? FS_OK : FS_ENOMEM;
}

/* devices.utc_offsets under diurnal availability: one level per listed offset. */
static int add_utc_offset(fs_mix *m, const fs_scenario *s, const fs_pop *pop)
{
    size_t n = pop->n, n_off = s->devices.n_utc_offsets;
    int32_t *level = malloc((n ? n : 1) * sizeof *level);
    if (!level) return FS_ENOMEM;
    for (size_t c = 0; c < n; c++) {
        size_t k = 0;
        while (k < n_off && s->devices.utc_offsets_q[k] != pop->clients[c].avail.utc_offset_q)
            k++;
        level[c] = k < n_off ? (int32_t)k : -1;
    }
    fs_mix_group *g = add_group(m, "utc_offset", level, n_off);
    if (!g) return free(level), FS_ENOMEM;
    for (size_t k = 0; k < n_off; k++) {
        char name[32];
        fs_mix_tz_name(s->devices.utc_offsets_q[k], name, sizeof name);
        if (!(g->level_names[k] = strdup(name))) return FS_ENOMEM;
    }
    return FS_OK;
}

int fs_mix_init(fs_mix *m, const fs_scenario *s, const fs_world *w, const fs_pop *pop, fs_err *err)
{
    memset(m, 0, sizeof *m);
    m->n_clients = pop->n;
    int rc = FS_OK;
    for (size_t i = 0; !rc && i < s->eval.n_segments; i++)
        rc = add_segment(m, w, s->eval.segments[i], i, err);
    if (!rc) rc = add_device_class(m, pop);
    if (!rc && s->devices.availability == FS_AVAIL_DIURNAL && s->devices.n_utc_offsets)
        rc = add_utc_offset(m, s, pop);
    /* a client's first selection reads its count, then writes it: from calloc, each page was a
     * copy-on-write fault with a TLB shootdown (fs_array_zeroed; at a million clients, 1,024
     * pages, 117 of 6,672 perf samples of the main thread) */
    if (!rc && !(m->times_selected = fs_array_zeroed(pop->n, sizeof *m->times_selected)))
        rc = FS_ENOMEM;
    if (rc) {
        if (rc == FS_ENOMEM) fs_err_add(err, NULL, "out of memory for the participation mix");
        fs_mix_fini(m);
        return rc;
    }
    /* the one pass over the population */
    for (size_t c = 0; c < pop->n; c++) {
        bool consent = pop->clients[c].consent;
        m->n_consenting += consent;
        for (size_t k = 0; k < m->n_groups; k++) {
            fs_mix_group *g = &m->groups[k];
            int32_t l = g->level[c];
            if (l < 0) continue;
            g->count[(size_t)l * FS_MIX_N_STAGES + FS_MIX_POPULATION]++;
            g->count[(size_t)l * FS_MIX_N_STAGES + FS_MIX_CONSENTING] += consent;
        }
    }
    return FS_OK;
}

void fs_mix_fini(fs_mix *m)
{
    for (size_t k = 0; k < m->n_groups; k++)
        free_group(&m->groups[k]);
    free(m->times_selected);
    free(m->rows);
    memset(m, 0, sizeof *m);
}

void fs_mix_count_one(fs_mix *m, int stage, uint32_t id)
{
    for (size_t k = 0; k < m->n_groups; k++) {
        int32_t l = m->groups[k].level[id];
        if (l >= 0) m->groups[k].count[(size_t)l * FS_MIX_N_STAGES + (size_t)stage]++;
    }
    if (stage != FS_MIX_SELECTED) return;
    double x = m->times_selected[id]++;
    m->sum1 += 1;
    m->sum2 += 2 * x + 1; /* (x + 1)^2 - x^2 */
    m->n_ever += x == 0;
}

/* Clients ahead whose entries are fetched while earlier ones are counted: the ids are a random
 * sample of a population whose level arrays (4 bytes a client per group) are far larger than the
 * caches, so each count was a miss per group. */
enum { MIX_AHEAD = 8 };

void fs_mix_prefetch(const fs_mix *m, int stage, uint32_t id)
{
    for (size_t k = 0; k < m->n_groups; k++) __builtin_prefetch(&m->groups[k].level[id]);
    if (stage == FS_MIX_SELECTED) __builtin_prefetch(&m->times_selected[id], 1);
}

void fs_mix_count(fs_mix *m, int stage, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i + MIX_AHEAD < n) fs_mix_prefetch(m, stage, ids[i + MIX_AHEAD]);
        fs_mix_count_one(m, stage, ids[i]);
    }
}

void fs_mix_restored(fs_mix *m)
{
    m->sum1 = m->sum2 = 0;
    m->n_ever = 0;
    for (size_t c = 0; c < m->n_clients; c++) {
        double x = m->times_selected[c];
        m->sum1 += x;
        m->sum2 += x * x;
        m->n_ever += x > 0;
    }
}

static bool push_row(fs_mix *m, size_t *n, fs_db_mix row)
{
    if (*n == m->cap_rows) {
        size_t cap = m->cap_rows ? 2 * m->cap_rows : 64;
        fs_db_mix *grown = realloc(m->rows, cap * sizeof *grown);
        if (!grown) return false;
        m->rows = grown;
        m->cap_rows = cap;
    }
    m->rows[(*n)++] = row;
    return true;
}

int fs_mix_take_rows(fs_mix *m, int round, bool with_population, const fs_db_mix **out_rows,
                     size_t *out_n, double *out_jain, double *out_never)
{
    size_t n = 0;
    bool ok = true;
    for (size_t k = 0; k < m->n_groups; k++) {
        fs_mix_group *g = &m->groups[k];
        for (size_t l = 0; l < g->n_levels; l++) {
            uint64_t *c = &g->count[l * FS_MIX_N_STAGES];
            for (int st = 0; st < FS_MIX_N_STAGES; st++) {
                bool fixed = st <= FS_MIX_CONSENTING;
                if (fixed ? !with_population : c[st] == 0) continue;
                ok = ok && push_row(m, &n,
                                    (fs_db_mix){.round = fixed ? 0 : round,
                                                .grp = g->name,
                                                .level = g->level_names[l],
                                                .stage = fs_mix_stage_names[st],
                                                .n = (int64_t)c[st]});
                if (!fixed) c[st] = 0;
            }
        }
    }
    double nc = (double)m->n_consenting;
    *out_jain = m->sum2 > 0 ? m->sum1 * m->sum1 / (nc * m->sum2) : NAN;
    *out_never = nc > 0 ? (nc - (double)m->n_ever) / nc : NAN;
    *out_rows = m->rows;
    *out_n = ok ? n : 0;
    return ok ? FS_OK : FS_ENOMEM;
}
