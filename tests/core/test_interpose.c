/* test_interpose OUT_DIR FIXTURES_DIR NAME...
 *
 * The library's json-c calls must not be bound to another library's
 * functions of the same name. json-glib, which GIMP and every GTK program
 * load, exports json_object_get_type() and others that json-c also has;
 * when json-glib comes first in the dynamic linker's search order, a
 * library calling json-c through the dynamic symbol table gets json-glib's
 * function and reads "\"text\"" instead of "text".
 *
 * This program is linked so that json-glib comes before the library, and
 * the test also runs it with json-glib preloaded; it first checks that the
 * process's json_object_get_type really is json-glib's (otherwise it would
 * prove nothing). Then, for every fixture, the text values the library
 * gives must equal json-glib's own reading of the fixture's expected.json,
 * and a file re-written by the library (no edit recorded, so the bytes do
 * not depend on the time) must read back the same. The re-written
 * manifests go to OUT_DIR/NAME.manifest.json, for the test script to
 * compare between the shared and the static library.
 *
 * No json-c here: it would itself be bound to json-glib. */
#include "raiiaf.h"

#include <dlfcn.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static void check_text(raiiaf_ctx *ctx, const char *name, const char *key, const char *want)
{
    const char *got = raiiaf_find_text(ctx, key);
    CHECK(got && want && strcmp(got, want) == 0, "%s: %s is '%s', expected '%s'", name, key,
          got ? got : "(none)", want ? want : "(none)");
}

/* tags joined by ", ", as raiiaf_get_text() gives them. */
static char *join_tags(JsonArray *tags)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; tags && i < json_array_get_length(tags); i++) {
        if (i)
            g_string_append(s, ", ");
        g_string_append(s, json_array_get_string_element(tags, i));
    }
    return g_string_free(s, FALSE);
}

/* The values of model_info that the library turns into text. */
static void check_values(raiiaf_ctx *ctx, const char *name, JsonObject *mi)
{
    check_text(ctx, name, "model", json_object_get_string_member(mi, "model_name"));
    check_text(ctx, name, "prompt", json_object_get_string_member(mi, "prompt"));
    char *tags = join_tags(json_object_get_array_member(mi, "tags"));
    if (*tags)
        check_text(ctx, name, "tags", tags);
    g_free(tags);
    JsonObject *gs = json_object_has_member(mi, "generation_settings")
                         ? json_object_get_object_member(mi, "generation_settings")
                         : NULL;
    if (gs && json_object_has_member(gs, "sampler"))
        check_text(ctx, name, "sampler", json_object_get_string_member(gs, "sampler"));
    if (gs && json_object_has_member(gs, "seed")) {
        char seed[32];
        snprintf(seed, sizeof seed, "%" G_GINT64_FORMAT, json_object_get_int_member(gs, "seed"));
        check_text(ctx, name, "seed", seed);
    }
}

static JsonObject *model_info_of(JsonParser *p, const char *json, gssize size, const char *what,
                                 bool whole_manifest)
{
    GError *err = NULL;
    if (!json_parser_load_from_data(p, json, size, &err)) {
        CHECK(0, "%s: json-glib cannot parse it: %s", what, err->message);
        g_error_free(err);
        return NULL;
    }
    JsonObject *root = json_node_get_object(json_parser_get_root(p));
    if (whole_manifest)
        root = json_object_get_object_member(root, "raiiaf_metadata");
    return root ? json_object_get_object_member(root, "model_info") : NULL;
}

