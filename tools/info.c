/* raiiaf info: a readable or JSON summary of each file.
 *
 * SPDX-License-Identifier: MIT
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json.h>

#include "common.h"

/* Column where values start in the readable output: set per file from
 * its longest key, within these bounds. */
#define MIN_KEY_WIDTH 14
#define MAX_KEY_WIDTH 28
static int key_width = MIN_KEY_WIDTH;

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf info [OPTIONS] FILE...\n"
            "\n"
            "Prints each file's header, image, model, prompt, tags, generation\n"
            "settings, hardware, latents (key, dtype, shape, storage, bytes) and\n"
            "software environment. Latents and pixels are not decoded.\n"
            "\n"
            "Options:\n"
            "  -j, --json     one JSON document per file, each on one line (JSON Lines),\n"
            "                 with the keys: file, header, image, model_info, text,\n"
            "                 latents, manifest (as stored), environment (as stored) and,\n"
            "                 when something could not be read, errors; a file that\n"
            "                 does not open gives {\"file\": ..., \"error\": ...}\n"
            "  -p, --pretty   with --json, indent each document over several lines\n"
            "                 (documents are then separated by a newline)\n"
            "  -h, --help     show this help\n"
            "\n"
            "Exit status: 0 if every file was read in full, 1 if any file is bad or\n"
            "unreadable (what could be read is still printed), 2 wrong usage.\n");
}

/* ---- Readable output ---------------------------------------------------- */

static void print_key(const char *key, unsigned indent)
{
    int width = key_width - (int)indent;
    printf("%*s", (int)indent, "");
    tool_print_text(stdout, key, NULL);
    int len = (int)strlen(key);
    printf("%*s", len < width ? width - len : 1, "");
}

static const char *value_indent(void)
{
    static char spaces[MAX_KEY_WIDTH + 1];
    memset(spaces, ' ', (size_t)key_width);
    spaces[key_width] = '\0';
    return spaces;
}

static void set_key_width(raiiaf_ctx *ctx)
{
    size_t count = 0, longest = 0;
    if (raiiaf_get_text_count(ctx, &count) != RAIIAF_OK)
        count = 0;
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        if (raiiaf_get_text(ctx, i, &key, &value) == RAIIAF_OK && strlen(key) > longest)
            longest = strlen(key);
    }
    size_t latents = 0;
    if (raiiaf_get_latent_count(ctx, &latents) != RAIIAF_OK)
        latents = 0;
    for (size_t i = 0; i < latents; i++) {
        raiiaf_latent_info li;
        if (raiiaf_get_latent_info(ctx, i, &li) == RAIIAF_OK && li.key && strlen(li.key) + 2 > longest)
            longest = strlen(li.key) + 2;
    }
    size_t width = longest + 3;
    key_width = width < MIN_KEY_WIDTH ? MIN_KEY_WIDTH : width > MAX_KEY_WIDTH ? MAX_KEY_WIDTH : (int)width;
}

