/* read -> write -> read keeps pixels, latents and metadata; the writer
 * refuses what the format (or the reference's schema) forbids; saving is
 * atomic. */
#include "raiiaf.h"
#include "testlib.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static raiiaf_ctx *open_mem(const void *data, size_t size)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = raiiaf_open_memory(ctx, data, size);
    CHECK(err == RAIIAF_OK, "reopen: %s", raiiaf_ctx_message(ctx));
    return ctx;
}

static json_object *model_info(raiiaf_ctx *ctx)
{
    const char *mj;
    size_t ms;
    raiiaf_get_manifest_json(ctx, &mj, &ms);
    json_object *m = json_tokener_parse(mj);
    json_object *mi = json_object_get(
        json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "model_info"));
    json_object_put(m);
    return mi;
}

static void *decode_latent(raiiaf_ctx *ctx, size_t i, raiiaf_latent_info *li)
{
    raiiaf_get_latent_info(ctx, i, li);
    void *buf = malloc(li->decoded_size);
    CHECK(raiiaf_decode_latent(ctx, i, buf, li->decoded_size) == RAIIAF_OK, "latent %zu: %s", i,
          raiiaf_ctx_message(ctx));
    return buf;
}

/* Re-write with everything kept: stored latents copied bit for bit. */
static void rewrite_kept(const char *name, raiiaf_ctx *src)
{
    raiiaf_writer *w = NULL;
    CHECK(raiiaf_writer_new_from(src, &w) == RAIIAF_OK, "%s: new_from: %s", name,
          raiiaf_ctx_message(src));
    if (!w)
        return;
    const void *png;
    size_t png_size;
    raiiaf_get_image_data(src, &png, &png_size);
    CHECK(raiiaf_writer_set_image_png(w, png, png_size) == RAIIAF_OK, "%s: set png", name);
    raiiaf_writer_set_software(w, "raiiaf-test", "1.0", "re-encoded");
    void *out;
    size_t out_size;
    CHECK(raiiaf_writer_write_memory(w, &out, &out_size) == RAIIAF_OK, "%s: write: %s", name,
          raiiaf_writer_message(w));
    raiiaf_writer_free(w);

    raiiaf_ctx *back = open_mem(out, out_size);
    CHECK(raiiaf_verify(back) == RAIIAF_OK, "%s: verify rewritten: %s", name, raiiaf_ctx_message(back));
    const void *png2;
    size_t png2_size;
    raiiaf_get_image_data(back, &png2, &png2_size);
    CHECK(png2_size == png_size && !memcmp(png, png2, png_size), "%s: image bytes kept", name);
    size_t n1, n2;
    raiiaf_get_latent_count(src, &n1);
    raiiaf_get_latent_count(back, &n2);
    CHECK(n1 == n2, "%s: latent count kept", name);
    for (size_t i = 0; i < n1 && i < n2; i++) {
        void *b1, *b2;
        size_t s1, s2;
        raiiaf_get_latent_stored(src, i, &b1, &s1);
        CHECK(raiiaf_get_latent_stored(back, i, &b2, &s2) == RAIIAF_OK, "%s: stored %zu", name, i);
        CHECK(s1 == s2 && !memcmp(b1, b2, s1), "%s: latent %zu copied bit for bit", name, i);
        raiiaf_free(b1);
        raiiaf_free(b2);
    }
    json_object *m1 = model_info(src), *m2 = model_info(back);
    CHECK(json_object_equal(m1, m2), "%s: model_info kept", name);
    json_object_put(m1);
    json_object_put(m2);
    const char *e1, *e2;
    size_t es1, es2;
    raiiaf_get_env_json(src, &e1, &es1);
    raiiaf_get_env_json(back, &e2, &es2);
    CHECK(es1 == es2 && !memcmp(e1, e2, es1), "%s: generation environment kept", name);
    const char *hist = raiiaf_find_text(back, "edit-history");
    CHECK(hist && strstr(hist, "raiiaf-test 1.0 re-encoded"), "%s: edit history %s", name,
          hist ? hist : "(none)");
    const char *mj;
    raiiaf_get_manifest_json(back, &mj, NULL);
    CHECK(strstr(mj, "\"image_matches_latents\": false") != NULL, "%s: honest record", name);

    /* Re-encoding the latents (here: all raw) keeps their values. */
    raiiaf_writer *w2 = NULL;
    raiiaf_writer_new_from(back, &w2);
    raiiaf_writer_set_image_png(w2, png, png_size);
    CHECK(raiiaf_writer_set_latent_storage(w2, RAIIAF_STORAGE_RAW) == RAIIAF_OK, "%s: recode", name);
    void *out2;
    size_t out2_size;
    CHECK(raiiaf_writer_write_memory(w2, &out2, &out2_size) == RAIIAF_OK, "%s: write raw: %s", name,
          raiiaf_writer_message(w2));
    raiiaf_writer_free(w2);
    raiiaf_ctx *raw = open_mem(out2, out2_size);
    for (size_t i = 0; i < n1; i++) {
        raiiaf_latent_info a, b;
        void *va = decode_latent(src, i, &a), *vb = decode_latent(raw, i, &b);
        CHECK(b.storage == RAIIAF_STORAGE_RAW && a.decoded_size == b.decoded_size &&
                  !memcmp(va, vb, a.decoded_size),
              "%s: latent %zu recoded raw, same values", name, i);
        free(va);
        free(vb);
    }
    CHECK(strstr(raiiaf_find_text(raw, "edit-history"), "; ") == NULL,
          "%s: no history entry without software", name);
    raiiaf_ctx_free(raw);
    raiiaf_free(out2);
    raiiaf_ctx_free(back);
    raiiaf_free(out);
}

