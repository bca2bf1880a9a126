/* fs_plugin: models from outside fedsim. Loads a shared object with dlopen, checks the table it
 * exports (include/fedsim/fedsim_model.h: the symbol, the ABI version, the functions) and wraps
 * it as an fs_model whose ops call the plugin. Knows nothing of scenarios: failures come back as
 * a code and a message (naming the file) for the caller to attach to its key. */
#ifndef FS_PLUGIN_H
#define FS_PLUGIN_H

#include <stdbool.h>

#include "fs_model.h"

#define FS_PLUGIN_MSG_LEN 400

typedef struct fs_plugin fs_plugin;

/* Opens the plugin at path (a path without '/' is taken in the working directory, never
 * searched for on the library path) and checks its table. FS_OK with *out, else FS_ESCENARIO
 * (FS_ENOMEM) with the reason in msg. */
int fs_plugin_open(const char *path, fs_plugin **out, char msg[FS_PLUGIN_MSG_LEN]);
void fs_plugin_close(fs_plugin *p); /* NULL is a no-op */

/* Whether the plugin accepts sparse (or dense) rows. */
bool fs_plugin_accepts(const fs_plugin *p, bool sparse);

/* The model the plugin builds for data of n_features and n_classes; takes over p (closed with
 * the model, or now on failure). config: JSON text handed to the plugin. FS_OK with *out, else
 * FS_ESCENARIO (the plugin refused, or reported sizes fedsim cannot use) or FS_ENOMEM, with the
 * reason in msg. */
int fs_plugin_model_new(fs_plugin *p, size_t n_features, int n_classes, bool sparse,
                        size_t max_batch, const char *config, fs_model **out,
                        char msg[FS_PLUGIN_MSG_LEN]);

/* Runs the plugin once before training: init from stream (seed, INIT), then loss_grad and
 * predict on rows[0..n) of ds (n >= 1, at most max_batch), and checks that parameters, loss,
 * gradient and probabilities are finite (probabilities in [0, 1]). FS_ENUMERIC with the first
 * problem in msg, FS_ENOMEM, FS_OK. */
int fs_plugin_probe(const fs_model *m, const fs_dataset *ds, const uint32_t *rows, size_t n,
                    uint64_t seed, char msg[FS_PLUGIN_MSG_LEN]);

#endif