static void print_pair(const char *key, const char *value)
{
    print_key(key, 2);
    tool_print_text(stdout, value, value_indent());
    fputc('\n', stdout);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void report(const char *path, const char *what, raiiaf_ctx *ctx)
{
    tool_error("%s: %s%s%s", path, what ? what : "", what ? ": " : "", raiiaf_ctx_message(ctx));
}

/* The environment is read first, before anything that flattens the
 * metadata to text: that reads it too but keeps going without it, and the
 * failure's precise message is wanted here. */
typedef struct env_result {
    int rc;
    const char *json;
    size_t size;
    char message[512];
} env_result;

static void read_env(raiiaf_ctx *ctx, env_result *env)
{
    env->json = NULL;
    env->size = 0;
    env->rc = raiiaf_get_env_json(ctx, &env->json, &env->size);
    snprintf(env->message, sizeof env->message, "%s", env->rc ? raiiaf_ctx_message(ctx) : "");
}

static int print_image(const char *path, raiiaf_ctx *ctx)
{
    raiiaf_image_info ii;
    int rc = raiiaf_get_image_info(ctx, &ii);
    if (rc == RAIIAF_ENOTPNG) {
        const void *data;
        size_t size;
        char line[96];
        if (raiiaf_get_image_data(ctx, &data, &size) == RAIIAF_OK)
            snprintf(line, sizeof line, "not a PNG (%zu bytes)", size);
        else
            snprintf(line, sizeof line, "not a PNG");
        print_pair("image", line);
        return TOOL_EXIT_OK;
    }
    if (rc == RAIIAF_ENOIMAGE) {
        print_pair("image", "none");
        return TOOL_EXIT_OK;
    }
    if (rc != RAIIAF_OK) {
        report(path, "image", ctx);
        return TOOL_EXIT_FAILURE;
    }
    print_key("image", 2);
    printf("PNG %" PRIu32 "x%" PRIu32 ", %s %d-bit%s, %" PRIu64 " bytes\n", ii.width, ii.height,
           tool_color_type_name(ii.png_color_type), ii.png_bit_depth,
           ii.interlaced ? ", interlaced" : "", ii.image_size);
    if (ii.has_icc) {
        const void *icc;
        size_t icc_size;
        const char *name = NULL;
        if (raiiaf_get_icc_profile(ctx, &icc, &icc_size, &name) == RAIIAF_OK) {
            print_key("icc-profile", 2);
            tool_print_text(stdout, name ? name : "", NULL);
            printf(" (%zu bytes)\n", icc_size);
        }
    }
    if (ii.srgb_intent >= 0) {
        static const char *const intents[] = {"perceptual", "relative colorimetric", "saturation",
                                              "absolute colorimetric"};
        print_pair("srgb", ii.srgb_intent < 4 ? intents[ii.srgb_intent] : "unknown intent");
    }
    if (ii.gamma > 0) {
        print_key("gamma", 2);
        printf("%.5f\n", ii.gamma);
    }
    return TOOL_EXIT_OK;
}

static int print_latents(const char *path, raiiaf_ctx *ctx)
{
    size_t count;
    int rc = raiiaf_get_latent_count(ctx, &count);
    if (rc != RAIIAF_OK) {
        report(path, "latents", ctx);
        return TOOL_EXIT_FAILURE;
    }
    print_key("latents", 2);
    printf("%zu\n", count);
    for (size_t i = 0; i < count; i++) {
        raiiaf_latent_info li;
        rc = raiiaf_get_latent_info(ctx, i, &li);
        if (rc != RAIIAF_OK) {
            report(path, "latent", ctx);
            return TOOL_EXIT_FAILURE;
        }
        char shape[RAIIAF_MAX_DIMS * 21 + 1];
        tool_format_shape(li.shape, li.ndim, shape, sizeof shape);
        print_key(li.key ? li.key : "", 4);
        printf("%s %s %s, %" PRIu64 " bytes, %" PRIu64 " stored\n", raiiaf_dtype_name(li.dtype), shape,
               tool_storage_name(li.storage), li.decoded_size, li.stored_size);
    }
    return TOOL_EXIT_OK;
}

static int info_readable(const char *path, raiiaf_ctx *ctx)
{
    int status = TOOL_EXIT_OK;
    raiiaf_header h;
    int rc = raiiaf_get_header(ctx, &h);
    if (rc != RAIIAF_OK) {
        report(path, "header", ctx);
        return TOOL_EXIT_FAILURE;
    }
    env_result env;
    read_env(ctx, &env);
    set_key_width(ctx);
    tool_print_text(stdout, path, NULL);
    fputs(":\n", stdout);
    print_key("format", 2);
    printf("raiiaf %u.%u, %" PRIu32 " chunks, %" PRIu64 " bytes", h.version_major, h.version_minor,
           h.chunk_count, h.file_size);
    if (h.flags)
        printf(", flags 0x%02x", h.flags);
    printf("\n");
    print_key("manifest", 2);
    printf("%" PRIu32 " bytes at offset %" PRIu32 "\n", h.chunk_table_size, h.chunk_table_offset);

    if (print_image(path, ctx) != TOOL_EXIT_OK)
        status = TOOL_EXIT_FAILURE;

    /* Model, prompt, tags, settings and hardware as the library flattens
     * them; latents and environment get their own sections below. */
    size_t count = 0;
    rc = raiiaf_get_text_count(ctx, &count);
    if (rc != RAIIAF_OK) {
        report(path, "metadata", ctx);
        status = TOOL_EXIT_FAILURE;
        count = 0;
    }
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        if (raiiaf_get_text(ctx, i, &key, &value) != RAIIAF_OK)
            continue;
        if (starts_with(key, "latent-") || starts_with(key, "env-"))
            continue;
        print_pair(key, value);
    }

    if (print_latents(path, ctx) != TOOL_EXIT_OK)
        status = TOOL_EXIT_FAILURE;

    if (env.rc != RAIIAF_OK) {
        tool_error("%s: environment: %s", path, env.message);
        status = TOOL_EXIT_FAILURE;
    } else if (!env.json) {
        print_pair("environment", "none");
    } else {
        fputs("  environment\n", stdout);
        for (size_t i = 0; i < count; i++) {
            const char *key, *value;
            if (raiiaf_get_text(ctx, i, &key, &value) != RAIIAF_OK || !starts_with(key, "env-"))
                continue;
            print_key(key + 4, 4);
            tool_print_text(stdout, value, NULL);
            fputc('\n', stdout);
        }
    }
    return status;
}

