/* Files crafted to cost or to slip through (tests/core/craft.c): each is
 * refused with its named error, or read in full, and what a reader refuses
 * no writer makes. Figures of time and memory are bench/hostile.sh's; no
 * test here is timed. */
#include "craft.h"
#include "raiiaf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int open_verify(const tl_bytes *b, raiiaf_ctx **out)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = raiiaf_open_memory(ctx, b->data, b->size);
    if (!err)
        err = raiiaf_verify(ctx);
    *out = ctx;
    return err;
}

/* Issue: a parameters text built by a linear search per key. */
static void many_settings(const tl_bytes *good)
{
    const size_t count = 100000;
    tl_bytes b = craft_many_settings(good, count);
    raiiaf_ctx *ctx;
    int err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_OK, "100,000 settings: %s", raiiaf_ctx_message(ctx));
    size_t n = 0;
    CHECK(raiiaf_get_text_count(ctx, &n) == RAIIAF_OK && n > count, "%zu texts", n);
    const char *text = NULL;
    CHECK(raiiaf_get_parameters_text(ctx, &text) == RAIIAF_OK && text, "parameters text");
    size_t found = 0;
    for (const char *p = text ? text : ""; (p = strstr(p, ", Key ")); p++)
        found++;
    CHECK(found == count, "every setting in the parameters text: %zu of %zu", found, count);
    CHECK(text && strstr(text, "Key 99999: 99999") && strstr(text, "Seed: 42"), "values kept");
    const char *v = raiiaf_find_text(ctx, "key-31337");
    CHECK(v && !strcmp(v, "31337"), "find_text among 100,000 keys: %s", v ? v : "(none)");
    CHECK(raiiaf_find_text(ctx, "key-100000") == NULL, "no such key");
    raiiaf_ctx_free(ctx);
    free(b.data);
}

/* Latents the reference cannot have written: refused on read. */
static void strict_latents(const tl_bytes *good)
{
    uint64_t shape8[8] = {1, 1, 1, 1, 1, 4, 64, 64};
    tl_bytes b = craft_latent_shape(good, 0, shape8, 8);
    raiiaf_ctx *ctx;
    int err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_ERECORD && strstr(raiiaf_ctx_message(ctx), "8 dimensions"),
          "8 dimensions: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(b.data);

    uint64_t shape3[3] = {4, 64, 64}; /* fewer is what a host may make of 4 */
    b = craft_latent_shape(good, 0, shape3, 3);
    err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_OK, "3 dimensions still read: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(b.data);

    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        b = craft_latent_value(good, 1, 100 + i, bad[i]);
        err = open_verify(&b, &ctx);
        CHECK(err == RAIIAF_EVALUE && strstr(raiiaf_ctx_message(ctx), "NaN or infinite") &&
                  strstr(raiiaf_ctx_message(ctx), "element"),
              "%g in a latent: %s", bad[i], raiiaf_ctx_message(ctx));
        /* The picture stays readable: only the latent is refused. */
        raiiaf_image_info info;
        CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK, "image of a NaN file");
        void *blob;
        size_t size;
        CHECK(raiiaf_get_latent_stored(ctx, 1, &blob, &size) == RAIIAF_EVALUE,
              "a NaN latent is not handed on for export");
        raiiaf_ctx_free(ctx);
        free(b.data);
    }
    /* The first bad element is named wherever it is: first, at the edges
     * of the blocks the check goes by, last (16384 elements). */
    const size_t where[] = {0, 1023, 1024, 4095, 4096, 16383};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        b = craft_latent_value(good, 1, where[i], i % 2 ? -INFINITY : NAN);
        if (where[i] != 16383) { /* a second bad one after the first */
            tl_bytes twice = craft_latent_value(&b, 1, 16383, NAN);
            free(b.data);
            b = twice;
        }
        err = open_verify(&b, &ctx);
        char named[64];
        snprintf(named, sizeof named, "element %zu is NaN or infinite", where[i]);
        CHECK(err == RAIIAF_EVALUE && strstr(raiiaf_ctx_message(ctx), named),
              "bad element %zu: %s", where[i], raiiaf_ctx_message(ctx));
        raiiaf_ctx_free(ctx);
        free(b.data);
    }
    b = craft_latent_value(good, 1, 100, 1.5f); /* the crafting itself is right */
    err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_OK, "a finite change: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(b.data);
}

