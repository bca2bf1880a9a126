/* fs_energy: what a phone spends and whether it may train. Owns the energy of one participation
 * (a pure formula), the parametric charging and network state (charging sessions by local time,
 * Wi-Fi at home), the battery level computed lazily from the last known level, and the
 * eligibility rule (devices.eligibility). No per-event state: every state is a pure function of
 * (population seed, client, local day, time), so any t can be asked in any order.
 *
 * Energy of a participation, in joules (scenarios/README.md "Energy and battery"):
 *   E = j_per_gflop * G + P_rx * t_down + P_tx * t_up + [cellular] P_tail * t_tail * bursts
 * with G the GFLOPs of training done, t_down and t_up the seconds spent receiving and sending,
 * P_rx, P_tx the class's Wi-Fi or cellular powers (W), and one LTE tail (Huang et al., MobiSys
 * 2012: ~11.6 s at ~1.06 W) per transfer burst that ran (download, upload). */
#ifndef FS_ENERGY_H
#define FS_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

#include "fs_scn.h"

typedef struct fs_scn_dev_class fs_energy_class;

/* E above. Pure: no state, no randomness. */
double fs_energy_part_j(const fs_energy_class *k, bool cellular, double train_gflop,
                        double s_down, double s_up, int bursts);

/* ---- device state: charging and network ---------------------------------------------------- */

enum { FS_DEVSTATE_CHARGING = 1u, FS_DEVSTATE_WIFI = 2u, FS_DEVSTATE_ALL = 3u };

/* A device state source: the state bits of `client` (at utc_offset_q quarter hours) at virtual
 * time t, of those in `need` (a source may leave the others 0: the selection asks a candidate
 * for its network only once it is known to charge), and the seconds it spent charging in
 * [t0, t1). The parametric model below is one; a trace (helper h1's fs_trace_state_at, the
 * trace's state column) plugs in as another by filling the same two pointers, in fs_pop_init
 * where pop->state is set. */
typedef struct fs_devstate_src {
    unsigned (*state_at)(const void *ctx, uint32_t client, int utc_offset_q, int64_t t,
                         unsigned need);
    double (*charging_s)(const void *ctx, uint32_t client, int utc_offset_q, int64_t t0,
                         int64_t t1);
    const void *ctx;
} fs_devstate_src;

/* The parametric model of devices.charging and devices.network; ctx is the scenario. */
fs_devstate_src fs_energy_param_source(const fs_scenario *s);

/* The client's usual network: Wi-Fi at home (share devices.network.wifi_share), else cellular;
 * always Wi-Fi without devices.network. */
bool fs_energy_home_wifi(const fs_scenario *s, uint32_t client);

/* The device class index (0 low, 1 mid, 2 high) of a client, from its own stream, by the
 * normalised devices.classes shares. */
int fs_energy_class_of(const fs_scenario *s, uint32_t client);

/* The classes' names by index, as devices.classes spells them (the clients table records them). */
extern const char *const fs_energy_class_names[FS_SCN_N_DEV_CLASSES];

/* Its initial battery level in [0, 1] (devices.battery.initial, clamped). */
float fs_energy_initial_battery(const fs_scenario *s, uint32_t client);

/* The battery level at t1 of a device at `level` at t0 <= t1, refilled by charging at
 * devices.charging.rate_per_h (nothing else fedsim models drains it). */
double fs_energy_battery_at(const fs_devstate_src *src, const fs_scenario *s, uint32_t client,
                            int utc_offset_q, double level, int64_t t0, int64_t t1);

#endif