/* ---- JSON output -------------------------------------------------------- */

static json_object *parse_json(const char *text, size_t size)
{
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
    if (!tok)
        return NULL;
    json_object *obj = json_tokener_parse_ex(tok, text, (int)(size > INT32_MAX ? INT32_MAX : size));
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    /* Not JSON after all: keep the text so that nothing is hidden. */
    if (!obj)
        obj = json_object_new_string_len(text, (int)(size > INT32_MAX ? INT32_MAX : size));
    return obj;
}

/* A string for the JSON output: what is not valid UTF-8 (a path, an ICC
 * profile's Latin-1 name, a message quoting raw bytes) as \xNN. */
static json_object *json_text(const char *text)
{
    char *valid = tool_utf8_text(text);
    json_object *o = json_object_new_string(valid ? valid : "");
    free(valid);
    return o;
}

static void add_error(json_object *errors, const char *what, raiiaf_ctx *ctx)
{
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", what, raiiaf_ctx_message(ctx));
    json_object_array_add(errors, json_text(line));
}

static json_object *json_image(raiiaf_ctx *ctx, json_object *errors)
{
    json_object *img = json_object_new_object();
    raiiaf_image_info ii;
    int rc = raiiaf_get_image_info(ctx, &ii);
    if (rc == RAIIAF_ENOTPNG) {
        const void *data;
        size_t size;
        json_object_object_add(img, "type", json_object_new_string("unknown"));
        if (raiiaf_get_image_data(ctx, &data, &size) == RAIIAF_OK)
            json_object_object_add(img, "bytes", json_object_new_uint64(size));
        return img;
    }
    if (rc == RAIIAF_ENOIMAGE) {
        json_object_put(img);
        return NULL;
    }
    if (rc != RAIIAF_OK) {
        add_error(errors, "image", ctx);
        json_object_put(img);
        return NULL;
    }
    json_object_object_add(img, "type", json_object_new_string("png"));
    json_object_object_add(img, "width", json_object_new_uint64(ii.width));
    json_object_object_add(img, "height", json_object_new_uint64(ii.height));
    json_object_object_add(img, "format", json_object_new_string(tool_format_name(ii.format)));
    json_object_object_add(img, "bit_depth", json_object_new_int(ii.png_bit_depth));
    json_object_object_add(img, "color_type", json_object_new_int(ii.png_color_type));
    json_object_object_add(img, "interlaced", json_object_new_boolean(ii.interlaced));
    json_object *icc = NULL;
    if (ii.has_icc) {
        const void *data;
        size_t size;
        const char *name = NULL;
        if (raiiaf_get_icc_profile(ctx, &data, &size, &name) == RAIIAF_OK) {
            icc = json_object_new_object();
            json_object_object_add(icc, "name", json_text(name ? name : ""));
            json_object_object_add(icc, "bytes", json_object_new_uint64(size));
        }
    }
    json_object_object_add(img, "icc_profile", icc);
    json_object_object_add(img, "srgb_intent",
                           ii.srgb_intent >= 0 ? json_object_new_int(ii.srgb_intent) : NULL);
    /* gAMA holds the gamma times 100000: five decimals say it exactly. */
    char gamma[32];
    snprintf(gamma, sizeof gamma, "%.5f", ii.gamma);
    json_object_object_add(img, "gamma", ii.gamma > 0 ? json_object_new_double_s(ii.gamma, gamma) : NULL);
    json_object_object_add(img, "bytes", json_object_new_uint64(ii.image_size));
    return img;
}

