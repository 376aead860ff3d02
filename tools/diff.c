/* raiiaf diff: what differs between two files: prompt, model, settings,
 * hardware, environment (library versions, CUDA, OS), the image's pixels
 * and the latents' values. Exit 0 same, 1 different, 2 trouble, as diff
 * and cmp.
 *
 * SPDX-License-Identifier: MIT
 */
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum { DIFF_SAME = 0, DIFF_DIFFERENT = 1, DIFF_TROUBLE = 2 };

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf diff [OPTIONS] A.raiiaf B.raiiaf\n"
            "\n"
            "Says what differs between two files: the prompt, negative prompt, model,\n"
            "generation settings, the tool the metadata came from, the hardware, the\n"
            "software environment (library versions, CUDA, OS), the image (same\n"
            "pixels or not; same PNG bytes or not) and each latent by key (same\n"
            "dtype, shape and values, or the largest absolute difference).\n"
            "\n"
            "Options:\n"
            "  -i, --ignore FIELD[,FIELD...]\n"
            "                 leave these out of the comparison (the option may be\n"
            "                 repeated): a field as printed (date, prompt, seed,\n"
            "                 cfg-scale, env-python, hardware-gpu, source-tool, ...;\n"
            "                 '_' is taken for '-': cfg_scale), a manifest key\n"
            "                 (model_name, negative_prompt, generation_settings,\n"
            "                 hardware_info, edit_history), a section (prompt, model,\n"
            "                 settings, hardware, environment, file), image, or\n"
            "                 latents; a latent by key as latent:KEY\n"
            "  -j, --json     one JSON document: {\"same\", \"differences\": [{\"field\",\n"
            "                 \"section\", \"a\", \"b\"}], \"image\", \"latents\",\n"
            "                 \"ignored\"}; \"image\" is null when ignored\n"
            "  -q, --quiet    print nothing; the exit status says it\n"
            "  -h, --help     show this help\n"
            "\n"
            "Exit status: 0 the files are the same, 1 they differ, 2 a file could not\n"
            "be read or wrong usage.\n");
}

/* The section a text key belongs to. */
static const char *section_of(const char *key)
{
    if (!strncmp(key, "env-", 4))
        return "environment";
    if (!strncmp(key, "hardware-", 9))
        return "hardware";
    if (!strcmp(key, "prompt") || !strcmp(key, "negative-prompt"))
        return "prompt";
    if (!strcmp(key, "model") || !strcmp(key, "model-version"))
        return "model";
    if (!strcmp(key, "date") || !strcmp(key, "tags") || !strcmp(key, "edit-history") ||
        !strcmp(key, "source-tool"))
        return "file";
    return "settings";
}

typedef struct diff_state {
    json_object *differences;
    bool json, quiet;
    bool differ;
    json_object *ignored; /* array of the --ignore names, normalised */
} diff_state;

/* The manifest's own names for what the text keys call otherwise. */
static const char *const manifest_names[][2] = {
    {"model-name", "model"},
    {"generation-settings", "settings"},
    {"hardware-info", "hardware"},
    {"ai-metadata", "source-tool"},
};

/* Adds the comma-separated names of one --ignore to the list: '_' read as
 * '-', the manifest's names as the keys they show as. False for an empty
 * name. */
static bool add_ignored(json_object *list, const char *arg)
{
    if (!*arg)
        return false;
    while (*arg) {
        size_t n = strcspn(arg, ",");
        if (!n)
            return false;
        char *name = malloc(n + 1);
        if (!name)
            return false;
        for (size_t i = 0; i < n; i++)
            name[i] = arg[i] == '_' && strncmp(arg, "latent:", 7) ? '-' : arg[i];
        name[n] = 0;
        const char *shown = name;
        for (size_t i = 0; i < sizeof manifest_names / sizeof manifest_names[0]; i++)
            if (!strcmp(name, manifest_names[i][0]))
                shown = manifest_names[i][1];
        json_object_array_add(list, json_object_new_string(shown));
        free(name);
        arg += n;
        if (*arg == ',' && !*++arg)
            return false;
    }
    return true;
}

