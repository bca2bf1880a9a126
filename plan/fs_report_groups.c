/* fs_report_groups: which runs one legend entry stands for, and what tells the entries apart.
 * The replicates of a sweep variant (same scenario name and variant label, runs.replicate set)
 * form one group; every other run is a group of its own. The parameters that differ between
 * variants are read from the effective scenarios the runs stored (runs.scenario_json), compared
 * leaf by leaf with cJSON, never parsed out of the labels: a label is free text (explicit
 * sweep variants name themselves) and may be cut short. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fs_report_int.h"

/* ---- groups */

static fs_report_group *find_variant_group(fs_report *r, const fs_report_run *run)
{
    for (size_t g = 0; g < r->n_groups; g++) {
        fs_report_group *grp = &r->groups[g];
        const fs_report_run *first = &r->runs[grp->runs[0]];
        if (grp->is_variant && first->replicate > 0 && !strcmp(first->variant, run->variant) &&
            !strcmp(first->name ? first->name : "", run->name ? run->name : ""))
            return grp;
    }
    return NULL;
}

/* Replicate r of a variant rerun into the same file: the later run replaces the earlier one, as
 * the planner takes the latest run of each (variant, replicate). */
static int group_add(fs_report_group *grp, const fs_report *r, size_t i)
{
    for (size_t k = 0; k < grp->n_runs; k++) {
        if (r->runs[grp->runs[k]].replicate == r->runs[i].replicate) {
            grp->runs[k] = i;
            return FS_OK;
        }
    }
    size_t *grown = realloc(grp->runs, (grp->n_runs + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    grp->runs = grown;
    grp->runs[grp->n_runs++] = i;
    return FS_OK;
}

static int new_group(fs_report *r, size_t i)
{
    fs_report_group *grown = realloc(r->groups, (r->n_groups + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    r->groups = grown;
    fs_report_group *grp = &r->groups[r->n_groups++];
    const fs_report_run *run = &r->runs[i];
    *grp = (fs_report_group){.is_variant = run->variant[0] != '\0'};
    char buf[512];
    if (!grp->is_variant)
        snprintf(buf, sizeof buf, "run %lld: %s", (long long)run->run_id,
                 run->name ? run->name : "?");
    grp->label = strdup(grp->is_variant ? run->variant : buf);
    return grp->label ? group_add(grp, r, i) : FS_ENOMEM;
}

static int make_groups(fs_report *r)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        const fs_report_run *run = &r->runs[i];
        fs_report_group *grp = run->variant[0] && run->replicate > 0
                                   ? find_variant_group(r, run)
                                   : NULL;
        int rc = grp ? group_add(grp, r, i) : new_group(r, i);
        if (rc) return rc;
    }
    for (size_t g = 0; g < r->n_groups; g++) {
        fs_report_group *grp = &r->groups[g];
        for (size_t k = 0; k < grp->n_runs; k++) {
            fs_report_run *run = &r->runs[grp->runs[k]];
            run->group = g;
            if (!grp->metric) grp->metric = run->metric;
        }
        if (grp->n_runs >= 2) r->replicated = true;
    }
    return FS_OK;
}

/* ---- leaves of an effective scenario */

typedef struct leaf {
    char *path;
    char *value; /* unformatted JSON */
    size_t pos;  /* place in the scenario's own order, which the labels follow */
} leaf;

typedef struct leaves {
    leaf *v;
    size_t n;
} leaves;

static void leaves_free(leaves *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].value);
    }
    free(l->v);
    *l = (leaves){0};
}

