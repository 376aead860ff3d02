/* Hostile .raiiaf files made from a good one: every size, offset and hash
 * stays true, so that only the intended lie remains. Used by the tests
 * (tests/core/test_hostile.c) and by the benchmark's generator
 * (tests/core/raiiaf-craft.c). */
#ifndef RAIIAF_CRAFT_H
#define RAIIAF_CRAFT_H

#include "testlib.h"

#include <png.h>

/* A libpng writer's output into a growing buffer (out->data realloc'd). */
typedef struct craft_png_out {
    uint8_t *data;
    size_t size, cap;
} craft_png_out;
void craft_png_to_memory(png_structp png, craft_png_out *out);

/* generation_settings with `count` keys besides seed, steps and sampler:
 * "key_0": 0, "key_1": 1, ... */
tl_bytes craft_many_settings(const tl_bytes *good, size_t count);
/* Latent record `index` (a raw float32 one) claims `shape` (same element
 * count as before). */
tl_bytes craft_latent_shape(const tl_bytes *good, size_t index, const uint64_t *shape,
                            unsigned ndim);
/* Element `element` of raw float32 latent record `index` set to `value`,
 * its hash recomputed. */
tl_bytes craft_latent_value(const tl_bytes *good, size_t index, size_t element, float value);
/* The second latent record takes the first one's key. */
tl_bytes craft_duplicate_keys(const tl_bytes *good);
/* The embedded PNG with bytes of its first IDAT's deflate stream broken,
 * the chunk's CRC and the payload's hash true. */
tl_bytes craft_broken_pixels(const tl_bytes *good);
/* The image chunk replaced by `png` followed by `zeros` zero bytes,
 * compressed as one zstd frame in pieces (a small file that inflates to a
 * large payload). */
tl_bytes craft_image(const tl_bytes *good, const void *png, size_t png_size, uint64_t zeros);
/* The embedded PNG, decompressed. */
tl_bytes craft_png_of(const tl_bytes *good);

#endif
