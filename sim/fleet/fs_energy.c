/* fs_energy: participation energy, the parametric charging/network model and the battery.
 *
 * Charging (devices.charging), per client and local day d, from stream (population seed,
 * FS_RNG_CHARGE, client, d): the phone charges overnight from evening_start_h of day d to
 * morning_end_h of day d+1 with probability `share`, and with probability day_prob it has one
 * daytime session of day_session_h hours starting uniformly between morning_end_h and
 * evening_start_h - day_session_h. Network (devices.network): a client has Wi-Fi at home with
 * probability wifi_share (one draw per client) and is on it during home hours; outside them (or
 * without home Wi-Fi) a day is on Wi-Fi with probability away_wifi_share, else cellular.
 * The day draws hash straight from fs_rng_seed (no generator state), so the model is a pure
 * function of its arguments and cheap at any t. */
#include "fs_energy.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

#include "fs_device.h"
#include "fs_rng.h"

const char *const fs_energy_class_names[FS_SCN_N_DEV_CLASSES] = {"low", "mid", "high"};

double fs_energy_part_j(const fs_energy_class *k, bool cellular, double train_gflop,
                        double s_down, double s_up, int bursts)
{
    double p_rx = cellular ? k->cell_rx_w : k->wifi_rx_w;
    double p_tx = cellular ? k->cell_tx_w : k->wifi_tx_w;
    double tail = cellular ? k->cell_tail_w * k->cell_tail_s * bursts : 0;
    return k->j_per_gflop * train_gflop + p_rx * s_down + p_tx * s_up + tail;
}

/* The next uniform in [0, 1) of a stream whose state is *st. */
static double next_uniform(uint64_t *st)
{
    return (double)(fs_splitmix64(st) >> 11) * 0x1.0p-53;
}

/* The i-th uniform in [0, 1) of stream (seed, purpose, client, round). */
static double hash_uniform(uint64_t seed, uint32_t purpose, uint64_t client, uint64_t round,
                           int i)
{
    uint64_t st = fs_rng_seed(seed, purpose, client, round);
    double u = 0;
    for (int k = 0; k <= i; k++)
        u = next_uniform(&st);
    return u;
}

static double local_hours(int utc_offset_q, int64_t t)
{
    return (double)t / (double)FS_US_PER_H + utc_offset_q / 4.0;
}

/* Where a day's night session ends, in that day's hours: past midnight (morning_end_h + 24) when
 * the morning comes after the evening. */
static double night_end_h(const fs_scenario *s)
{
    const typeof(s->devices.charging) *ch = &s->devices.charging;
    return ch->morning_end_h + (ch->morning_end_h <= ch->evening_start_h ? 24 : 0);
}

/* The charging intervals of local day d, in local hours from that day's midnight: the night
 * session (from evening_start_h to night_end_h) and the day session; n = 0..2. */
static int day_sessions(const fs_scenario *s, uint32_t client, int64_t d, double lo[2],
                        double hi[2])
{
    const typeof(s->devices.charging) *ch = &s->devices.charging;
    /* the day's uniforms 0, 1, 2 in turn from one seeded stream: hash_uniform's values, seeded
     * once instead of three times (eligibility asks this of every candidate) */
    uint64_t st = fs_rng_seed(s->population_seed, FS_RNG_CHARGE, client, (uint64_t)d);
    int n = 0;
    if (next_uniform(&st) < ch->share) {
        lo[n] = ch->evening_start_h;
        hi[n] = night_end_h(s);
        n++;
    }
    double room = ch->evening_start_h - ch->morning_end_h - ch->day_session_h;
    if (ch->day_session_h > 0 && room >= 0 && next_uniform(&st) < ch->day_prob) {
        lo[n] = ch->morning_end_h + room * next_uniform(&st);
        hi[n] = lo[n] + ch->day_session_h;
        n++;
    }
    return n;
}

/* Hours of charging of [a, b) (local hours since the epoch's local midnight). */
static double charging_hours(const fs_scenario *s, uint32_t client, double a, double b)
{
    double total = 0;
    /* the night session of day d - 1 reaches into day d */
    for (int64_t d = (int64_t)floor(a / 24) - 1; d <= (int64_t)floor(b / 24); d++) {
        double lo[2], hi[2];
        int n = day_sessions(s, client, d, lo, hi);
        for (int i = 0; i < n; i++) {
            double x = fmax(a, 24.0 * (double)d + lo[i]), y = fmin(b, 24.0 * (double)d + hi[i]);
            if (y > x) total += y - x;
        }
    }
    return total;
}