static int leaf_add(leaves *l, const char *path, const cJSON *node)
{
    leaf *grown = realloc(l->v, (l->n + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    l->v = grown;
    char *value = cJSON_PrintUnformatted(node);
    char *copy = value ? strdup(value) : NULL; /* cJSON's allocator may not be ours */
    cJSON_free(value);
    l->v[l->n] = (leaf){strdup(path), copy, l->n};
    l->n++;
    return l->v[l->n - 1].path && copy ? FS_OK : FS_ENOMEM;
}

/* Objects are walked; everything else, arrays included, is one leaf: a sweep sets an array as a
 * whole (e.g. devices.availability.diurnal.utc_offsets_h), so its elements are not parameters. */
static int flatten(const cJSON *node, const char *path, leaves *out)
{
    if (!cJSON_IsObject(node)) return leaf_add(out, path, node);
    for (const cJSON *kid = node->child; kid; kid = kid->next) {
        size_t len = strlen(path) + strlen(kid->string) + 2;
        char *sub = malloc(len);
        if (!sub) return FS_ENOMEM;
        snprintf(sub, len, "%s%s%s", path, path[0] ? "." : "", kid->string);
        int rc = flatten(kid, sub, out);
        free(sub);
        if (rc) return rc;
    }
    return FS_OK;
}

static int cmp_leaf(const void *a, const void *b)
{
    return strcmp(((const leaf *)a)->path, ((const leaf *)b)->path);
}

/* The sorted leaves of a run's scenario; none when it has no (parsable) scenario_json. */
static int run_leaves(const fs_report_run *run, leaves *out)
{
    *out = (leaves){0};
    cJSON *root = run->scenario_json ? cJSON_Parse(run->scenario_json) : NULL;
    if (!root) return FS_OK; /* a foreign or damaged row: nothing to compare */
    int rc = cJSON_IsObject(root) ? flatten(root, "", out) : FS_OK;
    cJSON_Delete(root);
    if (rc) {
        leaves_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_leaf);
    return FS_OK;
}

static const char *leaf_value(const leaves *l, const char *path)
{
    if (!l->n) return NULL; /* l->v is NULL then */
    leaf key = {.path = (char *)path};
    const leaf *hit = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_leaf);
    return hit ? hit->value : NULL;
}

static bool same_value(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* ---- paths that differ */

typedef struct path_set {
    char **v;
    size_t n;
} path_set;

static bool path_in(const path_set *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], path)) return true;
    return false;
}