/* Write from pixels and arrays; the latents choose their own storage. */
static void rewrite_from_values(const char *name, raiiaf_ctx *src)
{
    raiiaf_image_info info;
    raiiaf_get_image_info(src, &info);
    size_t need;
    raiiaf_decoded_image_size(src, info.format, &need);
    void *px = malloc(need);
    raiiaf_decode_image(src, info.format, px, need);
    const void *icc;
    size_t icc_size;
    const char *icc_name;
    raiiaf_get_icc_profile(src, &icc, &icc_size, &icc_name);

    for (int storage = RAIIAF_STORAGE_AUTO; storage <= RAIIAF_STORAGE_ZFP; storage++) {
        raiiaf_writer *w = raiiaf_writer_new();
        raiiaf_pixels p = {.width = info.width, .height = info.height, .format = info.format,
                           .data = px, .icc = icc, .icc_size = icc_size, .icc_name = icc_name};
        p.gamma = info.gamma;
        p.has_srgb = info.srgb_intent >= 0;
        p.srgb_intent = info.srgb_intent;
        p.ppm_x = info.ppm_x;
        p.ppm_y = info.ppm_y;
        CHECK(raiiaf_writer_set_image_pixels(w, &p, 6) == RAIIAF_OK, "%s: pixels: %s", name,
              raiiaf_writer_message(w));
        size_t n;
        raiiaf_get_latent_count(src, &n);
        for (size_t i = 0; i < n; i++) {
            raiiaf_latent_info li;
            void *v = decode_latent(src, i, &li);
            CHECK(raiiaf_writer_add_latent(w, li.key, li.dtype, li.shape, li.ndim, v, li.decoded_size,
                                           storage) == RAIIAF_OK,
                  "%s: add latent %zu: %s", name, i, raiiaf_writer_message(w));
            free(v);
        }
        raiiaf_writer_set_text(w, "prompt", "a re-made file");
        void *out;
        size_t out_size;
        CHECK(raiiaf_writer_write_memory(w, &out, &out_size) == RAIIAF_OK, "%s: write: %s", name,
              raiiaf_writer_message(w));
        raiiaf_writer_free(w);
        raiiaf_ctx *back = open_mem(out, out_size);
        CHECK(raiiaf_verify(back) == RAIIAF_OK, "%s: verify: %s", name, raiiaf_ctx_message(back));
        raiiaf_image_info info2;
        raiiaf_get_image_info(back, &info2);
        CHECK(info2.width == info.width && info2.height == info.height && info2.format == info.format,
              "%s: image format kept (%d -> %d)", name, info.format, info2.format);
        CHECK(info2.has_icc == info.has_icc, "%s: ICC profile kept", name);
        CHECK(info2.srgb_intent == info.srgb_intent && info2.ppm_x == info.ppm_x &&
                  info2.ppm_y == info.ppm_y && (info.gamma == 0) == (info2.gamma == 0) &&
                  (info.gamma == 0 || fabs(info2.gamma - info.gamma) < 1e-5),
              "%s: sRGB %d->%d, gamma %g->%g, pHYs %u->%u kept", name, info.srgb_intent,
              info2.srgb_intent, info.gamma, info2.gamma, info.ppm_x, info2.ppm_x);
        void *px2 = malloc(need);
        CHECK(raiiaf_decode_image(back, info.format, px2, need) == RAIIAF_OK && !memcmp(px, px2, need),
              "%s: pixels kept", name);
        free(px2);
        for (size_t i = 0; i < n; i++) {
            raiiaf_latent_info a, b;
            void *va = decode_latent(src, i, &a), *vb = decode_latent(back, i, &b);
            CHECK(a.decoded_size == b.decoded_size && !memcmp(va, vb, a.decoded_size),
                  "%s: latent %zu bit-identical (storage %d)", name, i, storage);
            CHECK(storage == RAIIAF_STORAGE_AUTO ? b.stored_size <= b.decoded_size + 12
                                                 : b.storage == storage,
                  "%s: latent %zu storage %d, %llu bytes for %llu", name, i, storage,
                  (unsigned long long)b.stored_size, (unsigned long long)b.decoded_size);
            if (storage == RAIIAF_STORAGE_ZFP && a.dtype == RAIIAF_FLOAT32)
                /* size-1 dimensions dropped: about raw size, not 3.8 times */
                CHECK(b.stored_size < b.decoded_size * 11 / 10, "%s: zfp latent %zu is %llu bytes",
                      name, i, (unsigned long long)b.stored_size);
            free(va);
            free(vb);
        }
        CHECK(!strcmp(raiiaf_find_text(back, "prompt"), "a re-made file"), "%s: prompt set", name);
        CHECK(raiiaf_find_text(back, "env-libraiiaf") != NULL, "%s: our environment", name);
        raiiaf_ctx_free(back);
        raiiaf_free(out);
    }

    /* The same PNG re-compressed: same samples and colour information. */
    raiiaf_writer *w = raiiaf_writer_new();
    const void *png;
    size_t png_size;
    raiiaf_get_image_data(src, &png, &png_size);
    raiiaf_writer_set_image_png(w, png, png_size);
    CHECK(raiiaf_writer_recompress_image(w, 10) == RAIIAF_EINVAL, "%s: level 10 refused", name);
    CHECK(raiiaf_writer_recompress_image(w, 0) == RAIIAF_OK, "%s: recompress: %s", name,
          raiiaf_writer_message(w));
    void *out;
    size_t out_size;
    raiiaf_writer_write_memory(w, &out, &out_size);
    raiiaf_writer_free(w);
    raiiaf_ctx *back = open_mem(out, out_size);
    raiiaf_image_info info2;
    raiiaf_get_image_info(back, &info2);
    CHECK(info2.format == info.format && info2.has_icc == info.has_icc &&
              info2.srgb_intent == info.srgb_intent && info2.ppm_x == info.ppm_x &&
              (info.gamma == 0) == (info2.gamma == 0) && info2.image_size != info.image_size,
          "%s: recompressed PNG keeps its format and colour chunks (%llu -> %llu bytes)", name,
          (unsigned long long)info.image_size, (unsigned long long)info2.image_size);
    void *px2 = malloc(need);
    CHECK(raiiaf_decode_image(back, info.format, px2, need) == RAIIAF_OK && !memcmp(px, px2, need),
          "%s: recompressed pixels kept", name);
    free(px2);
    raiiaf_ctx_free(back);
    raiiaf_free(out);
    free(px);
}

