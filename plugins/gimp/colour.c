/* colour: a PNG's palette and colour chunks in GIMP's terms.
 *
 * SPDX-License-Identifier: MIT
 *
 * GIMP's PNG loader opens a palette PNG as an INDEXED image with the PNG's
 * colormap (INDEXEDA when it has tRNS, each pixel taking its index's
 * alpha), attaches an iCCP profile (and its name as "icc-profile-name"),
 * and, when a PNG has neither iCCP nor sRGB but has gAMA and/or cHRM,
 * makes a profile of them: the gAMA curve (else sRGB's), the cHRM white
 * point and primaries (else D65 and Rec. 709), grey for grey PNGs, named
 * "Generated RGB profile from PNG's ...". A .raiiaf opens the same way.
 * The PNG facts come from the library (raiiaf_get_png_colour); this file
 * only builds the GIMP side of them.
 *
 * On export, an INDEXED image becomes a palette PNG again, and a profile
 * still equal to the one made from gAMA/cHRM becomes those chunks again,
 * so open-then-export keeps what the PNG said.
 */

#include <stdlib.h>
#include <string.h>

#include <lcms2.h>

#include "colour.h"
#include "file-raiiaf-common.h"

/* The gAMA/cHRM a generated profile was made of, as text. */
#define PARASITE_PNG_COLOUR "raiiaf-png-colour"
#define PARASITE_ICC_NAME   "icc-profile-name"

int
raiiaf_colour_read (RaiiafColour            *colour,
                    raiiaf_ctx              *ctx,
                    const raiiaf_image_info *info)
{
  size_t size;
  int    err;

  memset (colour, 0, sizeof *colour);
  err = raiiaf_get_png_colour (ctx, &colour->png);
  if (err)
    return err;
  colour->indexed     = info->png_color_type == 3 && colour->png.palette_count > 0;
  colour->index_alpha = colour->indexed && colour->png.palette_alpha_count > 0;
  if (colour->png.has_icc)
    {
      const char *name = NULL;

      if (raiiaf_get_icc_profile (ctx, NULL, NULL, &name) == RAIIAF_OK && name && *name)
        colour->profile_name = g_strdup (name);
    }
  if (! colour->indexed)
    return RAIIAF_OK;
  err = raiiaf_decoded_image_size (ctx, RAIIAF_FMT_INDEX8, &size);
  if (err)
    return err;
  colour->indices = g_try_malloc (size);
  if (! colour->indices)
    return RAIIAF_ENOMEM;
  return raiiaf_decode_image (ctx, RAIIAF_FMT_INDEX8, colour->indices, size);
}

void
raiiaf_colour_clear (RaiiafColour *colour)
{
  g_free (colour->profile_name);
  g_free (colour->indices);
  memset (colour, 0, sizeof *colour);
}

GimpImageType
raiiaf_colour_layer_type (const RaiiafColour *colour,
                          GimpImageType       layer_type)
{
  if (! colour->indexed)
    return layer_type;
  return colour->index_alpha ? GIMP_INDEXEDA_IMAGE : GIMP_INDEXED_IMAGE;
}

/* ---- the profile made of gAMA/cHRM -------------------------------------- */

typedef struct
{
  gboolean has_gamma, has_chrm;
  gdouble  gamma;
  gdouble  chrm[8];  /* white x, y, red x, y, green x, y, blue x, y */
} GammaChrm;

