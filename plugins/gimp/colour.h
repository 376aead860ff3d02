/* colour: a PNG's palette and colour chunks in GIMP's terms, as GIMP's own
 * PNG loader and exporter treat them (file-raiiaf.c calls these).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RAIIAF_GIMP_COLOUR_H
#define RAIIAF_GIMP_COLOUR_H

#include <libgimp/gimp.h>

#include <raiiaf.h>

/* What an opened file's PNG says about colour. */
typedef struct
{
  raiiaf_png_colour  png;
  gboolean           indexed;       /* palette PNG: an INDEXED image */
  gboolean           index_alpha;   /* ... with tRNS: INDEXEDA */
  gboolean           generated;     /* the profile was made from gAMA/cHRM */
  gchar             *profile_name;  /* iCCP's name, or NULL */
  guchar            *indices;       /* a palette PNG's pixels, one byte each */
} RaiiafColour;

/* Reads the PNG's chunks, and a palette PNG's indices: RAIIAF_OK or the
 * library's error (RAIIAF_ENOMEM when the indices do not fit). */
int               raiiaf_colour_read         (RaiiafColour             *colour,
                                              raiiaf_ctx               *ctx,
                                              const raiiaf_image_info  *info);
void              raiiaf_colour_clear        (RaiiafColour             *colour);

/* Without an iCCP and an sRGB chunk, a profile made from gAMA and/or cHRM
 * (as GIMP's PNG loader makes it); NULL when there is nothing to make. */
GimpColorProfile *raiiaf_colour_generated_profile (RaiiafColour        *colour,
                                                   gboolean             is_gray);

/* A palette PNG as an INDEXED(A) image: colormap, layer, indices (and the
 * alpha of each index). */
GimpImage        *raiiaf_colour_create_indexed (const RaiiafColour      *colour,
                                                const raiiaf_image_info *info,
                                                GimpColorProfile        *profile);
GimpImageType     raiiaf_colour_layer_type   (const RaiiafColour       *colour,
                                              GimpImageType             layer_type);

/* Parasites of an opened image: the iCCP profile's name, as GIMP's PNG
 * loader keeps it, and the gAMA/cHRM a generated profile was made of. */
void              raiiaf_colour_attach       (const RaiiafColour       *colour,
                                              GimpImage                *image);

/* Export: an INDEXED drawable, whose pixels px holds as RGB8/RGBA8 read
 * in the drawable's space, as palette pixels instead (px->format, data,
 * palette, palette alpha; *indices to g_free). FALSE when it cannot be
 * one (a colour not in the colormap, or pixels of one entry with
 * different alpha): px is left as it was, exported RGB(A). */
gboolean          raiiaf_colour_export_indexed (GimpImage              *image,
                                                GimpDrawable           *drawable,
                                                raiiaf_pixels          *px,
                                                guchar                **indices,
                                                guint8                  palette[768],
                                                guint8                  alpha[256]);

/* Export: when `profile` is still the one made from the PNG's gAMA/cHRM,
 * those chunks go back instead of an ICC profile (px->icc cleared). */
void              raiiaf_colour_export_profile (GimpImage              *image,
                                                GimpColorProfile       *profile,
                                                raiiaf_pixels          *px);

#endif
