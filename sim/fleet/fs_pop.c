/* fs_pop: population set-up (in parallel: each client draws from its own streams) and uniform
 * selection among available clients. */
#include "fs_pop.h"

#include <stdlib.h>
#include <string.h>

#include "fs_device.h"
#include "fs_rng.h"

static void draw_client(fs_client *c, const fs_scenario *s, gsl_rng *r)
{
    const typeof(s->devices) *d = &s->devices;
    c->gflops = (float)fs_dist_draw(&d->gflops, r);
    c->uplink_mbps = (float)fs_dist_draw(&d->uplink_mbps, r);
    c->downlink_mbps = (float)fs_dist_draw(&d->downlink_mbps, r);
    c->latency_ms = (float)fs_dist_draw(&d->latency_ms, r);
    int8_t tz = 0;
    if (d->availability == FS_AVAIL_DIURNAL && d->n_utc_offsets > 0)
        tz = (int8_t)d->utc_offsets_q[gsl_rng_uniform_int(r, d->n_utc_offsets)];
    c->avail = (fs_avail_state){.t_known = INT64_MIN, .utc_offset_q = tz, .online = 0};
    c->t_busy_until = INT64_MIN;
    c->consent = 1;
}

/* Opted-out clients are never selected, so their data are never read. */
static uint8_t draw_consent(const fs_scenario *s, uint64_t client, int32_t level, gsl_rng *r)
{
    double share = s->privacy.consent_share;
    if (level >= 0 && (size_t)level < s->privacy.n_consent_percent)
        share = s->privacy.consent_percent[level] / 100.0;
    if (share >= 1) return 1;
    fs_rng_reseed(r, s->population_seed, FS_RNG_CONSENT, client, FS_RNG_NONE);
    return gsl_rng_uniform(r) < share;
}