static GimpColorProfile *
profile_from (const GammaChrm *g,
              gboolean         is_gray)
{
  /* sRGB's curve: the one a PNG without gAMA is assumed to have */
  static const cmsFloat64Number srgb_curve[5] =
    { 2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045 };
  cmsToneCurve     *curve;
  cmsToneCurve     *curves[3];
  cmsCIExyY         white = { 0.3127, 0.3290, 1.0 };
  cmsCIExyYTRIPLE   primaries = { { 0.64, 0.33, 1.0 }, { 0.30, 0.60, 1.0 },
                                  { 0.15, 0.06, 1.0 } };
  cmsHPROFILE       lcms;
  cmsMLU           *mlu;
  gchar            *desc;
  GimpColorProfile *profile;
  const gchar      *kind = is_gray ? "grayscale" : "RGB";

  curve = g->has_gamma ? cmsBuildGamma (NULL, 1.0 / g->gamma)
                       : cmsBuildParametricToneCurve (NULL, 4, srgb_curve);
  if (! curve)
    return NULL;
  if (g->has_chrm)
    {
      white.x           = g->chrm[0];
      white.y           = g->chrm[1];
      primaries.Red.x   = g->chrm[2];
      primaries.Red.y   = g->chrm[3];
      primaries.Green.x = g->chrm[4];
      primaries.Green.y = g->chrm[5];
      primaries.Blue.x  = g->chrm[6];
      primaries.Blue.y  = g->chrm[7];
    }
  curves[0] = curves[1] = curves[2] = curve;
  lcms = is_gray ? cmsCreateGrayProfile (&white, curve)
                 : cmsCreateRGBProfile (&white, &primaries, curves);
  cmsFreeToneCurve (curve);
  if (! lcms)
    return NULL;

  /* Named as GIMP's PNG loader names it, so both read the same. */
  if (g->has_gamma && g->has_chrm)
    desc = g_strdup_printf ("Generated %s profile from PNG's gAMA (gamma %.4f) and cHRM chunks",
                            kind, 1.0 / g->gamma);
  else if (g->has_gamma)
    desc = g_strdup_printf ("Generated %s profile from PNG's gAMA chunk (gamma %.4f)",
                            kind, 1.0 / g->gamma);
  else
    desc = g_strdup_printf ("Generated %s profile from PNG's cHRM chunk", kind);
  mlu = cmsMLUalloc (cmsGetProfileContextID (lcms), 1);
  cmsMLUsetASCII (mlu, "en", "US", desc);
  cmsWriteTag (lcms, cmsSigProfileDescriptionTag, mlu);
  cmsMLUfree (mlu);
  g_free (desc);

  profile = gimp_color_profile_new_from_lcms_profile (lcms, NULL);
  cmsCloseProfile (lcms);
  return profile;
}

GimpColorProfile *
raiiaf_colour_generated_profile (RaiiafColour *colour,
                                 gboolean      is_gray)
{
  const raiiaf_png_colour *png = &colour->png;
  GammaChrm                g   = { 0 };
  GimpColorProfile        *profile;

  if (png->has_icc || png->srgb_intent >= 0 ||
      ! (png->has_gamma || png->has_chromaticities))
    return NULL;
  g.has_gamma = png->has_gamma && png->gamma > 0.0;
  g.gamma     = png->gamma;
  g.has_chrm  = png->has_chromaticities;
  g.chrm[0] = png->white_x; g.chrm[1] = png->white_y;
  g.chrm[2] = png->red_x;   g.chrm[3] = png->red_y;
  g.chrm[4] = png->green_x; g.chrm[5] = png->green_y;
  g.chrm[6] = png->blue_x;  g.chrm[7] = png->blue_y;
  if (! g.has_gamma && ! g.has_chrm)
    return NULL;
  profile = profile_from (&g, is_gray);
  colour->generated = profile != NULL;
  return profile;
}

/* ---- the image ------------------------------------------------------------ */