static bool is_ignored(const diff_state *s, const char *name)
{
    size_t n = json_object_array_length(s->ignored);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(s->ignored, i)), name))
            return true;
    return false;
}

/* A text key left out by name or by its section. */
static bool key_ignored(const diff_state *s, const char *key)
{
    return is_ignored(s, key) || is_ignored(s, section_of(key));
}

static bool latent_ignored(const diff_state *s, const char *key)
{
    if (is_ignored(s, "latents"))
        return true;
    size_t n = json_object_array_length(s->ignored);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->ignored, i));
        if (!strncmp(name, "latent:", 7) && !strcmp(name + 7, key))
            return true;
    }
    return false;
}

static void report(diff_state *s, const char *section, const char *field, const char *a,
                   const char *b)
{
    s->differ = true;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "section", json_object_new_string(section));
    json_object_object_add(d, "field", json_object_new_string(field));
    char *ua = a ? tool_utf8_text(a) : NULL, *ub = b ? tool_utf8_text(b) : NULL;
    json_object_object_add(d, "a", ua ? json_object_new_string(ua) : NULL);
    json_object_object_add(d, "b", ub ? json_object_new_string(ub) : NULL);
    free(ua);
    free(ub);
    json_object_array_add(s->differences, d);
    if (s->json || s->quiet)
        return;
    printf("%s:\n", field);
    printf("  A: ");
    if (a)
        tool_print_text(stdout, a, "     ");
    else
        printf("(none)");
    printf("\n  B: ");
    if (b)
        tool_print_text(stdout, b, "     ");
    else
        printf("(none)");
    printf("\n");
}

static bool skip_key(const diff_state *s, const char *key)
{
    /* the latents are compared by value */
    return !strncmp(key, "latent-", 7) || key_ignored(s, key);
}

static void compare_texts(diff_state *s, raiiaf_ctx *a, raiiaf_ctx *b)
{
    size_t na = 0, nb = 0;
    raiiaf_get_text_count(a, &na);
    raiiaf_get_text_count(b, &nb);
    for (size_t i = 0; i < na; i++) {
        const char *k, *v;
        if (raiiaf_get_text(a, i, &k, &v) || skip_key(s, k) || raiiaf_find_text(a, k) != v)
            continue; /* only the first pair of a key */
        const char *w = raiiaf_find_text(b, k);
        if (!w || strcmp(v, w))
            report(s, section_of(k), k, v, w);
    }
    for (size_t i = 0; i < nb; i++) {
        const char *k, *v;
        if (raiiaf_get_text(b, i, &k, &v) || skip_key(s, k) || raiiaf_find_text(b, k) != v)
            continue;
        if (!raiiaf_find_text(a, k))
            report(s, section_of(k), k, NULL, v);
    }
}

/* ---- the image ---- */

typedef struct image_result {
    bool same_bytes, same_size, same_pixels;
    uint64_t differing_pixels;
    uint32_t wa, ha, wb, hb;
} image_result;

/* Compares the pixels as RGBA 16-bit, row by row, or whole for an
 * interlaced PNG. */
static int compare_pixels(raiiaf_ctx *a, raiiaf_ctx *b, const raiiaf_image_info *ia,
                          image_result *r)
{
    size_t row = (size_t)ia->width * 8;
    int ea = raiiaf_decode_rows_begin(a, RAIIAF_FMT_RGBA16);
    int eb = raiiaf_decode_rows_begin(b, RAIIAF_FMT_RGBA16);
    if (!ea && !eb) {
        uint8_t *ra = malloc(row), *rb = malloc(row);
        int err = ra && rb ? 0 : RAIIAF_ENOMEM;
        for (uint32_t y = 0; !err && y < ia->height; y++) {
            if ((err = raiiaf_decode_row(a, ra, row)) || (err = raiiaf_decode_row(b, rb, row)))
                break;
            for (uint32_t x = 0; x < ia->width; x++)
                r->differing_pixels += memcmp(ra + (size_t)x * 8, rb + (size_t)x * 8, 8) != 0;
        }
        free(ra);
        free(rb);
        return err;
    }
    if ((ea && ea != RAIIAF_EUNSUPPORTED) || (eb && eb != RAIIAF_EUNSUPPORTED))
        return ea ? ea : eb;
    size_t size;
    int err = raiiaf_decoded_image_size(a, RAIIAF_FMT_RGBA16, &size);
    if (err)
        return err;
    uint8_t *pa = malloc(size), *pb = malloc(size);
    if (!pa || !pb)
        err = RAIIAF_ENOMEM;
    if (!err && !(err = raiiaf_decode_image(a, RAIIAF_FMT_RGBA16, pa, size)) &&
        !(err = raiiaf_decode_image(b, RAIIAF_FMT_RGBA16, pb, size)))
        for (size_t i = 0; i < size; i += 8)
            r->differing_pixels += memcmp(pa + i, pb + i, 8) != 0;
    free(pa);
    free(pb);
    return err;
}