static void check_fixture(const char *out_dir, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.expected.json", dir, name);
    JsonParser *expected = json_parser_new();
    GError *err = NULL;
    if (!json_parser_load_from_file(expected, path, &err)) {
        CHECK(0, "%s: %s", path, err->message);
        g_error_free(err);
        g_object_unref(expected);
        return;
    }
    JsonObject *mi =
        json_object_get_object_member(json_node_get_object(json_parser_get_root(expected)),
                                      "model_info");

    snprintf(path, sizeof path, "%s/%s.raiiaf", dir, name);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int rc = raiiaf_open_file(ctx, path);
    CHECK(rc == RAIIAF_OK, "%s: open: %s", name, raiiaf_ctx_message(ctx));
    if (rc == RAIIAF_OK && mi) {
        check_values(ctx, name, mi);

        /* Re-written with everything kept and no edit recorded. */
        raiiaf_writer *w = NULL;
        void *data = NULL;
        size_t size = 0;
        rc = raiiaf_writer_new_from(ctx, &w);
        if (rc == RAIIAF_OK) {
            const void *png;
            size_t png_size;
            rc = raiiaf_get_image_data(ctx, &png, &png_size);
            if (rc == RAIIAF_OK)
                rc = raiiaf_writer_set_image_png(w, png, png_size);
        }
        if (rc == RAIIAF_OK)
            rc = raiiaf_writer_write_memory(w, &data, &size);
        CHECK(rc == RAIIAF_OK, "%s: re-write: %s", name, w ? raiiaf_writer_message(w) : "");
        raiiaf_writer_free(w);

        raiiaf_ctx *again = raiiaf_ctx_new();
        const char *manifest = NULL;
        size_t manifest_size = 0;
        if (rc == RAIIAF_OK) {
            rc = raiiaf_open_memory(again, data, size);
            CHECK(rc == RAIIAF_OK, "%s: re-open: %s", name, raiiaf_ctx_message(again));
        }
        if (rc == RAIIAF_OK && raiiaf_get_manifest_json(again, &manifest, &manifest_size) == 0) {
            check_values(again, name, mi);
            /* The written manifest, read by json-glib, holds the values. */
            JsonParser *p = json_parser_new();
            JsonObject *written = model_info_of(p, manifest, (gssize)manifest_size, name, true);
            CHECK(written != NULL, "%s: written manifest has no model_info", name);
            if (written) {
                CHECK(strcmp(json_object_get_string_member(written, "prompt"),
                             json_object_get_string_member(mi, "prompt")) == 0,
                      "%s: written prompt differs", name);
                JsonNode *tags = json_object_get_member(written, "tags");
                CHECK(!json_object_has_member(mi, "tags") ||
                          (tags && JSON_NODE_HOLDS_ARRAY(tags) &&
                           json_array_get_length(json_node_get_array(tags)) ==
                               json_array_get_length(json_object_get_array_member(mi, "tags"))),
                      "%s: written tags are not the same array", name);
            }
            g_object_unref(p);
            snprintf(path, sizeof path, "%s/%s.manifest.json", out_dir, name);
            FILE *f = fopen(path, "wb");
            CHECK(f && fwrite(manifest, 1, manifest_size, f) == manifest_size && fclose(f) == 0,
                  "%s: cannot write", path);
        }
        raiiaf_ctx_free(again);
        raiiaf_free(data);
    }
    raiiaf_ctx_free(ctx);
    g_object_unref(expected);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s OUT_DIR FIXTURES_DIR NAME...\n", argv[0]);
        return 2;
    }
    /* The hazard must be present, or the test proves nothing. */
    Dl_info where;
    void *sym = dlsym(RTLD_DEFAULT, "json_object_get_type");
    if (!sym || !dladdr(sym, &where) || !where.dli_fname ||
        strstr(where.dli_fname, "libjson-c")) {
        fprintf(stderr, "FAIL: json_object_get_type of this process is not another "
                        "library's (%s)\n",
                sym && where.dli_fname ? where.dli_fname : "not found");
        return 1;
    }
    printf("json_object_get_type resolves to %s\n", where.dli_fname);
    for (int i = 3; i < argc; i++)
        check_fixture(argv[1], argv[2], argv[i]);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok: %d fixtures read and re-written with json_object_get_type defined outside\n", argc - 3);
    return 0;
}