static void writer_refusals(void)
{
    raiiaf_writer *w = raiiaf_writer_new();
    uint64_t shape4[4] = {1, 1, 2, 2}, shape3[3] = {1, 2, 2};
    float v[4] = {0, 1, 2, 3};
    CHECK(raiiaf_writer_add_latent(w, "x", RAIIAF_FLOAT32, shape3, 3, v, sizeof v, 0) == RAIIAF_EVALUE,
          "3 dimensions refused");
    v[2] = NAN;
    CHECK(raiiaf_writer_add_latent(w, "x", RAIIAF_FLOAT32, shape4, 4, v, sizeof v, 0) == RAIIAF_EVALUE,
          "NaN refused");
    v[2] = INFINITY;
    CHECK(raiiaf_writer_add_latent(w, "x", RAIIAF_FLOAT32, shape4, 4, v, sizeof v, 0) == RAIIAF_EVALUE,
          "Inf refused");
    CHECK(raiiaf_writer_add_latent(w, "x", RAIIAF_FLOAT32, shape4, 4, v, 8, 0) == RAIIAF_EINVAL,
          "size mismatch refused");
    /* float16 (exponent bits 0x7c00 all set: Inf or NaN), the first one
     * named wherever it is among 1x1x3x1029 values, the last ones included */
    static uint16_t h[3 * 1029];
    uint64_t shape_h[4] = {1, 1, 3, 1029};
    const size_t where[] = {0, 1023, 1024, 2047, 3086};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        memset(h, 0, sizeof h);
        h[where[i]] = i % 2 ? 0x7c00 : 0xfe01;
        h[3086] = 0x7c01;
        char named[48];
        snprintf(named, sizeof named, "element %zu is NaN", where[i]);
        CHECK(raiiaf_writer_add_latent(w, "h", RAIIAF_FLOAT16, shape_h, 4, h, sizeof h, 0) ==
                      RAIIAF_EVALUE && strstr(raiiaf_writer_message(w), named),
              "float16 Inf/NaN at %zu: %s", where[i], raiiaf_writer_message(w));
    }
    memset(h, 0, sizeof h);
    h[5] = 0x7bff; /* the largest finite float16 */
    CHECK(raiiaf_writer_add_latent(w, "h", RAIIAF_FLOAT16, shape_h, 4, h, sizeof h, 0) == RAIIAF_OK,
          "finite float16 kept: %s", raiiaf_writer_message(w));
    CHECK(raiiaf_writer_clear_latents(w) == RAIIAF_OK, "cleared");
    void *out;
    size_t size;
    CHECK(raiiaf_writer_write_memory(w, &out, &size) == RAIIAF_EINVAL, "no image refused");
    static const uint8_t not_png[] = "GIF89a....";
    CHECK(raiiaf_writer_set_image_png(w, not_png, sizeof not_png) == RAIIAF_ENOTPNG, "not PNG refused");
    uint8_t px[4] = {1, 2, 3, 4};
    raiiaf_pixels p = {.width = 2, .height = 2, .format = RAIIAF_FMT_G8, .data = px};
    CHECK(raiiaf_writer_set_image_pixels(w, &p, 9) == RAIIAF_OK, "tiny image");
    raiiaf_writer_set_text(w, "seed", "42");
    CHECK(raiiaf_writer_write_memory(w, &out, &size) == RAIIAF_EVALUE &&
              strstr(raiiaf_writer_message(w), "steps"),
          "partial generation settings refused: %s", raiiaf_writer_message(w));
    raiiaf_writer_set_text(w, "steps", "20");
    raiiaf_writer_set_text(w, "sampler", "euler");
    raiiaf_writer_set_text(w, "seed", "-1");
    CHECK(raiiaf_writer_write_memory(w, &out, &size) == RAIIAF_EVALUE, "negative seed refused");
    raiiaf_writer_set_text(w, "seed", "7");
    raiiaf_writer_set_text(w, "cfg-scale", "7.5");
    raiiaf_writer_set_text(w, "tags", " a, b ,,c ");
    CHECK(raiiaf_writer_write_memory(w, &out, &size) == RAIIAF_OK, "complete settings: %s",
          raiiaf_writer_message(w));
    raiiaf_ctx *ctx = open_mem(out, size);
    CHECK(!strcmp(raiiaf_find_text(ctx, "seed"), "7") && !strcmp(raiiaf_find_text(ctx, "cfg-scale"), "7.5") &&
              !strcmp(raiiaf_find_text(ctx, "tags"), "a, b, c"),
          "settings typed and read back");
    const char *mj;
    raiiaf_get_manifest_json(ctx, &mj, NULL);
    CHECK(strstr(mj, "\"seed\": 7,") && strstr(mj, "\"cfg_scale\": 7.5") && !strstr(mj, "hardware_info"),
          "settings stored as numbers; no empty hardware_info");
    raiiaf_ctx_free(ctx);
    raiiaf_free(out);
    raiiaf_writer_free(w);
}