static json_object *json_latents(raiiaf_ctx *ctx, json_object *errors)
{
    json_object *arr = json_object_new_array();
    size_t count;
    int rc = raiiaf_get_latent_count(ctx, &count);
    if (rc != RAIIAF_OK) {
        add_error(errors, "latents", ctx);
        return arr;
    }
    for (size_t i = 0; i < count; i++) {
        raiiaf_latent_info li;
        rc = raiiaf_get_latent_info(ctx, i, &li);
        if (rc != RAIIAF_OK) {
            add_error(errors, "latent", ctx);
            break;
        }
        json_object *o = json_object_new_object();
        json_object *shape = json_object_new_array();
        for (unsigned d = 0; d < li.ndim && d < RAIIAF_MAX_DIMS; d++)
            json_object_array_add(shape, json_object_new_uint64(li.shape[d]));
        json_object_object_add(o, "key", json_object_new_string(li.key ? li.key : ""));
        json_object_object_add(o, "dtype", json_object_new_string(raiiaf_dtype_name(li.dtype)));
        json_object_object_add(o, "shape", shape);
        json_object_object_add(o, "storage", json_object_new_string(tool_storage_name(li.storage)));
        json_object_object_add(o, "bytes", json_object_new_uint64(li.decoded_size));
        json_object_object_add(o, "stored_bytes", json_object_new_uint64(li.stored_size));
        json_object_array_add(arr, o);
    }
    return arr;
}

