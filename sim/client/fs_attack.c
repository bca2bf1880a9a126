/* fs_attack: the table of attacks and what each does. References: label flipping (Biggio et al.
 * 2012; Tolpegin et al. 2020), sign flipping with scale lambda (Damaskinos et al. 2018, "inverted
 * gradient"), model replacement by boosting gamma x the update toward a backdoor (Bagdasaryan et
 * al. 2020), Gaussian noise of the honest norm (Fang et al. 2020's "Gaussian attack") and free
 * riding with a zero update (Lin et al. 2019). */
#include "fs_attack.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fs_rng.h"

/* ---- what each attack does to the update ---- */

static void scale_update(fs_update *u, double by)
{
    fs_real *v = u->sparse ? u->val : u->dense;
    size_t n = u->sparse ? u->nnz : u->n_params;
    for (size_t i = 0; i < n; i++)
        v[i] = (fs_real)(by * v[i]);
}

static void sign_flip(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r)
{
    (void)honest_norm, (void)r;
    scale_update(u, -s->adversary.sign_scale);
}

static void boost(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r)
{
    (void)honest_norm, (void)r;
    scale_update(u, s->adversary.boost);
}

/* Isotropic noise scaled to the honest norm: as large as an honest update, so a norm check
 * cannot tell it apart, and pointing nowhere. A sparse update keeps its support (the rows'
 * features): noise elsewhere would cost the attacker a dense upload. */
static void gaussian(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r)
{
    (void)s;
    fs_real *v = u->sparse ? u->val : u->dense;
    size_t n = u->sparse ? u->nnz : u->n_params;
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (fs_real)gsl_ran_ugaussian(r);
        sq += (double)v[i] * v[i];
    }
    if (sq > 0) scale_update(u, honest_norm / sqrt(sq));
}

/* A zero update, not a stale one: nothing to keep between rounds (and so nothing to checkpoint),
 * and what a contribution check must catch first. */
static void free_ride(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r)
{
    (void)s, (void)honest_norm, (void)r;
    if (u->sparse)
        u->nnz = 0;
    else
        memset(u->dense, 0, u->n_params * sizeof *u->dense);
}

/* ---- what each attack needs of the task ---- */

static const char *needs_classes(const fs_scenario *s, int n_classes, int sparse, char *buf,
                                 size_t n)
{
    (void)s, (void)sparse, (void)buf, (void)n;
    return n_classes == 0 ? "expected a classification task (labels to flip), found a regression "
                            "task"
                          : NULL;
}

static const char *backdoor_fits(const fs_scenario *s, int n_classes, int sparse, char *buf,
                                 size_t n)
{
    if (!s->adversary.backdoor) return NULL;
    if (n_classes != FS_SCN_UNKNOWN && n_classes != 2) {
        snprintf(buf, n, "expected a binary task (2 classes) for a backdoor, found %d %s",
                 n_classes, n_classes ? "classes" : "(a regression task)");
        return buf;
    }
    if (s->adversary.bd_feature >= 0 && sparse == 1)
        return "expected dense rows for a trigger feature (or a target segment instead), found "
               "sparse rows";
    return NULL;
}

/* Indexed by enum fs_attack_kind. */
static const fs_attack attacks[] = {
    [FS_ATTACK_LABEL_FLIP] = {"label_flip", true, needs_classes, NULL},
    [FS_ATTACK_SIGN_FLIP] = {"sign_flip", false, NULL, sign_flip},
    [FS_ATTACK_SCALE] = {"scale", false, backdoor_fits, boost},
    [FS_ATTACK_GAUSSIAN] = {"gaussian", false, NULL, gaussian},
    [FS_ATTACK_FREE_RIDE] = {"free_ride", false, NULL, free_ride},
};

const fs_attack *fs_attack_of(const fs_scenario *s)
{
    return &attacks[s->adversary.attack];
}

bool fs_attack_alters_rows(const fs_scenario *s)
{
    return s->adversary.on && (fs_attack_of(s)->alters_rows || fs_attack_has_backdoor(s));
}

/* ---- who attacks ---- */

