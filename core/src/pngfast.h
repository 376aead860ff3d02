/* The embedded PNG's pixels decoded with libdeflate (pngfast.c): the IDAT
 * stream inflated whole into its known size, then unfiltered and converted
 * row by row to the output format, giving the bytes libpng gives with the
 * conversions image.c asks of it. It covers non-interlaced images held in
 * memory, every colour type and bit depth, every output format but colour
 * to grey; for anything else, and for anything a PNG does that it does not
 * expect (a CRC that does not match, a chunk out of place, a zlib stream
 * that is not exactly the image, ...), it answers RAIIAF_EUNSUPPORTED and
 * libpng reads the image as before, with its own checks and messages.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RAIIAF_PNGFAST_H
#define RAIIAF_PNGFAST_H

#include "internal.h"

/* What libpng read before the pixels (IHDR, PLTE, tRNS). */
typedef struct rf_fast_header {
    uint32_t width, height;
    int depth, color_type;
    uint8_t palette[256 * 3]; /* palette_count RGB triplets */
    int palette_count;
    bool has_trns;
    const uint8_t *trans_alpha; /* palette: trans_count alpha values */
    int trans_count;
    uint16_t trans_gray, trans_rgb[3]; /* grey / RGB: the transparent value */
} rf_fast_header;

typedef struct rf_fast rf_fast;

/* Row by row (raiiaf_decode_rows_begin), the inflated image is held only
 * up to this many bytes of rows; larger images stream through libpng. */
#define RF_FAST_ROWS_MAX (64u << 20)

/* Inflates the IDAT stream of the PNG in png[0, size) whose first IDAT's
 * data begins at idat, every chunk's CRC and the chunks up to IEND checked.
 * RAIIAF_OK with *out set; RAIIAF_EUNSUPPORTED where libpng must decide;
 * RAIIAF_ENOMEM. */
int rf_fast_open(rf_fast **out, const uint8_t *png, size_t size, size_t idat,
                 const rf_fast_header *h, int format, uint64_t max_rows, rf_msg *msg);
/* The next row in the format, into row (width * pixel size bytes). */
void rf_fast_row(rf_fast *f, void *row);
/* The rows not yet given, into out (the image's rows, stride apart). */
void rf_fast_image(rf_fast *f, void *out, size_t stride);
void rf_fast_free(rf_fast *f);

/* ---- writing ---- */
/* The filtered rows of an image (each row: filter type byte, then the
 * row filtered by it), chosen per row by the minimum sum of absolute
 * differences, as libpng does; level 0 stores unfiltered rows. rows[y]
 * points to raw row y of rowbytes bytes (PNG byte order), bpp bytes per
 * pixel (at least 1). Returns the filtered buffer, height * (rowbytes + 1)
 * bytes, or NULL without memory. */
uint8_t *rf_fast_filter(const uint8_t *const *rows, uint32_t height, size_t rowbytes,
                        unsigned bpp, bool adaptive);
/* The zlib stream of data at a PNG compression level 0-9 (-1: 6) into a
 * malloc'd *out: libdeflate at the matching level, or zlib with run-length
 * matches only where that is smaller: photographs. Up to 4 MiB the second
 * is tried only when libdeflate leaves more than 40% of the data; above,
 * the choice is made on samples. */
int rf_fast_deflate(const uint8_t *data, size_t size, int level, uint8_t **out,
                    size_t *out_size, rf_msg *msg);
uint32_t rf_crc32(uint32_t crc, const void *data, size_t size);
/* A chunk (length, type, data, CRC) appended to b. */
int rf_png_chunk(rf_buf *b, const char *type, const void *data, size_t size, rf_msg *msg);

#endif