/* Whether local hour h lies in a charging session: what charging_hours(h, nextafter(h)) > 0
 * answers (a session [x, y) covers the tiny interval at h exactly when x <= h < y), without its
 * interval arithmetic, and without drawing the day before's sessions when none of them can
 * still run at h. Every selection candidate's eligibility asks it: 80% of ctr_charging's
 * selection time went to the point's interval. */
static bool charging_at(const fs_scenario *s, uint32_t client, double h)
{
    int64_t d = (int64_t)floor(h / 24);
    /* the latest a session of a day can end, in that day's hours: the night session's end
     * when past midnight, else midnight (a day session ends by the evening, before 24) */
    double night = night_end_h(s), reach = night > 24 ? night : 24;
    int64_t first = h < 24.0 * (double)(d - 1) + reach ? d - 1 : d;
    for (int64_t day = first; day <= d; day++) {
        double lo[2], hi[2];
        int n = day_sessions(s, client, day, lo, hi);
        for (int i = 0; i < n; i++)
            if (24.0 * (double)day + lo[i] <= h && h < 24.0 * (double)day + hi[i]) return true;
    }
    return false;
}

static bool in_hours(double x, double start, double end)
{
    return start <= end ? x >= start && x < end : x >= start || x < end;
}

static unsigned param_state_at(const void *ctx, uint32_t client, int utc_offset_q, int64_t t,
                               unsigned need)
{
    const fs_scenario *s = ctx;
    double h = local_hours(utc_offset_q, t);
    unsigned st = need & FS_DEVSTATE_CHARGING && charging_at(s, client, h) ? FS_DEVSTATE_CHARGING
                                                                          : 0;
    if (!(need & FS_DEVSTATE_WIFI)) return st;
    const typeof(s->devices.network) *nw = &s->devices.network;
    if (!nw->on) return st | FS_DEVSTATE_WIFI;
    double x = fmod(h, 24.0);
    if (x < 0) x += 24.0;
    if (in_hours(x, nw->home_start_h, nw->home_end_h) && fs_energy_home_wifi(s, client))
        return st | FS_DEVSTATE_WIFI;
    uint64_t day = (uint64_t)(int64_t)floor(h / 24);
    if (hash_uniform(s->population_seed, FS_RNG_NETWORK, client, day, 0) < nw->away_wifi_share)
        st |= FS_DEVSTATE_WIFI;
    return st;
}

static double param_charging_s(const void *ctx, uint32_t client, int utc_offset_q, int64_t t0,
                               int64_t t1)
{
    return 3600.0 * charging_hours(ctx, client, local_hours(utc_offset_q, t0),
                                   local_hours(utc_offset_q, t1));
}

fs_devstate_src fs_energy_param_source(const fs_scenario *s)
{
    return (fs_devstate_src){.state_at = param_state_at, .charging_s = param_charging_s, .ctx = s};
}

bool fs_energy_home_wifi(const fs_scenario *s, uint32_t client)
{
    if (!s->devices.network.on) return true;
    return hash_uniform(s->population_seed, FS_RNG_NETWORK, client, FS_RNG_NONE, 0) <
           s->devices.network.wifi_share;
}

int fs_energy_class_of(const fs_scenario *s, uint32_t client)
{
    double total = 0, acc = 0;
    for (int i = 0; i < FS_SCN_N_DEV_CLASSES; i++)
        total += s->devices.classes[i].share;
    double u = hash_uniform(s->population_seed, FS_RNG_ENERGY, client, FS_RNG_NONE, 0) * total;
    for (int i = 0; i < FS_SCN_N_DEV_CLASSES - 1; i++)
        if (u < (acc += s->devices.classes[i].share)) return i;
    return FS_SCN_N_DEV_CLASSES - 1;
}

float fs_energy_initial_battery(const fs_scenario *s, uint32_t client)
{
    const fs_dist *d = &s->devices.battery_initial;
    double u = hash_uniform(s->population_seed, FS_RNG_ENERGY, client, FS_RNG_NONE, 1), x = d->a;
    if (d->kind == FS_DIST_UNIFORM) x = d->a + (d->b - d->a) * u;
    if (d->kind == FS_DIST_LOGNORMAL) x = exp(d->a + d->b * gsl_cdf_ugaussian_Pinv(u));
    return (float)fmin(1.0, fmax(0.0, x));
}

double fs_energy_battery_at(const fs_devstate_src *src, const fs_scenario *s, uint32_t client,
                            int utc_offset_q, double level, int64_t t0, int64_t t1)
{
    if (level >= 1 || t1 <= t0 || !src->charging_s) return level; /* no source: never charges */
    double s_charging = src->charging_s(src->ctx, client, utc_offset_q, t0, t1);
    return fmin(1.0, level + s->devices.charging.rate_per_h * s_charging / 3600.0);
}
