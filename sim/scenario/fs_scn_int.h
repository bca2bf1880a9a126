/* fs_scn_int: internals shared by fs_scn.c (overrides, loading), fs_scn_tables.c (the schema)
 * and fs_scn_walk.c (the generic table walker). A key table describes one JSON object: each
 * key's type, bounds, default and the field it fills, by offset from a base pointer. The walker
 * validates a cJSON object against a table, fills the fields and emits the effective object back
 * from them. Not part of the public API: only the fs_scn*.c files include it. */
#ifndef FS_SCN_INT_H
#define FS_SCN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fs_scn.h"

#define FS_SCN_PATH_LEN 256
#define FS_SCN_INT_LIMIT 9007199254740992.0 /* 2^53: integers beyond lose precision */

enum fs_scn_type {
    FS_SCN_INT,       /* integral number stored in an int, size_t or uint64_t field */
    FS_SCN_NUM,       /* finite number stored in a double */
    FS_SCN_STR,       /* string into a char array; lo/hi bound its length */
    FS_SCN_BOOL,      /* true/false into a bool */
    FS_SCN_ENUM,      /* one of aux's words; index stored in an int-sized enum */
    FS_SCN_OBJ,       /* nested object described by aux (fs_scn_obj) */
    FS_SCN_UNION,     /* a word or {"<variant>": {...}} described by aux (fs_scn_union) */
    FS_SCN_DIST,      /* fs_dist: number | {"lognormal": ...} | {"uniform": ...}; aux = default */
    FS_SCN_INT_ARRAY, /* int array field (capacity size/sizeof(int)), count in size_t at off2;
                       * default: aux (const int[], def elements) or one element def */
    FS_SCN_STR_ARRAY, /* char[cap][FS_SCN_NAME_LEN] field, count in size_t at off2; default [] */
    FS_SCN_KEEP,      /* accepted if a string, no field: copied verbatim into the effective JSON */
    FS_SCN_JSON,      /* any JSON object, kept as compact text in a char array; def_str default */
    FS_SCN_RAW /* any object, checked elsewhere (the sweep); kept out of the effective JSON */
};

enum {
    FS_SCN_REQ = 1u << 0,     /* required key */
    FS_SCN_LO = 1u << 1,      /* value >= lo */
    FS_SCN_LO_OPEN = 1u << 2, /* value > lo (with FS_SCN_LO) */
    FS_SCN_HI = 1u << 3,      /* value <= hi */
    FS_SCN_HI_OPEN = 1u << 4, /* value < hi (with FS_SCN_HI) */
    FS_SCN_IDENT = 1u << 5,   /* string of [A-Za-z0-9_.-] only */
    FS_SCN_QUARTERS = 1u << 6 /* INT_ARRAY of numbers in multiples of 0.25, stored as 4x */
};

/* Bit of a data source in fs_scn_key.sources, of a model kind in fs_scn_key.models. */
#define FS_SCN_SRC(s) (1u << (s))
#define FS_SCN_MODEL(k) (1u << (k))

typedef struct fs_scn_key {
    const char *name;
    enum fs_scn_type type;
    unsigned flags;
    double lo, hi;       /* bounds of INT/NUM values, STR lengths, INT_ARRAY elements */
    double def;          /* default of INT/NUM/BOOL, index of ENUM/UNION, INT_ARRAY's element */
    const char *def_str; /* STR default (NULL: left empty for a later rule to fill) */
    size_t off, size;    /* field at base + off, of `size` bytes */
    size_t off2;         /* INT_ARRAY: its size_t count */
    const void *aux;     /* ENUM: NULL-terminated words; OBJ: fs_scn_obj; UNION: fs_scn_union;
                          * DIST: default fs_dist */
    const char *na_note; /* appended to "not applicable to source ..." */
    unsigned sources;    /* FS_SCN_SRC bits of the data sources the key applies to; 0 = all */
    unsigned models;     /* FS_SCN_MODEL bits of the model kinds the key applies to; 0 = all.
                          * model.kind must come before such keys in its table. */
    size_t present_off;  /* OBJ keys: offset of a bool set when the object is given (turning a
                          * feature on, e.g. privacy.dp); the effective JSON omits it when
                          * absent. 0 = none (offset 0 is the name, never a bool). */
} fs_scn_key;

typedef struct fs_scn_obj {
    const fs_scn_key *keys;
    size_t n_keys;
} fs_scn_obj;

/* One object variant of a union: {"<name>": {<obj's keys>}}, with fields relative to the same
 * base as the union's tag. */
typedef struct fs_scn_variant {
    const char *name;
    int tag;
    const fs_scn_obj *obj;
} fs_scn_variant;

typedef struct fs_scn_union {
    const char *word; /* the plain-string variant ("iid", "always"), or NULL */
    int word_tag;
    const fs_scn_variant *variants;
    size_t n_variants;
} fs_scn_union;
/* A union of a word (or NULL) and an array of variants, its size from sizeof. */
#define FS_SCN_UNION_OF(word, word_tag, variants)                                                  \
    {                                                                                              \
        word, word_tag, variants, sizeof variants / sizeof variants[0]                             \
    }

/* What a value of the wrong type is told u expects, from its variants: `first` (the quoted word
 * when NULL; nothing without one), then up to two variants one by one, more grouped:
 *   "always", {"markov": {...}} or {"diurnal": {...}}
 *   "iid" or {"dirichlet" | "shards" | "natural": {...}}
 * Truncated to n - 1 bytes. */
void fs_scn_union_expect(const fs_scn_union *u, const char *first, char *buf, size_t n);

/* Validation state. `good` marks, by byte offset in the scenario, fields holding a validated
 * value or a default, so cross-field rules only compare trustworthy values. */
typedef struct fs_scn_ctx {
    fs_err *err;
    fs_scenario *s;
    int n_bad;
    bool good[sizeof(fs_scenario)];
} fs_scn_ctx;

/* The whole schema (fs_scn_tables.c), the data source names, indexed by fs_data_source, and the
 * model kinds. */
extern const fs_scn_obj fs_scn_top_obj;
extern const char *const fs_scn_sources[];
extern const char *const fs_scn_model_kinds[]; /* model.kind words, indexed by fs_model_kind */

/* Appends "<path>: <message>" to the context's errors and counts it. */
void fs_scn_bad(fs_scn_ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Renders a JSON value as messages show it after "found": -3, 2.5, "abc", true, null, an object,
 * an array. Strings are quoted and cut at 40 characters. */
void fs_scn_render(const cJSON *v, char *buf, size_t n);

/* The shortest "%.*g" text of x that reads back as x. */
void fs_scn_fmt_num(double x, char *buf, size_t n);

/* Joins "parent.key" (or "key" at the top) into out. */
void fs_scn_join(char *out, const char *parent, const char *key);

/* Validates `obj` (NULL: absent, so every key takes its default) against a table, filling fields
 * relative to `base`. Reports unknown keys with a suggestion and duplicate keys. */
void fs_scn_walk(fs_scn_ctx *c, const cJSON *obj, const char *path, const fs_scn_obj *o,
                 void *base);

/* Builds the effective object from the fields (NULL on out of memory). `src` is the validated
 * input object (may be NULL), read only for FS_SCN_KEEP keys. */
cJSON *fs_scn_emit(const fs_scn_ctx *c, const fs_scn_obj *o, const void *base, const cJSON *src);

#endif