GimpImage *
raiiaf_colour_create_indexed (const RaiiafColour      *colour,
                              const raiiaf_image_info *info,
                              GimpColorProfile        *profile)
{
  GimpImage          *image;
  GimpLayer          *layer;
  GeglBuffer         *buffer;
  const Babl         *format;
  GeglBufferIterator *iter;
  guint8              alpha[256];

  /* The indices go in unconverted, in the buffer's own format: libgimp
   * makes a new palette format on each gimp_drawable_get_format(), and
   * between two of them babl converts through RGB, to the first entry of
   * a colour that two entries share. */
  image = gimp_image_new_with_precision (info->width, info->height, GIMP_INDEXED,
                                         GIMP_PRECISION_U8_NON_LINEAR);
  if (profile)
    gimp_image_set_color_profile (image, profile);
  layer = gimp_layer_new (image, "Background", info->width, info->height,
                          GIMP_INDEXED_IMAGE, 100,
                          gimp_image_get_default_new_layer_mode (image));
  gimp_image_insert_layer (image, layer, NULL, 0);
  gimp_palette_set_colormap (gimp_image_get_palette (image), babl_format ("R'G'B' u8"),
                             (guint8 *) colour->png.palette, colour->png.palette_count * 3);
  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  format = gegl_buffer_get_format (buffer);
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, (gint) info->width, (gint) info->height),
                   0, format, colour->indices, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);
  if (! colour->index_alpha)
    return image;

  /* tRNS: each pixel takes its index's alpha (opaque past the entries) */
  memset (alpha, 255, sizeof alpha);
  memcpy (alpha, colour->png.palette_alpha, colour->png.palette_alpha_count);
  gimp_layer_add_alpha (layer);
  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  format = gegl_buffer_get_format (buffer);
  iter = gegl_buffer_iterator_new (buffer, NULL, 0, format, GEGL_ACCESS_READWRITE,
                                   GEGL_ABYSS_NONE, 1);
  while (gegl_buffer_iterator_next (iter))
    {
      guchar *data = iter->items[0].data;

      for (gint i = 0; i < iter->length; i++, data += 2)
        data[1] = alpha[data[0]];
    }
  g_object_unref (buffer);
  return image;
}

void
raiiaf_colour_attach (const RaiiafColour *colour,
                      GimpImage          *image)
{
  GimpParasite *parasite;

  if (colour->profile_name && gimp_image_get_color_profile (image))
    {
      parasite = gimp_parasite_new (PARASITE_ICC_NAME,
                                    GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                    strlen (colour->profile_name), colour->profile_name);
      gimp_image_attach_parasite (image, parasite);
      gimp_parasite_free (parasite);
    }
  if (colour->generated)
    {
      const raiiaf_png_colour *png = &colour->png;
      gchar                    buf[8][G_ASCII_DTOSTR_BUF_SIZE];
      gchar                    gamma[G_ASCII_DTOSTR_BUF_SIZE];
      gchar                   *text;

      g_ascii_dtostr (gamma, sizeof gamma, png->has_gamma ? png->gamma : 0.0);
      g_ascii_dtostr (buf[0], sizeof buf[0], png->white_x);
      g_ascii_dtostr (buf[1], sizeof buf[1], png->white_y);
      g_ascii_dtostr (buf[2], sizeof buf[2], png->red_x);
      g_ascii_dtostr (buf[3], sizeof buf[3], png->red_y);
      g_ascii_dtostr (buf[4], sizeof buf[4], png->green_x);
      g_ascii_dtostr (buf[5], sizeof buf[5], png->green_y);
      g_ascii_dtostr (buf[6], sizeof buf[6], png->blue_x);
      g_ascii_dtostr (buf[7], sizeof buf[7], png->blue_y);
      text = g_strdup_printf ("gAMA %s %s\ncHRM %d %s %s %s %s %s %s %s %s\n",
                              png->has_gamma ? "1" : "0", gamma,
                              png->has_chromaticities, buf[0], buf[1], buf[2], buf[3],
                              buf[4], buf[5], buf[6], buf[7]);
      parasite = gimp_parasite_new (PARASITE_PNG_COLOUR, GIMP_PARASITE_PERSISTENT,
                                    strlen (text), text);
      gimp_image_attach_parasite (image, parasite);
      gimp_parasite_free (parasite);
      g_free (text);
    }
}

/* ---- export ---------------------------------------------------------------- */