/* A trace of the scenario, loaded once for the whole population (validation loaded it too). */
static int load_trace(const fs_scenario *s, const char *path, enum fs_trace_kind kind,
                      fs_trace **out, fs_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return fs_err_add(err, NULL, "out of memory for the trace"), FS_ENOMEM;
    char p[1100];
    int rc = fs_trace_load(fs_trace_resolve(s->file, path, p, sizeof p), kind, *out, err);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int load_traces(fs_pop *pop, const fs_scenario *s, fs_err *err)
{
    int rc = FS_OK;
    if (s->devices.availability == FS_AVAIL_TRACE)
        rc = load_trace(s, s->devices.avail_trace, FS_TRACE_AVAIL, &pop->avail_trace, err);
    if (!rc && s->devices.cap_on)
        rc = load_trace(s, s->devices.cap_trace, FS_TRACE_CAPACITY, &pop->cap_trace, err);
    if (!rc && pop->avail_trace && pop->cap_trace &&
        !(pop->avail_to_cap = fs_trace_key_map_new(pop->avail_trace, pop->cap_trace))) {
        fs_err_add(err, NULL, "out of memory mapping the traces' keys");
        rc = FS_ENOMEM;
    }
    return rc;
}

uint32_t fs_pop_cap_key(const fs_pop *pop, uint32_t client)
{
    fs_assert(pop->cap_trace);
    /* the two traces describe the same devices when their key names meet */
    if (pop->avail_to_cap) {
        uint32_t k = pop->avail_to_cap[pop->clients[client].avail.trace_key];
        if (k != UINT32_MAX) return k;
    }
    return fs_trace_assign_key(pop->cap_trace, (enum fs_trace_assign)pop->scn->devices.cap_assign,
                               pop->scn->population_seed, client);
}

/* A capacity row replaces the drawn links and compute speed (drawn all the same, so the
 * latency after them and every other stream stay where they were). */
static void apply_capacity(fs_pop *pop, uint32_t client)
{
    const fs_trace_cap *cap = &pop->cap_trace->cap[fs_pop_cap_key(pop, client)];
    fs_client *c = &pop->clients[client];
    c->uplink_mbps = (float)(cap->uplink_kbps / 1000.0);
    c->downlink_mbps = (float)(cap->downlink_kbps / 1000.0);
    c->train_ms_per_sample = (float)cap->compute_ms_per_sample;
}

/* The device state of a trace that has a state column: charging and Wi-Fi exactly where its
 * intervals say so, and neither while offline (the trace does not know). */
static unsigned trace_state_at(const void *ctx, uint32_t client, int utc_offset_q, int64_t t,
                               unsigned need)
{
    (void)utc_offset_q, (void)need; /* one lookup answers both */
    const fs_pop *pop = ctx;
    unsigned st = fs_trace_state_at(pop->avail_trace, pop->clients[client].avail.trace_key, t);
    return (st & FS_TRACE_CHARGING ? FS_DEVSTATE_CHARGING : 0u) |
           (st & FS_TRACE_UNMETERED ? FS_DEVSTATE_WIFI : 0u);
}

static double trace_charging_s(const void *ctx, uint32_t client, int utc_offset_q, int64_t t0,
                               int64_t t1)
{
    (void)utc_offset_q;
    const fs_pop *pop = ctx;
    return fs_trace_seconds_in(pop->avail_trace, pop->clients[client].avail.trace_key,
                               FS_TRACE_CHARGING, t0, t1);
}

static fs_devstate_src trace_source(const fs_pop *pop)
{
    return (fs_devstate_src){.state_at = trace_state_at, .charging_s = trace_charging_s,
                             .ctx = pop};
}

/* Client i's device, consent, trace keys, energy class, network and battery. */
static void draw_one(fs_pop *pop, const fs_scenario *s, size_t i, const size_t *n_train,
                     const size_t *n_test, const int32_t *consent_level, gsl_rng *r)
{
    fs_client *c = &pop->clients[i];
    fs_rng_reseed(r, s->population_seed, FS_RNG_DEVICE, i, FS_RNG_NONE);
    draw_client(c, s, r);
    c->n_train = (uint32_t)n_train[i];
    c->n_test = n_test ? (uint32_t)n_test[i] : 0;
    c->consent = draw_consent(s, i, consent_level ? consent_level[i] : -1, r);
    if (pop->avail_trace)
        c->avail.trace_key =
            fs_trace_assign_key(pop->avail_trace, (enum fs_trace_assign)s->devices.avail_assign,
                                s->population_seed, i);
    if (pop->cap_trace) apply_capacity(pop, (uint32_t)i);
    c->dev_class = (uint8_t)fs_energy_class_of(s, (uint32_t)i);
    c->home_wifi = fs_energy_home_wifi(s, (uint32_t)i);
    c->battery = fs_energy_initial_battery(s, (uint32_t)i);
    pop->perm[i] = (uint32_t)i;
}

int fs_pop_init(fs_pop *pop, const fs_scenario *s, const size_t *n_train, const size_t *n_test,
                const int32_t *consent_level, fs_err *err)
{
    memset(pop, 0, sizeof *pop);
    pop->scn = s;
    int trc = load_traces(pop, s, err);
    if (trc) {
        fs_pop_fini(pop);
        return trc;
    }
    size_t n = s->data.clients;
    pop->clients = calloc(n, sizeof *pop->clients);
    pop->perm = malloc(n * sizeof *pop->perm);
    if (!pop->clients || !pop->perm) goto nomem;
    bool oom = false;
    /* every client's draws come from its own streams: any thread may draw any client */
#pragma omp parallel if (n >= 4096)
    {
        gsl_rng *r = fs_rng_new();
        if (!r) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static, 4096)
        for (size_t i = 0; i < n; i++)
            if (r) draw_one(pop, s, i, n_train, n_test, consent_level, r);
        gsl_rng_free(r);
    }
    if (oom) goto nomem;
    pop->n = n;
    pop->state = pop->avail_trace && fs_trace_has_states(pop->avail_trace)
                     ? trace_source(pop)
                     : fs_energy_param_source(s);
    const typeof(s->devices.eligibility) *el = &s->devices.eligibility;
    pop->eligibility = el->charging || el->unmetered || el->min_battery > 0;
    pop->battery_read = el->min_battery > 0;
    /* validation refuses shares that are all 0; small shares of small populations can still
     * draw nobody, and then no round could ever start */
    size_t consenting = 0;
    for (size_t i = 0; i < n; i++)
        consenting += pop->clients[i].consent;
    if (n && !consenting) {
        fs_pop_fini(pop);
        return fs_scn_bad_key(s, err, "privacy.consent",
                              "expected at least one consenting client, found none of %zu (the "
                              "shares drew nobody: raise privacy.consent.share)",
                              n);
    }
    return FS_OK;
nomem:
    fs_pop_fini(pop);
    fs_err_add(err, NULL, "out of memory creating %zu clients", n);
    return FS_ENOMEM;
}

void fs_pop_set_utc_offsets(fs_pop *pop, const fs_scenario *s, const int32_t *level)
{
    for (size_t i = 0; i < pop->n; i++)
        if (level[i] >= 0 && (size_t)level[i] < s->devices.n_utc_offsets)
            pop->clients[i].avail.utc_offset_q = (int8_t)s->devices.utc_offsets_q[level[i]];
}

void fs_pop_fini(fs_pop *pop)
{
    free(pop->clients);
    free(pop->perm);
    if (pop->avail_trace) fs_trace_fini(pop->avail_trace);
    free(pop->avail_trace);
    if (pop->cap_trace) fs_trace_fini(pop->cap_trace);
    free(pop->cap_trace);
    free(pop->avail_to_cap);
    memset(pop, 0, sizeof *pop);
}

double fs_pop_battery_at(const fs_pop *pop, uint32_t id, int64_t t)
{
    const fs_client *c = &pop->clients[id];
    int64_t t0 = c->t_busy_until > 0 ? c->t_busy_until : 0;
    return fs_energy_battery_at(&pop->state, pop->scn, id, c->avail.utc_offset_q, c->battery, t0,
                                t);
}