size_t fs_attack_pick(fs_pop *pop, const fs_scenario *s, const int32_t *levels,
                      int32_t segment_level)
{
    size_t n = 0;
    gsl_rng *r = s->adversary.on ? fs_rng_new() : NULL;
    for (size_t i = 0; i < pop->n; i++) {
        fs_client *c = &pop->clients[i];
        c->attacker = 0;
        if (!r || (segment_level >= 0 && (!levels || levels[i] != segment_level))) continue;
        fs_rng_reseed(r, s->population_seed, FS_RNG_ADVERSARY, i, FS_RNG_NONE);
        c->attacker = gsl_rng_uniform(r) < s->adversary.share;
        n += c->attacker;
    }
    gsl_rng_free(r);
    return n;
}

int32_t fs_attack_level_index(const fs_dataset *ds, const char *group, const char *name)
{
    int g = fs_dataset_find_group(ds, group);
    if (g < 0 || !name[0]) return -1;
    const fs_group *gr = &ds->groups[g];
    for (size_t lv = 0; lv < gr->n_levels; lv++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", lv);
        const char *have = gr->level_names ? gr->level_names[lv] : num;
        if (!strcmp(have, name)) return (int32_t)lv;
    }
    return -1;
}

/* ---- the attacker's rows ---- */

/* The group column whose levels adversary.segment and backdoor.segment name. */
static int segment_group(const fs_scenario *s, const fs_dataset *ds)
{
    return s->eval.n_segments ? fs_dataset_find_group(ds, s->eval.segments[0]) : -1;
}

static bool in_level(const fs_dataset *ds, int g, int32_t level, size_t row)
{
    return g >= 0 && level >= 0 && ds->groups[g].level[row] == (uint32_t)level;
}

static void set_trigger(const fs_scenario *s, fs_dataset *ds, size_t row)
{
    fs_assert(ds->x); /* a fs_dataset_take copy: float rows, even of compact ones */
    ds->x[row * ds->d + (size_t)s->adversary.bd_feature] = (float)s->adversary.bd_value;
}

int fs_attack_rows(const fs_scenario *s, const fs_dataset *src, const uint32_t *rows, size_t n,
                   int32_t bd_level, fs_dataset *out)
{
    int rc = fs_dataset_take(src, rows, n, out);
    if (rc) return rc;
    if (!fs_attack_has_backdoor(s)) {
        for (size_t i = 0; i < n; i++)
            out->y[i] = out->n_classes - 1 - out->y[i];
        return FS_OK;
    }
    /* model replacement trains on a mix (Bagdasaryan et al. 2020): with a trigger, half the rows
     * carry it and the target label, the rest stay clean so the main task survives */
    int g = segment_group(s, out);
    for (size_t i = 0; i < n; i++) {
        bool trigger = s->adversary.bd_feature >= 0 && i % 2 == 0;
        if (trigger) set_trigger(s, out, i);
        if (trigger || in_level(out, g, bd_level, i)) out->y[i] = s->adversary.bd_label;
    }
    return FS_OK;
}

size_t fs_attack_backdoor_rows(const fs_scenario *s, const fs_dataset *test, int32_t bd_level,
                               uint32_t *out_rows, fs_dataset *out_triggered, int *out_rc)
{
    int g = segment_group(s, test);
    size_t k = 0;
    *out_rc = FS_OK;
    for (size_t r = 0; r < test->n; r++) {
        if (test->y[r] == s->adversary.bd_label) continue;
        if (s->adversary.bd_feature < 0 && !in_level(test, g, bd_level, r)) continue;
        out_rows[k++] = (uint32_t)r;
    }
    if (s->adversary.bd_feature < 0) return k;
    if ((*out_rc = fs_dataset_take(test, out_rows, k, out_triggered))) return 0;
    for (size_t i = 0; i < k; i++)
        set_trigger(s, out_triggered, i);
    return k;
}

void fs_attack_update(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r)
{
    const fs_attack *a = fs_attack_of(s);
    if (a->update) a->update(s, u, honest_norm, r);
}
