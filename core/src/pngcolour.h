/* The PNG's palette and colour chunks (pngcolour.c), and what image.c
 * shares with it. */
#ifndef RAIIAF_PNGCOLOUR_H
#define RAIIAF_PNGCOLOUR_H

#include <png.h>

#include "internal.h"

/* Called with libpng's structs once the chunks before the pixels are read;
 * its return value is rf_png_read_header's. libpng errors inside it
 * longjmp out and give RAIIAF_EPNG. */
typedef int (*rf_png_header_fn)(png_structp png, png_infop info, void *user);
int rf_png_read_header(const rf_png_in *in, const raiiaf_limits *limits, rf_png_header_fn fn,
                       void *user, rf_msg *msg);

/* Reads the whole PNG through libpng, every chunk and row: RAIIAF_EPNG with
 * libpng's reason for a corrupt one. */
int rf_png_check(const uint8_t *data, size_t size, rf_msg *msg);

/* RAIIAF_FMT_INDEX8 pixels: palette size and every index checked. */
int rf_check_palette(const raiiaf_pixels *px, size_t stride, rf_msg *msg);
/* PLTE and tRNS of px on a PNG being written. */
void rf_png_set_palette(png_structp png, png_infop info, const raiiaf_pixels *px);

#endif