static void duplicate_keys(const tl_bytes *good)
{
    tl_bytes b = craft_duplicate_keys(good);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = raiiaf_open_memory(ctx, b.data, b.size);
    CHECK(err == RAIIAF_EDUPLICATE && strstr(raiiaf_ctx_message(ctx), "the key of chunk 0"),
          "duplicate keys: %s (%s)", raiiaf_strerror(err), raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(b.data);
}

/* A PNG broken under a true hash: verify decodes the pixels. */
static void broken_pixels(const tl_bytes *good)
{
    tl_bytes b = craft_broken_pixels(good);
    raiiaf_ctx *ctx;
    int err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_EPNG, "verify of broken pixels: %s (%s)", raiiaf_strerror(err),
          raiiaf_ctx_message(ctx));
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK, "its header still reads");
    size_t need;
    raiiaf_decoded_image_size(ctx, info.format, &need);
    void *px = malloc(need);
    CHECK(raiiaf_decode_image(ctx, info.format, px, need) == RAIIAF_EPNG,
          "decoding fails as verify said");
    free(px);
    raiiaf_ctx_free(ctx);
    free(b.data);
}

static void *decode_all(raiiaf_ctx *ctx, int format, size_t *size)
{
    void *px = NULL;
    if (raiiaf_decoded_image_size(ctx, format, size) == RAIIAF_OK && (px = malloc(*size)) &&
        raiiaf_decode_image(ctx, format, px, *size) != RAIIAF_OK) {
        free(px);
        px = NULL;
    }
    return px;
}

/* A small image chunk that inflates to 24 MiB (the PNG, then zeros): read
 * through a stream, never held whole, with the same pixels. */
static void inflation(const tl_bytes *good)
{
    tl_bytes png = craft_png_of(good);
    tl_bytes b = craft_image(good, png.data, png.size, 24u << 20);
    CHECK(b.size < good->size + 64 * 1024, "the crafted file is small: %zu bytes", b.size);
    raiiaf_ctx *ref = raiiaf_ctx_new(), *ctx;
    raiiaf_open_memory(ref, good->data, good->size);
    int err = open_verify(&b, &ctx);
    CHECK(err == RAIIAF_OK, "verify of a 24 MiB image chunk: %s", raiiaf_ctx_message(ctx));
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK && info.image_size == png.size + (24u << 20),
          "info: %s", raiiaf_ctx_message(ctx));
    raiiaf_png_colour colour;
    CHECK(raiiaf_get_png_colour(ctx, &colour) == RAIIAF_OK, "colour: %s", raiiaf_ctx_message(ctx));
    size_t n1 = 0, n2 = 0;
    void *a = decode_all(ref, RAIIAF_FMT_RGBA8, &n1), *c = decode_all(ctx, RAIIAF_FMT_RGBA8, &n2);
    CHECK(a && c && n1 == n2 && !memcmp(a, c, n1), "the same pixels: %s", raiiaf_ctx_message(ctx));
    /* Row by row, from the stream. */
    size_t stride = (size_t)info.width * 4;
    uint8_t *row = malloc(stride);
    bool same = raiiaf_decode_rows_begin(ctx, RAIIAF_FMT_RGBA8) == RAIIAF_OK;
    for (uint32_t y = 0; same && y < info.height; y++)
        same = raiiaf_decode_row(ctx, row, stride) == RAIIAF_OK && a &&
               !memcmp(row, (uint8_t *)a + y * stride, stride);
    CHECK(same, "rows from the stream: %s", raiiaf_ctx_message(ctx));
    const void *data;
    size_t size;
    CHECK(raiiaf_get_image_data(ctx, &data, &size) == RAIIAF_OK && size == png.size + (24u << 20) &&
              !memcmp(data, png.data, png.size),
          "the bytes, when asked for: %s", raiiaf_ctx_message(ctx));
    free(row);
    free(a);
    free(c);
    raiiaf_ctx_free(ctx);
    raiiaf_ctx_free(ref);

    /* The same with one zero too many: the hash (checked first) fails. */
    json_object *m = tl_manifest(&b);
    tl_bytes other = craft_image(good, png.data, png.size, (24u << 20) + 1);
    json_object *m2 = tl_manifest(&other);
    json_object *chunks = json_object_object_get(json_object_object_get(m2, "raiiaf_metadata"), "chunks");
    json_object *chunks1 = json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "chunks");
    size_t last = json_object_array_length(chunks) - 2; /* DATA, before ENVC */
    json_object_object_add(json_object_array_get_idx(chunks, last), "hash",
                           json_object_get(json_object_object_get(json_object_array_get_idx(chunks1, last), "hash")));
    tl_bytes lying = tl_with_manifest(&other, m2);
    ctx = raiiaf_ctx_new();
    raiiaf_open_memory(ctx, lying.data, lying.size);
    err = raiiaf_get_image_info(ctx, &info);
    CHECK(err == RAIIAF_EHASH, "a streamed chunk's hash is checked: %s", raiiaf_ctx_message(ctx));
    CHECK(raiiaf_decode_rows_begin(ctx, RAIIAF_FMT_RGBA8) == RAIIAF_EHASH, "no rows of it");
    raiiaf_ctx_free(ctx);
    json_object_put(m);
    json_object_put(m2);
    free(lying.data);
    free(other.data);
    free(png.data);
    free(b.data);
}

