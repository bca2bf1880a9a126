/* fs_avail: lazy two-state CTMC availability. With on->off rate mu and off->on rate lambda the
 * stationary online share is pi = lambda / (lambda + mu), and from a known state s at time t0
 *   P(online at t) = pi + (s - pi) * exp(-(lambda + mu) (t - t0)).
 * Diurnal keeps mu fixed (mean session length) and sets lambda(t) = mu * pi(t) / (1 - pi(t)) so
 * the stationary share follows pi(t); rates are frozen at the query time (piecewise-stationary
 * approximation, exact for markov). */
#include "fs_avail.h"

#include <gsl/gsl_randist.h>
#include <math.h>

#include "fs_device.h"

static const double us_per_min = 60e6;

void fs_avail_init(fs_avail *a, const fs_scenario *s)
{
    const typeof(s->devices) *d = &s->devices;
    a->kind = d->availability;
    a->mu_on_to_off = 0;
    a->lambda_off_on = 0;
    a->peak_hour = d->peak_hour;
    a->min_share = d->min_share;
    a->max_share = d->max_share;
    a->trace = NULL;
    if (a->kind == FS_AVAIL_MARKOV) {
        a->mu_on_to_off = 1.0 / (d->mean_on_min * us_per_min);
        a->lambda_off_on = 1.0 / (d->mean_off_min * us_per_min);
    } else if (a->kind == FS_AVAIL_DIURNAL) {
        a->mu_on_to_off = 1.0 / (d->mean_session_min * us_per_min);
    }
}

/* Cosine day curve: max_share at peak_hour local time, min_share twelve hours away. */
double fs_avail_share(const fs_avail *a, int utc_offset_q, int64_t t)
{
    if (a->kind == FS_AVAIL_ALWAYS) return 1.0;
    if (a->kind == FS_AVAIL_TRACE) return NAN; /* per client, not a process share */
    if (a->kind == FS_AVAIL_MARKOV) return a->lambda_off_on / (a->lambda_off_on + a->mu_on_to_off);
    /* q / 4.0 is exact, so whole-hour offsets give the same doubles as before quarters */
    double hour = fmod((double)t / (double)FS_US_PER_H + utc_offset_q / 4.0, 24.0);
    if (hour < 0) hour += 24.0;
    double phase = 2.0 * M_PI * (hour - a->peak_hour) / 24.0;
    return a->min_share + (a->max_share - a->min_share) * 0.5 * (1.0 + cos(phase));
}

static double off_to_on_rate(const fs_avail *a, double pi)
{
    if (a->kind == FS_AVAIL_MARKOV) return a->lambda_off_on;
    return a->mu_on_to_off * pi / (1.0 - pi);
}

bool fs_avail_query(const fs_avail *a, fs_avail_state *st, int64_t t, gsl_rng *r)
{
    return fs_avail_query_share(a, st, t, fs_avail_share(a, st->utc_offset_q, t), r);
}

void fs_avail_memo_init(fs_avail_memo *m, const fs_avail *a, int64_t t)
{
    m->a = a;
    m->t = t;
    for (int i = 0; i < FS_AVAIL_MEMO_SLOTS; i++) m->used[i] = false;
}

double fs_avail_memo_share(fs_avail_memo *m, int utc_offset_q)
{
    unsigned slot = (unsigned)(utc_offset_q + FS_AVAIL_MEMO_BIAS) % FS_AVAIL_MEMO_SLOTS;
    if (!m->used[slot] || m->q[slot] != utc_offset_q) {
        m->share[slot] = fs_avail_share(m->a, utc_offset_q, m->t);
        m->q[slot] = utc_offset_q;
        m->used[slot] = true;
    }
    return m->share[slot];
}

bool fs_avail_query_draws(const fs_avail *a)
{
    return a->kind != FS_AVAIL_ALWAYS && a->kind != FS_AVAIL_TRACE;
}

bool fs_avail_query_drawn(const fs_avail *a, fs_avail_state *st, int64_t t, double pi, double u)
{
    if (a->kind == FS_AVAIL_ALWAYS) return true;
    if (a->kind == FS_AVAIL_TRACE) {
        bool on = fs_trace_online(a->trace, st->trace_key, t);
        fs_avail_observe(st, on, t);
        return on;
    }
    double p_on = pi;
    if (st->t_known != INT64_MIN) {
        double rate = off_to_on_rate(a, pi) + a->mu_on_to_off;
        double decay = exp(-rate * (double)(t - st->t_known));
        p_on = pi + ((st->online ? 1.0 : 0.0) - pi) * decay;
    }
    bool online = u < p_on;
    fs_avail_observe(st, online, t);
    return online;
}

bool fs_avail_query_share(const fs_avail *a, fs_avail_state *st, int64_t t, double pi,
                          gsl_rng *r)
{
    return fs_avail_query_drawn(a, st, t, pi, fs_avail_query_draws(a) ? gsl_rng_uniform(r) : 0);
}

int64_t fs_avail_online_left(const fs_avail *a, const fs_avail_state *st, int64_t t, gsl_rng *r)
{
    if (a->kind == FS_AVAIL_ALWAYS) return INT64_MAX;
    if (a->kind == FS_AVAIL_TRACE) {
        int64_t off = fs_trace_offline_at(a->trace, st->trace_key, t);
        return off == INT64_MAX ? INT64_MAX : off - t;
    }
    double left = gsl_ran_exponential(r, 1.0 / a->mu_on_to_off);
    return left >= 9e18 ? INT64_MAX : (int64_t)llround(left);
}

void fs_avail_observe(fs_avail_state *st, bool online, int64_t t)
{
    st->online = online;
    st->t_known = t;
}
