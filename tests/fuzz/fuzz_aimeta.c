/* libFuzzer target: the AI tools' PNG text layouts (core/src/aimeta.c).
 * An input starting with the PNG signature is a PNG whose text chunks
 * are imported as `raiiaf pack` does; anything else is keyword/text pairs
 * separated by NUL bytes, imported as a host's texts (ImageMagick's
 * properties). Whatever is imported must make a file that writes, opens
 * again and gives its recorded texts back. With -Dfuzzing=false it builds
 * as a replayer (fuzz_main.c) over the corpus. */
#include "raiiaf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 1x1 grey PNG for the texts of the second form. */
static const uint8_t tiny_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
    0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

static void reopen(raiiaf_writer *w)
{
    void *file;
    size_t file_size;
    if (raiiaf_writer_write_memory(w, &file, &file_size) != RAIIAF_OK)
        return;
    raiiaf_limits limits; /* what every writer promises: the defaults */
    raiiaf_limits_default(&limits);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    if (ctx && raiiaf_ctx_set_limits(ctx, &limits) == RAIIAF_OK &&
        raiiaf_open_memory(ctx, file, file_size) == RAIIAF_OK) {
        raiiaf_png_metadata *meta = NULL;
        if (raiiaf_get_source_texts(ctx, &meta) == RAIIAF_OK)
            raiiaf_free(meta);
        (void)raiiaf_get_source_tool(ctx);
        const char *params;
        raiiaf_get_parameters_text(ctx, &params);
    } else if (ctx) {
        /* the writer made a file its own reader refuses */
        fprintf(stderr, "written file refused: %s\n", raiiaf_ctx_message(ctx));
        abort();
    }
    raiiaf_ctx_free(ctx);
    raiiaf_free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raiiaf_writer *w = raiiaf_writer_new();
    if (!w)
        return 0;
    if (size >= 8 && !memcmp(data, tiny_png, 8)) {
        if (raiiaf_writer_set_image_png(w, data, size) == RAIIAF_OK &&
            raiiaf_writer_import_png_text(w) == RAIIAF_OK)
            reopen(w);
        raiiaf_writer_free(w);
        return 0;
    }
    /* keyword \0 text \0 keyword \0 text ... */
    char *copy = malloc(size + 1);
    raiiaf_png_text texts[16];
    size_t n = 0;
    if (copy) {
        memcpy(copy, data, size);
        copy[size] = 0;
        char *p = copy, *end = copy + size;
        while (p < end && n < 16) {
            char *kw = p;
            p += strlen(p) + 1;
            if (p > end)
                break;
            char *text = p;
            p += strlen(p) + 1;
            memset(&texts[n], 0, sizeof texts[n]);
            texts[n].keyword = kw;
            texts[n].text = text;
            texts[n].size = strlen(text);
            texts[n].international = (n & 1) != 0;
            n++;
        }
    }
    if (raiiaf_writer_set_image_png(w, tiny_png, sizeof tiny_png) == RAIIAF_OK &&
        raiiaf_writer_import_texts(w, texts, n) == RAIIAF_OK)
        reopen(w);
    free(copy);
    raiiaf_writer_free(w);
    return 0;
}