/* Each host its own pixel limit. */
static void pixel_limit(const tl_bytes *good)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    raiiaf_open_memory(ctx, good->data, good->size);
    CHECK(raiiaf_ctx_set_pixel_limit(ctx, 1000) == RAIIAF_OK, "a limit after opening");
    raiiaf_image_info info;
    int err = raiiaf_get_image_info(ctx, &info);
    CHECK(err == RAIIAF_ELIMIT && strstr(raiiaf_ctx_message(ctx), "exceed the limit of 1000"),
          "over the host's limit: %s", raiiaf_ctx_message(ctx));
    CHECK(raiiaf_ctx_set_pixel_limit(ctx, 0) == RAIIAF_EBADSTATE, "not once the image is read");
    raiiaf_ctx_free(ctx);
    ctx = raiiaf_ctx_new();
    CHECK(raiiaf_ctx_set_pixel_limit(ctx, 1000) == RAIIAF_OK, "a limit before opening");
    CHECK(raiiaf_ctx_set_pixel_limit(ctx, 0) == RAIIAF_OK, "back to the default");
    raiiaf_open_memory(ctx, good->data, good->size);
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK, "the default: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
}

/* What readers refuse, writers do not write. */
static void writer_limits(const tl_bytes *good)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    raiiaf_open_memory(ctx, good->data, good->size);
    raiiaf_writer *w = NULL;
    CHECK(raiiaf_writer_new_from(ctx, &w) == RAIIAF_OK, "writer");
    const void *png;
    size_t png_size;
    raiiaf_get_image_data(ctx, &png, &png_size);
    raiiaf_writer_set_image_png(w, png, png_size);
    size_t big = 9u << 20;
    char *prompt = malloc(big + 1);
    memset(prompt, 'a', big);
    prompt[big] = 0;
    raiiaf_writer_set_text(w, "prompt", prompt);
    void *out = NULL;
    size_t size;
    int err = raiiaf_writer_write_memory(w, &out, &size);
    CHECK(err == RAIIAF_ELIMIT && strstr(raiiaf_writer_message(w), "the manifest") &&
              strstr(raiiaf_writer_message(w), "readers refuse"),
          "a 9 MiB manifest: %s", raiiaf_writer_message(w));
    raiiaf_writer_set_text(w, "prompt", "short");
    CHECK(raiiaf_writer_write_memory(w, &out, &size) == RAIIAF_OK, "then short: %s",
          raiiaf_writer_message(w));
    raiiaf_free(out);
    /* An environment a reader refuses. */
    memcpy(prompt, "{\"a\": \"", 7);
    memcpy(prompt + big - 2, "\"}", 2);
    err = raiiaf_writer_set_env_json(w, prompt, big);
    if (err == RAIIAF_OK)
        err = raiiaf_writer_write_memory(w, &out, &size);
    /* Refused when given (the JSON parser's own byte limit) or when built. */
    CHECK((err == RAIIAF_ELIMIT || err == RAIIAF_EMANIFEST) &&
              strstr(raiiaf_writer_message(w), "environment"),
          "a 9 MiB environment: %s", raiiaf_writer_message(w));
    free(prompt);
    raiiaf_writer_free(w);
    raiiaf_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[2]); /* two raw latents */
    tl_bytes good = tl_read_file(path);
    many_settings(&good);
    strict_latents(&good);
    duplicate_keys(&good);
    broken_pixels(&good);
    inflation(&good);
    pixel_limit(&good);
    writer_limits(&good);
    free(good.data);
    return tl_finish();
}
