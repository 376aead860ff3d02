/* libFuzzer target: whatever opens must export and reopen. A file that
 * opens and verifies is re-written as a host does (raiiaf_writer_new_from,
 * the same PNG); when the writer accepts it, the new file must open and
 * verify, with the same latents, keys and stored bytes, and the same
 * metadata text. A refusal must say why. Replays its corpus as a test
 * without libFuzzer. */
#include "fuzz_limits.h"
#include "raiiaf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static raiiaf_ctx *open_small(const void *data, size_t size)
{
    raiiaf_limits limits;
    fuzz_limits(&limits);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    if (!ctx)
        return NULL;
    raiiaf_ctx_set_limits(ctx, &limits);
    if (raiiaf_open_memory(ctx, data, size) != RAIIAF_OK || raiiaf_verify(ctx) != RAIIAF_OK) {
        if (!*raiiaf_ctx_message(ctx))
            abort(); /* a failure without a message */
        raiiaf_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static void same_latents(raiiaf_ctx *a, raiiaf_ctx *b)
{
    size_t n = 0, m = 0;
    raiiaf_get_latent_count(a, &n);
    raiiaf_get_latent_count(b, &m);
    if (n != m)
        abort(); /* latents lost or added */
    for (size_t i = 0; i < n; i++) {
        raiiaf_latent_info x, y;
        if (raiiaf_get_latent_info(a, i, &x) || raiiaf_get_latent_info(b, i, &y) ||
            strcmp(x.key, y.key) || x.dtype != y.dtype || x.ndim != y.ndim ||
            memcmp(x.shape, y.shape, sizeof x.shape))
            abort(); /* reordered or changed */
        void *p = NULL, *q = NULL;
        size_t ps = 0, qs = 0;
        if (raiiaf_get_latent_stored(a, i, &p, &ps) || raiiaf_get_latent_stored(b, i, &q, &qs))
            abort();
        /* The stored blob holds the record without offset and index: the
         * chunk's bytes at its end are the same. */
        raiiaf_latent_info li;
        raiiaf_get_latent_info(a, i, &li);
        if (li.stored_size > ps || li.stored_size > qs ||
            memcmp((char *)p + ps - li.stored_size, (char *)q + qs - li.stored_size, li.stored_size))
            abort();
        raiiaf_free(p);
        raiiaf_free(q);
    }
}

static void same_text(raiiaf_ctx *a, raiiaf_ctx *b, const char *key)
{
    const char *x = raiiaf_find_text(a, key), *y = raiiaf_find_text(b, key);
    if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
        abort(); /* metadata lost */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raiiaf_ctx *ctx = open_small(data, size);
    if (!ctx)
        return 0;
    raiiaf_writer *w = NULL;
    const void *png;
    size_t png_size;
    if (raiiaf_writer_new_from(ctx, &w) != RAIIAF_OK) {
        if (!*raiiaf_ctx_message(ctx))
            abort();
    } else if (raiiaf_get_image_data(ctx, &png, &png_size) == RAIIAF_OK &&
               raiiaf_writer_set_image_png(w, png, png_size) == RAIIAF_OK) {
        raiiaf_writer_set_software(w, "fuzz", "1", "re-encoded");
        void *out;
        size_t out_size;
        if (raiiaf_writer_write_memory(w, &out, &out_size) != RAIIAF_OK) {
            if (!*raiiaf_writer_message(w))
                abort(); /* a refusal without a reason */
        } else {
            raiiaf_ctx *back = open_small(out, out_size);
            if (!back)
                abort(); /* we wrote a file we cannot read */
            same_latents(ctx, back);
            static const char *const keys[] = {"model", "model-version", "prompt",
                                               "negative-prompt", "tags", "seed", "steps"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                same_text(ctx, back, keys[i]);
            raiiaf_ctx_free(back);
            raiiaf_free(out);
        }
    }
    raiiaf_writer_free(w);
    raiiaf_ctx_free(ctx);
    return 0;
}
