/* fuzz_ckpt: libFuzzer harness for the checkpoint loader: arbitrary bytes as the snapshot a
 * run resumes from, into an engine built from a small SCAFFOLD + FedAdam + DP scenario (so
 * every section has content). The input's length field and CRC-32 are fixed up before loading
 * (fs_ckpt_reseal), otherwise nearly every mutation would stop at the checksum and the section
 * checks behind it would go unfuzzed. Must never crash, leak or hit undefined behaviour; an
 * accepted snapshot plays the scenario's last round. The first call writes a valid snapshot to
 * corpus/seed.ckpt as a starting point. Run with tools/fuzz checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_ckpt.h"
#include "fs_engine.h"
#include "fs_pop.h"
#include "fs_world.h"

static const char *const scn_text =
    "{\"name\":\"fuzz\",\"seed\":3,\"data\":{\"source\":\"synthetic\",\"clients\":12,"
    "\"synthetic\":{\"alpha\":1,\"beta\":1,\"max_samples_per_client\":20}},"
    "\"train\":{\"epochs\":1,\"batch_size\":10,\"lr\":0.05},"
    "\"server\":{\"rounds\":3,\"clients_per_round\":3,\"algorithm\":\"scaffold\","
    "\"optimizer\":{\"adam\":{}}},"
    "\"privacy\":{\"dp\":{\"clip\":1,\"noise_multiplier\":1}},"
    "\"devices\":{\"failure_prob\":0.1,"
    "\"availability\":{\"markov\":{\"mean_on_min\":1,\"mean_off_min\":2}}},"
    "\"eval\":{\"every_rounds\":3},\"output\":{\"checkpoint_every\":2}}";

static fs_scenario scn;
static fs_world world;
static bool ready;

/* Keeps the snapshot of round 2 as the seed of the corpus. */
static int keep_seed(void *ctx, fs_round_result *res, fs_err *err)
{
    (void)ctx;
    (void)err;
    FILE *f = res->checkpoint ? fopen("corpus/seed.ckpt", "wb") : NULL;
    if (f) {
        fwrite(res->checkpoint, 1, res->checkpoint_len, f);
        fclose(f);
    }
    return FS_OK;
}

static int run_engine(const void *state, size_t len, fs_engine_round_fn on_round)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_pop pop;
    if (fs_pop_init(&pop, &scn, world.n_train, world.n_test, NULL, &err)) abort();
    fs_engine_cfg cfg = {.scn = &scn,
                         .world = &world,
                         .pop = &pop,
                         .n_threads = 1,
                         .on_round = on_round,
                         .checkpoint_every = scn.output.checkpoint_every,
                         .resume_state = state,
                         .resume_len = len,
                         .resume_round = 2,
                         .resume_origin = "fuzz",
                         .data_fingerprint = fs_ckpt_fingerprint(&scn, &world)};
    int rc = fs_engine_run(&cfg, NULL, NULL, &err);
    fs_pop_fini(&pop);
    return rc;
}

int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{
    if (!ready) {
        fs_err err;
        fs_err_init(&err, "fuzz.json");
        if (fs_scn_parse(scn_text, NULL, 0, &scn, &err) || fs_world_init(&world, &scn, &err)) {
            fs_err_print(&err, stderr);
            abort();
        }
        if (run_engine(NULL, 0, keep_seed)) abort();
        ready = true;
    }
    unsigned char *buf = malloc(n ? n : 1);
    memcpy(buf, d, n);
    if (n >= 24) {
        uint64_t len = n;
        memcpy(buf + 16, &len, sizeof len);
    }
    fs_ckpt_reseal(buf, n);
    run_engine(buf, n, NULL);
    free(buf);
    return 0;
}