static int info_json(const char *path, raiiaf_ctx *ctx, json_object *doc)
{
    json_object *errors = json_object_new_array();
    raiiaf_header h;
    int rc = raiiaf_get_header(ctx, &h);
    if (rc == RAIIAF_OK) {
        json_object *hdr = json_object_new_object();
        json_object_object_add(hdr, "version_major", json_object_new_int(h.version_major));
        json_object_object_add(hdr, "version_minor", json_object_new_int(h.version_minor));
        json_object_object_add(hdr, "flags", json_object_new_int(h.flags));
        json_object_object_add(hdr, "chunk_table_offset", json_object_new_uint64(h.chunk_table_offset));
        json_object_object_add(hdr, "chunk_table_size", json_object_new_uint64(h.chunk_table_size));
        json_object_object_add(hdr, "chunk_count", json_object_new_uint64(h.chunk_count));
        json_object_object_add(hdr, "file_size", json_object_new_uint64(h.file_size));
        json_object_object_add(hdr, "reserved", json_object_new_uint64(h.reserved));
        json_object_object_add(doc, "header", hdr);
    } else {
        add_error(errors, "header", ctx);
    }

    json_object_object_add(doc, "image", json_image(ctx, errors));

    /* model_info is the manifest's own object, repeated at the top so that
     * scripts need not know where the manifest keeps it. */
    const char *manifest_text;
    size_t manifest_size;
    json_object *manifest = NULL, *model_info = NULL;
    rc = raiiaf_get_manifest_json(ctx, &manifest_text, &manifest_size);
    if (rc == RAIIAF_OK) {
        manifest = parse_json(manifest_text, manifest_size);
        json_object *meta;
        if (json_object_object_get_ex(manifest, "raiiaf_metadata", &meta) &&
            json_object_object_get_ex(meta, "model_info", &model_info))
            json_object_get(model_info);
    } else {
        add_error(errors, "manifest", ctx);
    }
    json_object_object_add(doc, "model_info", model_info);

    env_result env;
    read_env(ctx, &env);
    json_object *text = json_object_new_object();
    size_t count;
    rc = raiiaf_get_text_count(ctx, &count);
    if (rc != RAIIAF_OK) {
        add_error(errors, "metadata", ctx);
        count = 0;
    }
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        if (raiiaf_get_text(ctx, i, &key, &value) == RAIIAF_OK)
            json_object_object_add(text, key, json_object_new_string(value));
    }
    json_object_object_add(doc, "text", text);
    json_object_object_add(doc, "latents", json_latents(ctx, errors));
    json_object_object_add(doc, "manifest", manifest);

    if (env.rc != RAIIAF_OK) {
        char line[1024];
        snprintf(line, sizeof line, "environment: %s", env.message);
        json_object_array_add(errors, json_text(line));
    }
    json_object_object_add(doc, "environment",
                           env.rc == RAIIAF_OK && env.json ? parse_json(env.json, env.size) : NULL);

    int status = TOOL_EXIT_OK;
    if (json_object_array_length(errors) > 0) {
        for (size_t i = 0; i < json_object_array_length(errors); i++)
            tool_error("%s: %s", path, json_object_get_string(json_object_array_get_idx(errors, i)));
        json_object_object_add(doc, "errors", errors);
        status = TOOL_EXIT_FAILURE;
    } else {
        json_object_put(errors);
    }
    return status;
}

int cmd_info(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"pretty", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, pretty = false;
    int c;
    while ((c = getopt_long(argc, argv, "jph", options, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'p': pretty = true; break;
        case 'h': print_help(stdout); return TOOL_EXIT_OK;
        default: return tool_usage_hint(argv[0]);
        }
    }
    if (optind >= argc)
        return tool_usage_error(argv[0], "no file given");
    if (pretty && !json)
        return tool_usage_error(argv[0], "--pretty goes with --json");

    int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
    int status = TOOL_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        raiiaf_ctx *ctx = raiiaf_ctx_new();
        int rc = ctx ? raiiaf_open_file(ctx, path) : RAIIAF_ENOMEM;
        json_object *doc = json ? json_object_new_object() : NULL;
        if (doc)
            json_object_object_add(doc, "file", json_text(path));
        if (rc != RAIIAF_OK) {
            tool_error("%s: %s", path, raiiaf_ctx_message(ctx));
            if (doc)
                json_object_object_add(doc, "error", json_text(raiiaf_ctx_message(ctx)));
            status = TOOL_EXIT_FAILURE;
        } else if (json) {
            if (info_json(path, ctx, doc) != TOOL_EXIT_OK)
                status = TOOL_EXIT_FAILURE;
        } else {
            if (i > optind)
                fputc('\n', stdout);
            if (info_readable(path, ctx) != TOOL_EXIT_OK)
                status = TOOL_EXIT_FAILURE;
        }
        if (doc) {
            fputs(json_object_to_json_string_ext(doc, flags), stdout);
            fputc('\n', stdout);
            json_object_put(doc);
        }
        fflush(stdout);
        raiiaf_ctx_free(ctx);
    }
    if (ferror(stdout))
        return TOOL_EXIT_FAILURE;
    return status;
}
