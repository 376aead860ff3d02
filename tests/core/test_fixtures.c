/* Every file the reference wrote opens, from a path and from memory, and
 * gives what the reference's own decoder returned (NAME.expected.json). */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

static int64_t jint(json_object *o, const char *k)
{
    return json_object_get_int64(json_object_object_get(o, k));
}

static void check_file(raiiaf_ctx *ctx, const char *name, json_object *exp)
{
    json_object *eh = json_object_object_get(exp, "header");
    raiiaf_header h;
    CHECK(raiiaf_get_header(ctx, &h) == RAIIAF_OK, "%s: header", name);
    CHECK(h.version_major == jint(eh, "version_major") && h.version_minor == jint(eh, "version_minor"),
          "%s: version", name);
    CHECK(h.chunk_table_offset == jint(eh, "chunk_table_offset") &&
              h.chunk_table_size == jint(eh, "chunk_table_size") &&
              h.chunk_count == jint(eh, "chunk_count") && h.file_size == (uint64_t)jint(eh, "file_size"),
          "%s: header fields", name);

    /* The image bytes, unchanged. */
    const void *img;
    size_t img_size;
    CHECK(raiiaf_get_image_data(ctx, &img, &img_size) == RAIIAF_OK, "%s: image: %s", name,
          raiiaf_ctx_message(ctx));
    char hex[65];
    tl_sha256_hex(img, img_size, hex);
    CHECK(!strcmp(hex, json_object_get_string(json_object_object_get(exp, "image_sha256"))),
          "%s: image sha256 %s", name, hex);

    /* Its size and pixels. */
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK, "%s: image info: %s", name,
          raiiaf_ctx_message(ctx));
    CHECK(info.width > 0 && info.height > 0 && info.image_size == img_size, "%s: image size", name);
    size_t need;
    CHECK(raiiaf_decoded_image_size(ctx, info.format, &need) == RAIIAF_OK, "%s: decoded size", name);
    void *px = malloc(need);
    CHECK(raiiaf_decode_image(ctx, info.format, px, need) == RAIIAF_OK, "%s: decode: %s", name,
          raiiaf_ctx_message(ctx));
    CHECK(raiiaf_decode_image(ctx, info.format, px, need - 1) == RAIIAF_ERANGE,
          "%s: a short buffer is refused", name);
    free(px);

    /* Latents: count, shape, dtype, and the sha256 of the C-order bytes. */
    json_object *el = json_object_object_get(exp, "latents");
    size_t n;
    CHECK(raiiaf_get_latent_count(ctx, &n) == RAIIAF_OK && n == json_object_array_length(el),
          "%s: latent count %zu", name, n);
    json_object *echunks = json_object_object_get(exp, "chunks");
    for (size_t i = 0; i < n && i < json_object_array_length(el); i++) {
        json_object *e = json_object_array_get_idx(el, i);
        raiiaf_latent_info li;
        CHECK(raiiaf_get_latent_info(ctx, i, &li) == RAIIAF_OK, "%s: latent %zu info", name, i);
        json_object *shape = json_object_object_get(e, "shape");
        CHECK(li.ndim == json_object_array_length(shape), "%s: latent %zu ndim", name, i);
        for (unsigned d = 0; d < li.ndim; d++)
            CHECK(li.shape[d] == (uint64_t)json_object_get_int64(json_object_array_get_idx(shape, d)),
                  "%s: latent %zu dim %u", name, i, d);
        const char *dt = json_object_get_string(json_object_object_get(e, "dtype"));
        CHECK((li.dtype == RAIIAF_FLOAT16) == !strcmp(dt, "float16"), "%s: latent %zu dtype", name, i);
        json_object *rec = json_object_array_get_idx(echunks, i);
        const char *ekey = json_object_get_string(
            json_object_object_get(json_object_object_get(rec, "extra"), "key"));
        CHECK(!strcmp(li.key, ekey), "%s: latent %zu key %s", name, i, li.key);
        CHECK((li.storage == RAIIAF_STORAGE_ZFP) ==
                  json_object_get_boolean(json_object_object_get(rec, "compressed")),
              "%s: latent %zu storage", name, i);
        void *buf = malloc(li.decoded_size);
        CHECK(raiiaf_decode_latent(ctx, i, buf, li.decoded_size) == RAIIAF_OK, "%s: latent %zu: %s",
              name, i, raiiaf_ctx_message(ctx));
        tl_sha256_hex(buf, li.decoded_size, hex);
        CHECK(!strcmp(hex, json_object_get_string(json_object_object_get(e, "sha256"))),
              "%s: latent %zu sha256 %s", name, i, hex);
        free(buf);
    }
    CHECK(raiiaf_get_latent_info(ctx, n, &(raiiaf_latent_info){0}) == RAIIAF_ERANGE,
          "%s: latent index past the end", name);

    /* model_info, as JSON values. */
    const char *mj;
    size_t ms;
    CHECK(raiiaf_get_manifest_json(ctx, &mj, &ms) == RAIIAF_OK && strlen(mj) == ms, "%s: manifest", name);
    json_object *m = json_tokener_parse(mj);
    json_object *mi = json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "model_info");
    CHECK(json_object_equal(mi, json_object_object_get(exp, "model_info")), "%s: model_info", name);
    json_object *chunks = json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "chunks");
    CHECK(json_object_equal(chunks, echunks), "%s: chunk records", name);
    json_object_put(m);

    /* What a person reads. */
    const char *prompt = raiiaf_find_text(ctx, "prompt");
    CHECK(prompt && !strcmp(prompt, json_object_get_string(
                                        json_object_object_get(json_object_object_get(exp, "model_info"),
                                                               "prompt"))),
          "%s: prompt text", name);
    const char *params;
    CHECK(raiiaf_get_parameters_text(ctx, &params) == RAIIAF_OK && strstr(params, "Seed: ") &&
              strstr(params, "Steps: ") && !strncmp(params, prompt, strlen(prompt)),
          "%s: parameters text", name);
    const char *env;
    size_t env_size;
    CHECK(raiiaf_get_env_json(ctx, &env, &env_size) == RAIIAF_OK && env && strstr(env, "cononical_str"),
          "%s: environment", name);
    CHECK(raiiaf_find_text(ctx, "env-python") != NULL, "%s: environment text", name);
    CHECK(raiiaf_verify(ctx) == RAIIAF_OK, "%s: verify: %s", name, raiiaf_ctx_message(ctx));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR NAME...\n", argv[0]);
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        char path[4096], exp_path[4096];
        snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[a]);
        snprintf(exp_path, sizeof exp_path, "%s/%s.expected.json", argv[1], argv[a]);
        json_object *exp = tl_read_json(exp_path);
        CHECK(exp != NULL, "%s: expected.json", argv[a]);
        if (!exp)
            continue;

        raiiaf_ctx *ctx = raiiaf_ctx_new();
        int err = raiiaf_open_file(ctx, path);
        CHECK(err == RAIIAF_OK, "%s: open file: %s", argv[a], raiiaf_ctx_message(ctx));
        if (!err)
            check_file(ctx, argv[a], exp);
        raiiaf_ctx_free(ctx);

        tl_bytes b = tl_read_file(path);
        ctx = raiiaf_ctx_new();
        err = raiiaf_open_memory(ctx, b.data, b.size);
        CHECK(err == RAIIAF_OK, "%s: open memory: %s", argv[a], raiiaf_ctx_message(ctx));
        if (!err)
            check_file(ctx, argv[a], exp);
        raiiaf_ctx_free(ctx);
        free(b.data);
        json_object_put(exp);
    }
    return tl_finish();
}
