/* libFuzzer target: a PNG (the bytes of a .raiiaf's image chunk) decoded by
 * the library's two decoders, libpng and libdeflate (core/src/pngfast.c),
 * in several pixel formats: where the libdeflate path takes the image, it
 * must give what libpng gives, byte for byte; where it declines, libpng
 * decides. Linked with the library's objects (rf_png_decode_how is
 * internal). With -Dfuzzing=false a replayer of its corpus (the PngSuite,
 * tests/pngsuite). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raiiaf_limits limits = rf_default_limits;
    limits.max_image_pixels = 1u << 20;
    rf_png_in in = {.data = data, .size = size};
    raiiaf_image_info info;
    rf_msg msg = {{0}};
    if (rf_png_info(&in, &limits, &info, NULL, NULL, NULL, &msg) != RAIIAF_OK)
        return 0;
    const int formats[] = {info.format, RAIIAF_FMT_RGBA8, RAIIAF_FMT_RGBA16, RAIIAF_FMT_INDEX8,
                           RAIIAF_FMT_G8};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        size_t need = (size_t)info.width * info.height * raiiaf_format_pixel_size(formats[i]);
        uint8_t *a = malloc(need), *b = malloc(need);
        if (a && b) {
            int ra = rf_png_decode_how(&in, &limits, formats[i], a, need, RF_PNG_LIBPNG, &msg);
            int rb = rf_png_decode_how(&in, &limits, formats[i], b, need, RF_PNG_FAST, &msg);
            int rc = rf_png_decode_how(&in, &limits, formats[i], NULL, 0, RF_PNG_FAST, &msg);
            if (rb != RAIIAF_EUNSUPPORTED && (rb != ra || rc != rb || (!rb && memcmp(a, b, need)))) {
                fprintf(stderr, "fuzz-png: format %d: libpng %d, libdeflate %d (check %d)%s\n",
                        formats[i], ra, rb, rc, !rb && !ra ? ", pixels differ" : "");
                abort();
            }
        }
        free(a);
        free(b);
    }
    return 0;
}