static int count_temp_files(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    char prefix[256];
    snprintf(prefix, sizeof prefix, ".%s.", base);
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return n;
}

static void atomic_save(const char *fixture_path)
{
    char dir[] = "/tmp/raiiaf-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[512];
    snprintf(path, sizeof path, "%s/out.raiiaf", dir);
    tl_bytes good = tl_read_file(fixture_path);
    tl_write_file(path, good.data, good.size);

    raiiaf_writer *w = raiiaf_writer_new(); /* no image: the build fails */
    CHECK(raiiaf_writer_write_file(w, path) == RAIIAF_EINVAL, "failing save reports");
    tl_bytes after = tl_read_file(path);
    CHECK(after.size == good.size && !memcmp(after.data, good.data, good.size),
          "a failed save leaves the old file untouched");
    free(after.data);

    raiiaf_ctx *ctx = raiiaf_ctx_new();
    raiiaf_open_memory(ctx, good.data, good.size);
    raiiaf_writer_free(w);
    raiiaf_writer_new_from(ctx, &w);
    const void *png;
    size_t png_size;
    raiiaf_get_image_data(ctx, &png, &png_size);
    raiiaf_writer_set_image_png(w, png, png_size);
    CHECK(raiiaf_writer_write_file(w, path) == RAIIAF_OK, "save: %s", raiiaf_writer_message(w));
    CHECK(count_temp_files(dir, "out.raiiaf") == 0, "no temporary file left");
    raiiaf_ctx *back = raiiaf_ctx_new();
    CHECK(raiiaf_open_file(back, path) == RAIIAF_OK && raiiaf_verify(back) == RAIIAF_OK,
          "saved file opens: %s", raiiaf_ctx_message(back));
    raiiaf_ctx_free(back);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.raiiaf", dir);
    CHECK(raiiaf_writer_write_file(w, missing) == RAIIAF_EIO, "unwritable folder: %s",
          raiiaf_writer_message(w));
    raiiaf_writer_free(w);
    raiiaf_ctx_free(ctx);
    free(good.data);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR NAME...\n", argv[0]);
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[a]);
        raiiaf_ctx *ctx = raiiaf_ctx_new();
        CHECK(raiiaf_open_file(ctx, path) == RAIIAF_OK, "%s: %s", argv[a], raiiaf_ctx_message(ctx));
        rewrite_kept(argv[a], ctx);
        rewrite_from_values(argv[a], ctx);
        raiiaf_ctx_free(ctx);
    }
    writer_refusals();
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[2]);
    atomic_save(path);
    return tl_finish();
}