bool fs_pop_eligible(const fs_pop *pop, uint32_t id, int64_t t)
{
    if (!pop->eligibility) return true;
    const typeof(pop->scn->devices.eligibility) *el = &pop->scn->devices.eligibility;
    const fs_client *c = &pop->clients[id];
    const fs_devstate_src *src = &pop->state;
    int q = c->avail.utc_offset_q;
    /* one question at a time: most candidates are not charging, and their network is not asked */
    if (el->charging && !(src->state_at(src->ctx, id, q, t, FS_DEVSTATE_CHARGING) &
                          FS_DEVSTATE_CHARGING))
        return false;
    if (el->unmetered &&
        !(src->state_at(src->ctx, id, q, t, FS_DEVSTATE_WIFI) & FS_DEVSTATE_WIFI))
        return false;
    return el->min_battery <= 0 || fs_pop_battery_at(pop, id, t) >= el->min_battery;
}

/* memo holds the availability model and the instant t of the selection. */
static bool selectable(fs_pop *pop, fs_avail_memo *memo, uint32_t id, uint64_t seed,
                       uint64_t pass, size_t *queried)
{
    int64_t t = memo->t;
    fs_client *c = &pop->clients[id];
    if (!c->consent || c->t_busy_until > t) return false;
    /* eligibility before availability: an ineligible phone is never asked, and with
     * eligibility off nothing here runs, so the streams are those of before */
    if (pop->eligibility && !fs_pop_eligible(pop, id, t)) return false;
    ++*queried;
    /* the first draw of the client's (AVAIL, pass) stream, the only one a query makes */
    double u = fs_avail_query_draws(memo->a) ? fs_rng_first_uniform(seed, FS_RNG_AVAIL, id, pass)
                                             : 0;
    return fs_avail_query_drawn(memo->a, &c->avail, t,
                                fs_avail_memo_share(memo, c->avail.utc_offset_q), u);
}

/* How many selection draws are made ahead of their use. A million clients' records and their
 * permutation are far larger than the caches, so each candidate costs two misses (its
 * permutation entry, then its record); the draws do not depend on what is found, so they are
 * made up to AHEAD iterations early and both lines are fetched while earlier candidates are
 * examined. The stream's draws and their order stay exactly those of the plain loop. */
enum { AHEAD = 16, AHEAD_MASK = AHEAD - 1 };
_Static_assert((AHEAD & AHEAD_MASK) == 0, "AHEAD indexes a ring by masking");

size_t fs_pop_select(fs_pop *pop, const fs_avail *avail, uint64_t seed, uint64_t pass, int64_t t,
                     size_t want, gsl_rng *r_sel, uint32_t *out_ids, size_t *out_examined)
{
    /* The SELECT stream orders candidates; each candidate's availability comes from its own
     * (client, pass) stream, so a client's answer does not depend on who was asked before it.
     * Drawing ahead leaves r_sel advanced past the last draw used: it is scratch. */
    fs_rng_reseed(r_sel, seed, FS_RNG_SELECT, FS_RNG_NONE, pass);
    size_t n = pop->n, found = 0, queried = 0, drawn = 0;
    size_t ahead[AHEAD]; /* ahead[k & AHEAD_MASK]: the position drawn for iteration k */
    fs_avail_memo memo;
    fs_avail_memo_init(&memo, avail, t);
    bool xo = fs_rng_is_xoshiro(r_sel); /* its draws inline, the same values */
    for (size_t i = 0; i < n && found < want; i++) {
        /* a few wanted (FedBuff refilling a slot) need few candidates: draw no further ahead
         * than about twice what is still missing */
        size_t window = 2 * (want - found) < AHEAD ? 2 * (want - found) : AHEAD;
        for (; drawn < n && drawn < i + window; drawn++) {
            size_t j = drawn + (xo ? fs_xo_uniform_int(r_sel, n - drawn)
                                   : gsl_rng_uniform_int(r_sel, n - drawn));
            ahead[drawn & AHEAD_MASK] = j;
            __builtin_prefetch(&pop->perm[j], 1);
        }
        /* halfway: that permutation entry has arrived (earlier swaps may still change it,
         * which only makes this fetch a wasted one) */
        if (i + AHEAD / 2 < drawn) {
            const char *c =
                (const char *)&pop->clients[pop->perm[ahead[(i + AHEAD / 2) & AHEAD_MASK]]];
            __builtin_prefetch(c);
            __builtin_prefetch(c + sizeof(fs_client) - 1); /* a record may straddle two lines */
        }
        size_t j = ahead[i & AHEAD_MASK];
        uint32_t id = pop->perm[j];
        /* a permutation of 0..n-1 (fs_ckpt_load checks a restored one): never index past n */
        fs_assert(id < n);
        pop->perm[j] = pop->perm[i];
        pop->perm[i] = id;
        if (selectable(pop, &memo, id, seed, pass, &queried)) out_ids[found++] = id;
    }
    if (out_examined) *out_examined = queried;
    return found;
}
