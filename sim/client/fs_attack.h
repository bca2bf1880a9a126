/* fs_attack: adversarial clients (scenario key `adversary`). Owns the one table of attacks (name,
 * what it needs of the task, what it does to an attacker's training rows and to its update),
 * the choice of attackers and the backdoor's test rows. Where an attack sits in a client's
 * pipeline: the rows are altered before local training (label_flip, scale's backdoor), the
 * update after honest training and the algorithm's hooks, before DP clipping and compression
 * (the trusted runtime clips and encodes whatever the attacker's code produced). Never touches
 * an honest client, and nothing here depends on the thread count. */
#ifndef FS_ATTACK_H
#define FS_ATTACK_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_data.h"
#include "fs_model.h"
#include "fs_pop.h"
#include "fs_scn.h"

typedef struct fs_attack {
    const char *name; /* the adversary.attack key */
    bool alters_rows; /* trains on altered rows (fs_attack_rows); scale does with a backdoor */
    /* what it needs of the task: "expected ..., found ..." when it cannot run on it (buf may
     * hold the text), or NULL (fs_scn_rules.c; n_classes and sparse may be FS_SCN_UNKNOWN) */
    const char *(*misfit)(const fs_scenario *s, int n_classes, int sparse, char *buf, size_t n);
    /* turns the honest update u (of L2 norm `honest_norm`) into the one sent; r: the attacker's
     * stream (seed, FS_RNG_ATTACK, client, round) */
    void (*update)(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r);
} fs_attack;

/* The scenario's attack (s->adversary.on). */
const fs_attack *fs_attack_of(const fs_scenario *s);

/* Whether an attacker trains on altered rows (label_flip; scale with a backdoor). */
bool fs_attack_alters_rows(const fs_scenario *s);

/* Turns an attacker's honest update u (of L2 norm honest_norm) into the one it sends. */
void fs_attack_update(const fs_scenario *s, fs_update *u, double honest_norm, gsl_rng *r);

/* Marks every client's attacker flag: none without an adversary; else each client eligible
 * (level[client] == segment_level, or every client when segment_level < 0) is an attacker with
 * probability adversary.share, from stream (population_seed, FS_RNG_ADVERSARY, client): a fixed
 * set for a population, whatever the campaign seed, n's order or the thread count. `levels`
 * (may be NULL when segment_level < 0): each client's level of eval.segments[0]. Returns the
 * number of attackers. */
size_t fs_attack_pick(fs_pop *pop, const fs_scenario *s, const int32_t *levels,
                      int32_t segment_level);

/* The index of level `name` of group `group` in ds, or -1. */
int32_t fs_attack_level_index(const fs_dataset *ds, const char *group, const char *name);

/* An attacker's training rows: a copy of rows[0..n) of src (fs_dataset_take) with the attack's
 * changes: label_flip maps class y to n_classes - 1 - y; the backdoor relabels as bd_label the
 * rows of level bd_level (segment target) or every other row (even positions), with feature
 * bd_feature set to bd_value (trigger). `bd_level`: the level index of the backdoor's segment
 * (-1 none). FS_ENOMEM. The caller frees out with fs_dataset_fini. */
int fs_attack_rows(const fs_scenario *s, const fs_dataset *src, const uint32_t *rows, size_t n,
                   int32_t bd_level, fs_dataset *out);

/* The backdoor's success rows of a test set: the rows of the other class than bd_label (of
 * level bd_level when the target is a segment), into out_rows (test->n capacity); returns
 * their count. With a trigger, *out_triggered receives a copy of those rows with the trigger
 * applied (caller frees with fs_dataset_fini), else it is left empty. FS_ENOMEM in *out_rc. */
size_t fs_attack_backdoor_rows(const fs_scenario *s, const fs_dataset *test, int32_t bd_level,
                               uint32_t *out_rows, fs_dataset *out_triggered, int *out_rc);

/* Whether the scenario measures a backdoor's success (scale with backdoor). */
static inline bool fs_attack_has_backdoor(const fs_scenario *s)
{
    return s->adversary.on && s->adversary.attack == FS_ATTACK_SCALE && s->adversary.backdoor;
}

#endif