gboolean
raiiaf_colour_export_indexed (GimpImage      *image,
                              GimpDrawable   *drawable,
                              raiiaf_pixels  *px,
                              guchar        **indices,
                              guint8          palette[768],
                              guint8          alpha[256])
{
  GimpPalette *cmap = gimp_image_get_palette (image);
  guint8      *colormap;
  guint8      *in_space;
  gint         n_colors = 0;
  gint         n_space = 0;
  gsize        n_bytes = 0;
  guint        channels;
  gboolean     has_alpha;
  gboolean     seen[256] = { FALSE };
  gboolean     transparent = FALSE;
  GHashTable  *lookup;
  const guchar *rgb = px->data;
  guchar      *data;
  gsize        n;
  gboolean     ok = TRUE;

  if (! gimp_drawable_is_indexed (drawable) ||
      (px->format != RAIIAF_FMT_RGB8 && px->format != RAIIAF_FMT_RGBA8) || px->stride)
    return FALSE;
  /* The PNG's palette as GIMP's PNG exporter writes it; the same entries
   * in the space of the pixels given (those the caller read from the
   * drawable), to find each pixel's index. The indices are not read from
   * the drawable: libgimp gives a new palette format on each request, and
   * babl converts between two of them through RGB, not always to the
   * same index. */
  colormap = gimp_palette_get_colormap (cmap, babl_format ("R'G'B' u8"), &n_colors, &n_bytes);
  in_space = gimp_palette_get_colormap (cmap,
                                        babl_format_with_space ("R'G'B' u8",
                                                                gimp_drawable_get_format (drawable)),
                                        &n_space, &n_bytes);
  if (! colormap || ! in_space || n_colors < 1 || n_colors > 256 || n_space != n_colors)
    {
      g_free (colormap);
      g_free (in_space);
      return FALSE;
    }
  memcpy (palette, colormap, (gsize) n_colors * 3);
  g_free (colormap);

  /* a colour two entries share is the first one's */
  lookup = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (gint k = n_colors - 1; k >= 0; k--)
    g_hash_table_insert (lookup,
                         GUINT_TO_POINTER (1 + (in_space[3 * k] << 16 | in_space[3 * k + 1] << 8 |
                                                in_space[3 * k + 2])),
                         GUINT_TO_POINTER (k));

  has_alpha = px->format == RAIIAF_FMT_RGBA8;
  channels  = has_alpha ? 4 : 3;
  n = (gsize) px->width * px->height;
  data = g_try_malloc (n ? n : 1);
  if (! data)
    {
      g_hash_table_destroy (lookup);
      g_free (in_space);
      return FALSE;
    }
  memset (alpha, 255, 256);
  for (gsize i = 0; ok && i < n; i++)
    {
      const guchar *p = rgb + i * channels;
      gpointer      k;
      guint         index;

      /* A transparent pixel reads without its colour: it takes an entry
       * of alpha 0, chosen below. */
      if (has_alpha && p[3] == 0)
        {
          transparent = TRUE;
          continue;
        }

      gpointer      key = GUINT_TO_POINTER (1 + (p[0] << 16 | p[1] << 8 | p[2]));

      if (! g_hash_table_lookup_extended (lookup, key, NULL, &k))
        {
          /* The pixel went from the palette to 8 bits by another path
           * than the colormap did, through a colour profile and, when
           * translucent, through premultiplied alpha: a few rounding
           * steps apart. Further off, it is not a colormap colour. */
          gint best = -1, best_d = 3 + (has_alpha ? 510 / MAX (p[3], 1) : 0);

          for (gint e = 0; e < n_colors; e++)
            {
              gint d = MAX (ABS (in_space[3 * e] - p[0]),
                            MAX (ABS (in_space[3 * e + 1] - p[1]),
                                 ABS (in_space[3 * e + 2] - p[2])));
              if (d < best_d)
                {
                  best_d = d;
                  best   = e;
                }
            }
          if (best < 0)
            {
              ok = FALSE;
              break;
            }
          k = GUINT_TO_POINTER (best);
          g_hash_table_insert (lookup, key, k);
        }
      index = GPOINTER_TO_UINT (k);
      if (has_alpha && seen[index] && alpha[index] != p[3])
        {
          /* entries of one colour told apart by their alpha (tRNS) */
          for (gint e = (gint) index + 1; e < n_colors; e++)
            if (! memcmp (in_space + 3 * e, in_space + 3 * index, 3) &&
                (! seen[e] || alpha[e] == p[3]))
              {
                index = (guint) e;
                break;
              }
        }
      data[i] = (guchar) index;
      if (has_alpha)
        {
          /* tRNS gives each index one alpha */
          if (seen[index] && alpha[index] != p[3])
            ok = FALSE;
          seen[index]  = TRUE;
          alpha[index] = p[3];
        }
    }
  g_hash_table_destroy (lookup);
  g_free (in_space);
  if (ok && transparent)
    {
      gint clear = -1;

      /* an entry already transparent, else one no pixel uses */
      for (gint e = 0; clear < 0 && e < n_colors; e++)
        if (seen[e] && alpha[e] == 0)
          clear = e;
      for (gint e = 0; clear < 0 && e < n_colors; e++)
        if (! seen[e])
          clear = e;
      if (clear < 0)
        ok = FALSE;
      else
        {
          alpha[clear] = 0;
          for (gsize i = 0; i < n; i++)
            if (rgb[i * channels + 3] == 0)
              data[i] = (guchar) clear;
        }
    }
  if (! ok)
    {
      g_free (data);
      return FALSE;
    }
  raiiaf_pixels_set_palette (px, data, palette, (guint) n_colors, has_alpha ? alpha : NULL);
  *indices = data;
  return TRUE;
}

