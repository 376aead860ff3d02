/* The limits of the .raiiaf fuzz targets: tight, as the fuzzer looks for
 * bugs, not for big allocations. */
#ifndef RAIIAF_FUZZ_LIMITS_H
#define RAIIAF_FUZZ_LIMITS_H

#include "raiiaf.h"

static inline void fuzz_limits(raiiaf_limits *limits)
{
    raiiaf_limits_default(limits);
    limits->max_image_pixels = 1u << 22;
    limits->max_image_size = 64u << 20;
    limits->max_latent_size = 16u << 20;
    limits->max_total_latent_size = 32u << 20;
    limits->max_json_size = 1u << 20;
}

#endif