static int compare_image(raiiaf_ctx *a, raiiaf_ctx *b, image_result *r, const char **which)
{
    uint8_t ha[32], hb[32];
    memset(r, 0, sizeof *r);
    int err = raiiaf_get_image_sha256(a, ha);
    if (err) {
        *which = "A";
        return err;
    }
    if ((err = raiiaf_get_image_sha256(b, hb))) {
        *which = "B";
        return err;
    }
    raiiaf_image_info ia, ib;
    if ((err = raiiaf_get_image_info(a, &ia))) {
        *which = "A";
        return err;
    }
    if ((err = raiiaf_get_image_info(b, &ib))) {
        *which = "B";
        return err;
    }
    r->wa = ia.width, r->ha = ia.height, r->wb = ib.width, r->hb = ib.height;
    r->same_size = ia.width == ib.width && ia.height == ib.height;
    r->same_bytes = !memcmp(ha, hb, 32);
    if (r->same_bytes) {
        r->same_pixels = true;
        return RAIIAF_OK;
    }
    if (!r->same_size)
        return RAIIAF_OK;
    *which = "A or B";
    err = compare_pixels(a, b, &ia, r);
    r->same_pixels = !err && r->differing_pixels == 0;
    return err;
}

/* ---- latents ---- */

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? INFINITY : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* The latent as doubles (malloc'd). */
static double *latent_values(raiiaf_ctx *ctx, size_t index, const raiiaf_latent_info *li,
                             size_t *count, int *err)
{
    size_t esize = raiiaf_dtype_size(li->dtype);
    size_t n = esize ? (size_t)(li->decoded_size / esize) : 0;
    void *raw = malloc(li->decoded_size ? li->decoded_size : 1);
    double *out = malloc((n ? n : 1) * sizeof *out);
    if (!raw || !out) {
        free(raw);
        free(out);
        *err = RAIIAF_ENOMEM;
        return NULL;
    }
    *err = raiiaf_decode_latent(ctx, index, raw, li->decoded_size);
    if (*err) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = li->dtype == RAIIAF_FLOAT16 ? half_to_double(((uint16_t *)raw)[i])
                                             : (double)((float *)raw)[i];
    free(raw);
    *count = n;
    return out;
}

static bool find_latent(raiiaf_ctx *ctx, const char *key, size_t *index, raiiaf_latent_info *li)
{
    size_t n = 0;
    raiiaf_get_latent_count(ctx, &n);
    for (size_t i = 0; i < n; i++)
        if (!raiiaf_get_latent_info(ctx, i, li) && !strcmp(li->key, key)) {
            *index = i;
            return true;
        }
    return false;
}

static int compare_latent(diff_state *s, json_object *list, raiiaf_ctx *a, raiiaf_ctx *b,
                          const char *key, const char **which)
{
    raiiaf_latent_info la, lb;
    size_t ia = 0, ib = 0;
    bool in_a = find_latent(a, key, &ia, &la), in_b = find_latent(b, key, &ib, &lb);
    json_object *o = json_object_new_object();
    char *ukey = tool_utf8_text(key);
    json_object_object_add(o, "key", json_object_new_string(ukey ? ukey : ""));
    free(ukey);
    json_object_array_add(list, o);
    char sa[160] = "", sb[160] = "";
    if (in_a)
        tool_format_shape(la.shape, la.ndim, sa, sizeof sa);
    if (in_b)
        tool_format_shape(lb.shape, lb.ndim, sb, sizeof sb);
    json_object_object_add(o, "a", in_a ? json_object_new_string(sa) : NULL);
    json_object_object_add(o, "b", in_b ? json_object_new_string(sb) : NULL);
    char da[200], db[200];
    snprintf(da, sizeof da, "%s %s", raiiaf_dtype_name(in_a ? la.dtype : 0), sa);
    snprintf(db, sizeof db, "%s %s", raiiaf_dtype_name(in_b ? lb.dtype : 0), sb);
    if (!in_a || !in_b || la.dtype != lb.dtype || strcmp(sa, sb)) {
        json_object_object_add(o, "same", json_object_new_boolean(0));
        s->differ = true;
        if (!s->json && !s->quiet) {
            printf("latent ");
            tool_print_text(stdout, key, NULL);
            printf(":\n  A: %s\n  B: %s\n", in_a ? da : "(none)", in_b ? db : "(none)");
        }
        return RAIIAF_OK;
    }
    size_t n = 0, m = 0;
    int err;
    double *va = latent_values(a, ia, &la, &n, &err);
    if (!va) {
        *which = "A";
        return err;
    }
    double *vb = latent_values(b, ib, &lb, &m, &err);
    if (!vb) {
        free(va);
        *which = "B";
        return err;
    }
    double max = 0;
    uint64_t differing = 0;
    for (size_t i = 0; i < n && i < m; i++) {
        double d = fabs(va[i] - vb[i]);
        differing += va[i] != vb[i];
        if (d > max)
            max = d;
    }
    free(va);
    free(vb);
    json_object_object_add(o, "same", json_object_new_boolean(differing == 0));
    json_object_object_add(o, "differing_values", json_object_new_int64((int64_t)differing));
    json_object_object_add(o, "max_abs_diff", json_object_new_double(max));
    if (differing) {
        s->differ = true;
        if (!s->json && !s->quiet) {
            printf("latent ");
            tool_print_text(stdout, key, NULL);
            printf(": %" PRIu64 " of %zu values differ, max absolute difference %.9g\n",
                   differing, n, max);
        }
    }
    return RAIIAF_OK;
}

static int open_one(const char *path, raiiaf_ctx **ctx)
{
    *ctx = raiiaf_ctx_new();
    if (!*ctx) {
        tool_error("out of memory");
        return DIFF_TROUBLE;
    }
    if (raiiaf_open_file(*ctx, path) != RAIIAF_OK) {
        tool_error("%s: %s", path, raiiaf_ctx_message(*ctx));
        return DIFF_TROUBLE;
    }
    size_t n;
    if (raiiaf_get_text_count(*ctx, &n) != RAIIAF_OK) {
        tool_error("%s: %s", path, raiiaf_ctx_message(*ctx));
        return DIFF_TROUBLE;
    }
    return DIFF_SAME;
}

static int diff_files(const char *pa, const char *pb, bool json, bool quiet, json_object *ignored)
{
    raiiaf_ctx *a = NULL, *b = NULL;
    int status = open_one(pa, &a);
    if (status == DIFF_SAME)
        status = open_one(pb, &b);
    if (status != DIFF_SAME) {
        raiiaf_ctx_free(a);
        raiiaf_ctx_free(b);
        return status;
    }
    diff_state s = {.differences = json_object_new_array(), .json = json, .quiet = quiet,
                    .ignored = ignored};
    bool skip_image = is_ignored(&s, "image");
    json_object *latents = json_object_new_array();
    compare_texts(&s, a, b);

    image_result img = {.same_bytes = true, .same_size = true, .same_pixels = true};
    const char *which = "A";
    int err = skip_image ? RAIIAF_OK : compare_image(a, b, &img, &which);
    if (err) {
        raiiaf_ctx *bad = which[0] == 'B' ? b : a;
        tool_error("%s: %s", which[0] == 'B' ? pb : pa, raiiaf_ctx_message(bad));
        status = DIFF_TROUBLE;
        goto out;
    }
    if (!img.same_pixels)
        s.differ = true;
    if (!json && !quiet && !img.same_pixels) {
        if (!img.same_size)
            printf("image: different size: A %" PRIu32 "x%" PRIu32 ", B %" PRIu32 "x%" PRIu32 "\n",
                   img.wa, img.ha, img.wb, img.hb);
        else
            printf("image: %" PRIu64 " of %" PRIu64 " pixels differ\n", img.differing_pixels,
                   (uint64_t)img.wa * img.ha);
    } else if (!json && !quiet && !img.same_bytes) {
        printf("image: same pixels, other PNG bytes\n");
    }

    size_t na = 0, nb = 0;
    raiiaf_get_latent_count(a, &na);
    raiiaf_get_latent_count(b, &nb);
    for (size_t i = 0; i < na + nb && !err; i++) {
        raiiaf_latent_info li, other;
        size_t idx;
        raiiaf_ctx *c = i < na ? a : b;
        if (raiiaf_get_latent_info(c, i < na ? i : i - na, &li))
            continue;
        if (find_latent(c, li.key, &idx, &other) && idx != (i < na ? i : i - na))
            continue; /* a repeated key: its first latent */
        if (i >= na && find_latent(a, li.key, &idx, &other))
            continue; /* compared from A's side */
        if (latent_ignored(&s, li.key))
            continue;
        err = compare_latent(&s, latents, a, b, li.key, &which);
    }
    if (err) {
        raiiaf_ctx *bad = which[0] == 'B' ? b : a;
        tool_error("%s: %s", which[0] == 'B' ? pb : pa, raiiaf_ctx_message(bad));
        status = DIFF_TROUBLE;
        goto out;
    }
    status = s.differ ? DIFF_DIFFERENT : DIFF_SAME;
    if (json && !quiet) {
        json_object *root = json_object_new_object();
        char *ua = tool_utf8_text(pa), *ub = tool_utf8_text(pb);
        json_object_object_add(root, "a", json_object_new_string(ua ? ua : ""));
        json_object_object_add(root, "b", json_object_new_string(ub ? ub : ""));
        free(ua);
        free(ub);
        json_object_object_add(root, "same", json_object_new_boolean(!s.differ));
        json_object_object_add(root, "differences", json_object_get(s.differences));
        json_object *im = json_object_new_object();
        json_object_object_add(im, "same_bytes", json_object_new_boolean(img.same_bytes));
        json_object_object_add(im, "same_size", json_object_new_boolean(img.same_size));
        json_object_object_add(im, "same_pixels", json_object_new_boolean(img.same_pixels));
        json_object_object_add(im, "differing_pixels",
                               json_object_new_int64((int64_t)img.differing_pixels));
        if (skip_image) {
            json_object_put(im);
            im = NULL;
        }
        json_object_object_add(root, "image", im);
        json_object_object_add(root, "latents", json_object_get(latents));
        json_object_object_add(root, "ignored", json_object_get(ignored));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    } else if (!quiet && !s.differ) {
        printf("same\n");
    }
out:
    json_object_put(s.differences);
    json_object_put(latents);
    raiiaf_ctx_free(a);
    raiiaf_ctx_free(b);
    return status;
}

int cmd_diff(int argc, char **argv)
{
    static const struct option options[] = {
        {"ignore", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, quiet = false;
    json_object *ignored = json_object_new_array();
    int c, status;
    if (!ignored) {
        tool_error("out of memory");
        return DIFF_TROUBLE;
    }
    while ((c = getopt_long(argc, argv, "i:jqh", options, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!add_ignored(ignored, optarg)) {
                json_object_put(ignored);
                return tool_usage_error(argv[0], "--ignore needs field names separated by commas");
            }
            break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'h': json_object_put(ignored); print_help(stdout); return TOOL_EXIT_OK;
        default: json_object_put(ignored); return tool_usage_hint(argv[0]);
        }
    }
    if (argc - optind != 2) {
        json_object_put(ignored);
        return tool_usage_error(argv[0], "two files are needed, A and B");
    }
    status = diff_files(argv[optind], argv[optind + 1], json, quiet, ignored);
    json_object_put(ignored);
    return status;
}