static gboolean
parse_gamma_chrm (const gchar *text,
                  GammaChrm   *g)
{
  gchar  **words = g_strsplit_set (text, " \n", -1);
  gboolean ok    = g_strv_length (words) >= 13 &&
                   ! strcmp (words[0], "gAMA") && ! strcmp (words[3], "cHRM");

  if (ok)
    {
      g->has_gamma = atoi (words[1]) != 0;
      g->gamma     = g_ascii_strtod (words[2], NULL);
      g->has_chrm  = atoi (words[4]) != 0;
      for (gint i = 0; i < 8; i++)
        g->chrm[i] = g_ascii_strtod (words[5 + i], NULL);
      ok = (g->has_gamma && g->gamma > 0.0) || g->has_chrm;
    }
  g_strfreev (words);
  return ok;
}

void
raiiaf_colour_export_profile (GimpImage        *image,
                              GimpColorProfile *profile,
                              raiiaf_pixels    *px)
{
  GimpParasite     *parasite;
  GimpColorProfile *made;
  GammaChrm         g = { 0 };
  gchar            *text;
  gconstpointer     data;
  guint32           size;

  if (! profile)
    return;
  parasite = gimp_image_get_parasite (image, PARASITE_PNG_COLOUR);
  if (! parasite)
    return;
  data = gimp_parasite_get_data (parasite, &size);
  text = g_strndup (data, size);
  gimp_parasite_free (parasite);
  if (! parse_gamma_chrm (text, &g))
    {
      g_free (text);
      return;
    }
  g_free (text);

  made = profile_from (&g, gimp_image_get_base_type (image) == GIMP_GRAY);
  /* Assigned another profile since: that one is written, as ICC. */
  if (made && gimp_color_profile_is_equal (made, profile))
    {
      px->icc      = NULL;
      px->icc_size = 0;
      px->icc_name = NULL;
      px->gamma    = g.has_gamma ? g.gamma : 0.0;
      px->has_chromaticities = g.has_chrm;
      px->white_x = g.chrm[0]; px->white_y = g.chrm[1];
      px->red_x   = g.chrm[2]; px->red_y   = g.chrm[3];
      px->green_x = g.chrm[4]; px->green_y = g.chrm[5];
      px->blue_x  = g.chrm[6]; px->blue_y  = g.chrm[7];
    }
  g_clear_object (&made);
}