static int path_add(path_set *s, const char *path)
{
    if (path_in(s, path)) return FS_OK;
    char **grown = realloc(s->v, (s->n + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    s->v = grown;
    return (s->v[s->n++] = strdup(path)) ? FS_OK : FS_ENOMEM;
}

static void path_set_free(path_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Every path at which a and b differ (present in one only, or with different values). */
static int diff_paths(const leaves *a, const leaves *b, path_set *out)
{
    int rc = FS_OK;
    for (size_t i = 0; !rc && i < a->n; i++)
        if (!same_value(a->v[i].value, leaf_value(b, a->v[i].path))) rc = path_add(out, a->v[i].path);
    for (size_t i = 0; !rc && i < b->n; i++)
        if (!leaf_value(a, b->v[i].path)) rc = path_add(out, b->v[i].path);
    return rc;
}

/* Paths that vary between the replicates of one variant (seed, population_seed): draws, not
 * settings, so never a parameter of the comparison. */
static int within_paths(const fs_report *r, const leaves *rep, path_set *out)
{
    int rc = FS_OK;
    for (size_t g = 0; !rc && g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        if (!grp->is_variant || !rep[g].n) continue;
        for (size_t k = 1; !rc && k < grp->n_runs; k++) {
            leaves other;
            rc = run_leaves(&r->runs[grp->runs[k]], &other);
            if (!rc && other.n) rc = diff_paths(&rep[g], &other, out);
            leaves_free(&other);
        }
    }
    return rc;
}

static int add_param(fs_report *r, const char *path, const leaves *rep)
{
    fs_report_param *grown = realloc(r->params, (r->n_params + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    r->params = grown;
    fs_report_param *p = &r->params[r->n_params++];
    p->path = strdup(path);
    p->values = calloc(r->n_groups, sizeof *p->values);
    if (!p->path || !p->values) return FS_ENOMEM;
    for (size_t g = 0; g < r->n_groups; g++) {
        const char *v = r->groups[g].is_variant ? leaf_value(&rep[g], path) : NULL;
        if (v && !(p->values[g] = strdup(v))) return FS_ENOMEM;
    }
    return FS_OK;
}

/* A path is a parameter when the variants' first runs do not all agree on it (a path missing in
 * one counts as a difference), unless it also varies within a variant. */
static int find_params(fs_report *r, const leaves *rep)
{
    path_set all = {0}, within = {0};
    int rc = FS_OK;
    for (size_t g = 0; !rc && g < r->n_groups; g++) {
        if (!r->groups[g].is_variant || !rep[g].n) continue;
        /* the first variant's order, then paths only later variants have, in theirs */
        const leaf **order = malloc(rep[g].n * sizeof *order);
        if (!order) {
            rc = FS_ENOMEM;
            break;
        }
        for (size_t i = 0; i < rep[g].n; i++)
            order[rep[g].v[i].pos] = &rep[g].v[i];
        for (size_t i = 0; !rc && i < rep[g].n; i++)
            rc = path_add(&all, order[i]->path);
        free(order);
    }
    if (!rc) rc = within_paths(r, rep, &within);
    for (size_t i = 0; !rc && i < all.n; i++) {
        if (path_in(&within, all.v[i])) continue;
        const leaves *first = NULL;
        bool differs = false;
        for (size_t g = 0; g < r->n_groups && !differs; g++) {
            if (!r->groups[g].is_variant || !rep[g].n) continue;
            if (first)
                differs = !same_value(leaf_value(first, all.v[i]), leaf_value(&rep[g], all.v[i]));
            else
                first = &rep[g];
        }
        if (differs) rc = add_param(r, all.v[i], rep);
    }
    path_set_free(&all);
    path_set_free(&within);
    return rc;
}

/* ---- short labels */

/* The last `parts` dot-separated components of path. */
static const char *path_tail(const char *path, size_t parts)
{
    const char *s = path + strlen(path);
    while (s > path) {
        if (s[-1] == '.' && --parts == 0) break;
        s--;
    }
    return s;
}

/* How many trailing components name param i unambiguously among the parameters. */
static size_t tail_parts(const fs_report *r, size_t i)
{
    for (size_t parts = 1;; parts++) {
        const char *tail = path_tail(r->params[i].path, parts);
        if (tail == r->params[i].path) return parts;
        bool unique = true;
        for (size_t j = 0; j < r->n_params && unique; j++)
            unique = j == i || strcmp(tail, path_tail(r->params[j].path, parts));
        if (unique) return parts;
    }
}

/* "key=value, key=value" for group g (strings unquoted), or NULL when it has no value. */
static char *short_label(const fs_report *r, size_t g)
{
    size_t len = 1;
    for (size_t i = 0; i < r->n_params; i++)
        if (r->params[i].values[g])
            len += strlen(r->params[i].path) + strlen(r->params[i].values[g]) + 3;
    char *out = malloc(len);
    if (!out) return NULL;
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n_params; i++) {
        const char *v = r->params[i].values[g];
        if (!v) continue;
        size_t vlen = strlen(v);
        bool quoted = vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"';
        at += (size_t)snprintf(out + at, len - at, "%s%s=%.*s", at ? ", " : "",
                               path_tail(r->params[i].path, tail_parts(r, i)),
                               (int)(quoted ? vlen - 2 : vlen), quoted ? v + 1 : v);
    }
    if (at) return out;
    free(out);
    return NULL;
}

/* Replaces the variants' labels with their short forms when those are all present and tell the
 * variants apart; otherwise the labels stay as written. */
static int shorten_labels(fs_report *r)
{
    char **labels = calloc(r->n_groups, sizeof *labels);
    if (!labels) return FS_ENOMEM;
    bool usable = true;
    for (size_t g = 0; usable && g < r->n_groups; g++) {
        if (!r->groups[g].is_variant) continue;
        labels[g] = short_label(r, g);
        usable = labels[g] != NULL;
        for (size_t h = 0; usable && h < g; h++)
            usable = !labels[h] || strcmp(labels[h], labels[g]);
    }
    for (size_t g = 0; g < r->n_groups; g++) {
        if (usable && labels[g]) {
            free(r->groups[g].label);
            r->groups[g].label = labels[g];
        } else {
            free(labels[g]);
        }
    }
    free(labels);
    return FS_OK;
}

/* ---- the entry point */

static int label_runs(fs_report *r)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        fs_report_run *run = &r->runs[i];
        run->label = strdup(r->groups[run->group].label);
        if (!run->label) return FS_ENOMEM;
    }
    return FS_OK;
}

int fs_report_group_runs(fs_report *r)
{
    int rc = make_groups(r);
    size_t n_variants = 0;
    for (size_t g = 0; g < r->n_groups; g++)
        n_variants += r->groups[g].is_variant;
    if (!rc && n_variants >= 2) {
        leaves *rep = calloc(r->n_groups, sizeof *rep);
        if (!rep) return FS_ENOMEM;
        for (size_t g = 0; !rc && g < r->n_groups; g++)
            if (r->groups[g].is_variant) rc = run_leaves(&r->runs[r->groups[g].runs[0]], &rep[g]);
        if (!rc) rc = find_params(r, rep);
        for (size_t g = 0; g < r->n_groups; g++)
            leaves_free(&rep[g]);
        free(rep);
        if (!rc && r->n_params) rc = shorten_labels(r);
    }
    return rc ? rc : label_runs(r);
}

void fs_report_free_groups(fs_report *r)
{
    for (size_t g = 0; g < r->n_groups; g++) {
        free(r->groups[g].label);
        free(r->groups[g].runs);
    }
    free(r->groups);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].path);
        for (size_t g = 0; g < r->n_groups && r->params[i].values; g++)
            free(r->params[i].values[g]);
        free(r->params[i].values);
    }
    free(r->params);
}
