/* libFuzzer target: everything a host does with an untrusted file. With
 * -Dfuzzing=false it builds as a replayer (fuzz_main.c) over files given on
 * the command line, so the corpus runs as an ordinary test. */
#include "fuzz_limits.h"
#include "raiiaf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raiiaf_limits limits;
    fuzz_limits(&limits);

    raiiaf_ctx *ctx = raiiaf_ctx_new();
    if (!ctx)
        return 0;
    raiiaf_ctx_set_limits(ctx, &limits);
    if (raiiaf_open_memory(ctx, data, size) != RAIIAF_OK) {
        (void)raiiaf_ctx_message(ctx);
        raiiaf_ctx_free(ctx);
        return 0;
    }
    raiiaf_header h;
    raiiaf_get_header(ctx, &h);
    size_t count = 0;
    raiiaf_get_text_count(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        const char *k, *v;
        raiiaf_get_text(ctx, i, &k, &v);
    }
    const char *params;
    raiiaf_get_parameters_text(ctx, &params);

    raiiaf_image_info info;
    if (raiiaf_get_image_info(ctx, &info) == RAIIAF_OK) {
        size_t need;
        if (raiiaf_decoded_image_size(ctx, info.format, &need) == RAIIAF_OK) {
            void *px = malloc(need);
            if (px)
                raiiaf_decode_image(ctx, info.format, px, need);
            free(px);
        }
        const void *icc;
        size_t icc_size;
        raiiaf_get_icc_profile(ctx, &icc, &icc_size, NULL);
        /* row by row, in another format */
        if (raiiaf_decode_rows_begin(ctx, RAIIAF_FMT_RGBA16) == RAIIAF_OK) {
            size_t row_size = (size_t)info.width * 8;
            void *row = malloc(row_size);
            for (uint32_t y = 0; row && y < info.height; y++)
                if (raiiaf_decode_row(ctx, row, row_size) != RAIIAF_OK)
                    break;
            free(row);
        }
    }

    size_t n = 0;
    raiiaf_get_latent_count(ctx, &n);
    raiiaf_writer *w = raiiaf_writer_new();
    for (size_t i = 0; i < n; i++) {
        raiiaf_latent_info li;
        if (raiiaf_get_latent_info(ctx, i, &li) != RAIIAF_OK)
            continue;
        void *buf = malloc(li.decoded_size ? li.decoded_size : 1);
        if (buf)
            raiiaf_decode_latent(ctx, i, buf, li.decoded_size);
        free(buf);
        void *blob;
        size_t blob_size;
        if (raiiaf_get_latent_stored(ctx, i, &blob, &blob_size) == RAIIAF_OK) {
            raiiaf_writer_add_latent_stored(w, blob, blob_size);
            raiiaf_free(blob);
        }
    }
    raiiaf_writer_free(w);

    /* Re-write what was read: the writer must cope with whatever the
     * reader accepted. */
    if (raiiaf_verify(ctx) == RAIIAF_OK) {
        raiiaf_writer *rw = NULL;
        const void *png;
        size_t png_size;
        if (raiiaf_writer_new_from(ctx, &rw) == RAIIAF_OK &&
            raiiaf_get_image_data(ctx, &png, &png_size) == RAIIAF_OK &&
            raiiaf_writer_set_image_png(rw, png, png_size) == RAIIAF_OK) {
            void *out;
            size_t out_size;
            if (raiiaf_writer_write_memory(rw, &out, &out_size) == RAIIAF_OK) {
                raiiaf_ctx *back = raiiaf_ctx_new();
                if (raiiaf_open_memory(back, out, out_size) != RAIIAF_OK ||
                    raiiaf_verify(back) != RAIIAF_OK)
                    abort(); /* we wrote a file we cannot read */
                raiiaf_ctx_free(back);
                raiiaf_free(out);
            }
        }
        raiiaf_writer_free(rw);
    }
    raiiaf_ctx_free(ctx);
    return 0;
}
