/* fuzz_scn: libFuzzer harness for the scenario loader: arbitrary bytes as a scenario file, and
 * as a --set override of a valid one. Must never crash, leak or hit undefined behaviour. Run
 * with tools/fuzz-scenario. */
#include <stdlib.h>
#include <string.h>
#include "fs_scn.h"
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{
    char *text = malloc(n + 1);
    memcpy(text, d, n);
    text[n] = 0;
    fs_err err;
    fs_err_init(&err, "fuzz.json");
    fs_scenario s;
    if (fs_scn_parse(text, NULL, 0, &s, &err) == FS_OK) fs_scn_fini(&s);
    const char *sets[] = {text};
    fs_err_init(&err, "fuzz.json");
    if (fs_scn_parse("{\"name\":\"a\",\"data\":{\"source\":\"synthetic\",\"clients\":10},"
                     "\"server\":{\"rounds\":1,\"clients_per_round\":1}}", sets, 1, &s, &err) == FS_OK)
        fs_scn_fini(&s);
    free(text);
    return 0;
}
