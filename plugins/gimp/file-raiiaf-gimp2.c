/* file-raiiaf (GIMP 2.10): the GIMP 2.10 file plug-in for .raiiaf files.
 *
 * SPDX-License-Identifier: MIT
 *
 * The same plug-in as file-raiiaf.c (GIMP 3), in libgimp 2.0's API: the
 * same procedures, export options, parasite names, comment and metadata.
 * What the two share beyond the host API (reading a file into parasites,
 * feeding parasites back to the writer, the settings rules) lives in
 * file-raiiaf-common.c; every question about the format is answered by
 * libraiiaf.
 */

#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>
#include <gexiv2/gexiv2.h>

#include "file-raiiaf-common.h"

#define LOAD_PROC       "file-raiiaf-load"
#define LOAD_THUMB_PROC "file-raiiaf-load-thumb"
#define EXPORT_PROC     "file-raiiaf-export"
#define PLUG_IN_BINARY  "file-raiiaf"

/* This image's own last export settings (GIMP 3 keeps them in libgimp's
 * per-image config parasite). */
#define LAST_SETTINGS_PARASITE "file-raiiaf-export-last"

static void query (void);
static void run   (const gchar      *name,
                   gint              nparams,
                   const GimpParam  *param,
                   gint             *nreturn_vals,
                   GimpParam       **return_vals);

const GimpPlugInInfo PLUG_IN_INFO =
{
  NULL,  /* init_proc  */
  NULL,  /* quit_proc  */
  query, /* query_proc */
  run,   /* run_proc   */
};

MAIN ()

static void
query (void)
{
  static const GimpParamDef load_args[] =
  {
    { GIMP_PDB_INT32,  "run-mode",     "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }" },
    { GIMP_PDB_STRING, "filename",     "The name of the file to load" },
    { GIMP_PDB_STRING, "raw-filename", "The name entered" }
  };
  static const GimpParamDef load_return_vals[] =
  {
    { GIMP_PDB_IMAGE, "image", "Output image" }
  };
  static const GimpParamDef thumb_args[] =
  {
    { GIMP_PDB_STRING, "filename",   "The name of the file to load"  },
    { GIMP_PDB_INT32,  "thumb-size", "Preferred thumbnail size"      }
  };
  static const GimpParamDef thumb_return_vals[] =
  {
    { GIMP_PDB_IMAGE, "image",        "Thumbnail image"               },
    { GIMP_PDB_INT32, "image-width",  "Width of full-sized image"      },
    { GIMP_PDB_INT32, "image-height", "Height of full-sized image"     },
    { GIMP_PDB_INT32, "image-type",   "Type of the image"             },
    { GIMP_PDB_INT32, "num-layers",   "Number of layers in the image" }
  };
  static const GimpParamDef export_args[] =
  {
    { GIMP_PDB_INT32,    "run-mode",       "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }" },
    { GIMP_PDB_IMAGE,    "image",          "Input image" },
    { GIMP_PDB_DRAWABLE, "drawable",       "Drawable to export (the visible image is exported)" },
    { GIMP_PDB_STRING,   "filename",       "The name of the file to export the image in" },
    { GIMP_PDB_STRING,   "raw-filename",   "The name entered" },
    { GIMP_PDB_INT32,    "compression",    "PNG deflate level of the image: 0 (none, fastest) to 9 (smallest)" },
    { GIMP_PDB_STRING,   "latent-storage", "How the latents are stored: 'keep' (copied bit for bit as the "
                                           "file had them), 'auto' (the smaller of zfp and uncompressed), "
                                           "'raw' (uncompressed) or 'zfp' (lossless zfp). The values are "
                                           "the same either way." },
    { GIMP_PDB_INT32,    "keep-latents",   "Write the latents the image carries (its '"
                                           PARASITE_LATENT_PREFIX "*' parasites) into the file (TRUE, FALSE)" },
    { GIMP_PDB_STRING,   "prompt",         "Prompt recorded in the manifest; empty keeps the image's own" },
    { GIMP_PDB_STRING,   "model",          "Model name recorded in the manifest; empty keeps the image's own" },
    { GIMP_PDB_INT32,    "include-exif",   "Write the Exif data the file's PNG had (TRUE, FALSE)" },
    { GIMP_PDB_INT32,    "include-xmp",    "Write the XMP packet the file's PNG had (TRUE, FALSE)" },
    { GIMP_PDB_INT32,    "include-text",   "Write the text chunks the file's PNG had (TRUE, FALSE)" },
    { GIMP_PDB_INT32,    "include-color-profile", "Write the image's ICC profile (TRUE, FALSE)" },
    { GIMP_PDB_INT32,    "include-resolution",    "Write the image's resolution as pHYs (TRUE, FALSE)" }
  };

  gimp_install_procedure (LOAD_PROC,
                          "Loads files in the raiiaf format",
                          "Opens the image of a .raiiaf file (AI-generated "
                          "image with its latents and generation metadata). "
                          "The manifest, the environment and each latent are "
                          "attached as persistent image parasites '"
                          PARASITE_MANIFEST "', '" PARASITE_ENVIRONMENT
                          "' and '" PARASITE_LATENT_PREFIX "<key>'; the "
                          "generation parameters become the image comment.",
                          "The raiiaf suite authors",
                          "The raiiaf suite authors",
                          "2026",
                          "AI image artifact (raiiaf)",
                          NULL,
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (load_args),
                          G_N_ELEMENTS (load_return_vals),
                          load_args, load_return_vals);

  gimp_register_file_handler_mime (LOAD_PROC, RAIIAF_MIME_TYPE);
  gimp_register_magic_load_handler (LOAD_PROC, "raiiaf", "",
                                    "0,string," RAIIAF_MAGIC);

  gimp_install_procedure (LOAD_THUMB_PROC,
                          "Loads a preview of a raiiaf file",
                          "Decodes only the image of a .raiiaf file (never "
                          "its latents) for the file dialog's preview.",
                          "The raiiaf suite authors",
                          "The raiiaf suite authors",
                          "2026",
                          NULL,
                          NULL,
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (thumb_args),
                          G_N_ELEMENTS (thumb_return_vals),
                          thumb_args, thumb_return_vals);

  gimp_register_thumbnail_loader (LOAD_PROC, LOAD_THUMB_PROC);

  gimp_install_procedure (EXPORT_PROC,
                          "Exports the image in the raiiaf format",
                          "Writes the visible image as the PNG of a .raiiaf "
                          "file (8 or 16 bits after the image's precision, "
                          "alpha when the layer has it, the image's ICC "
                          "profile). The image's '" PARASITE_MANIFEST "', '"
                          PARASITE_ENVIRONMENT "' and '" PARASITE_LATENT_PREFIX
                          "*' parasites are written back as manifest, "
                          "environment and latents, and the manifest records "
                          "that the image was edited in GIMP. The target is "
                          "replaced only once the new file is complete.",
                          "The raiiaf suite authors",
                          "The raiiaf suite authors",
                          "2026",
                          "AI image artifact (raiiaf)",
                          "*",
                          GIMP_PLUGIN,
                          G_N_ELEMENTS (export_args), 0,
                          export_args, NULL);

  gimp_register_file_handler_mime (EXPORT_PROC, RAIIAF_MIME_TYPE);
  gimp_register_save_handler (EXPORT_PROC, "raiiaf", "");
}

/* ------------------------------------------------------------------ */
/* Open                                                                */

/* An opened file, everything read before the image exists (a corrupt
 * file leaves no half-made image behind). The image is made as GIMP
 * 2.10's PNG loader makes it of the embedded PNG: a palette PNG as an
 * INDEXED(A) image with its colormap, an iCCP profile (a linear one makes
 * the precision linear) and its name, gAMA as the "gamma" parasite, pHYs
 * as resolution and unit, oFFs as the layer's offsets, the "Comment" text,
 * and the PNG's Exif and XMP through GIMP's metadata. */
typedef struct
{
  raiiaf_ctx         *ctx;
  raiiaf_image_info   info;
  const RaiiafFormat *format;
  guchar             *pixels;
  guchar             *indices;   /* a palette PNG's, one byte each */
  raiiaf_png_colour   colour;
  raiiaf_png_physical physical;
  GimpColorProfile   *profile;
  gchar              *profile_name;
  GPtrArray          *attachments;
  gchar              *comment;
  raiiaf_png_metadata *png_meta;
  GKeyFile           *origin;    /* becomes the PARASITE_ORIGIN parasite */
} LoadedFile;

static void
loaded_file_clear (LoadedFile *lf)
{
  if (lf->attachments)
    g_ptr_array_unref (lf->attachments);
  g_clear_object (&lf->profile);
  g_free (lf->profile_name);
  g_free (lf->pixels);
  g_free (lf->indices);
  g_free (lf->comment);
  raiiaf_free (lf->png_meta);
  if (lf->origin)
    g_key_file_free (lf->origin);
  raiiaf_ctx_free (lf->ctx);
  memset (lf, 0, sizeof *lf);
}

static gboolean
is_indexed (const LoadedFile *lf)
{
  return lf->info.png_color_type == 3 && lf->colour.palette_count > 0;
}

static GimpImageType
layer_type (const LoadedFile *lf)
{
  if (is_indexed (lf))
    return lf->colour.palette_alpha_count ? GIMP_INDEXEDA_IMAGE : GIMP_INDEXED_IMAGE;
  if (lf->format->is_gray)
    return lf->format->has_alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  return lf->format->has_alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
}

/* A profile GIMP cannot use costs the profile, not the image: the pixels
 * are still the file's, as with GIMP's own PNG loader. */
static void
read_profile (LoadedFile *lf, const gchar *display_name)
{
  const void *icc;
  size_t      icc_size;
  const char *icc_name;
  GError     *profile_error = NULL;

  if (! lf->info.has_icc)
    return;
  if (raiiaf_get_icc_profile (lf->ctx, &icc, &icc_size, &icc_name) != RAIIAF_OK)
    {
      g_message ("'%s': the ICC profile could not be read (%s); "
                 "it is ignored.", display_name, raiiaf_ctx_message (lf->ctx));
      return;
    }

  lf->profile = gimp_color_profile_new_from_icc_profile (icc, icc_size,
                                                         &profile_error);
  if (! lf->profile)
    {
      g_message ("'%s': the ICC profile is not usable (%s); it is ignored.",
                 display_name, profile_error->message);
      g_clear_error (&profile_error);
      return;
    }

  if (lf->format->is_gray ? ! gimp_color_profile_is_gray (lf->profile)
                          : ! gimp_color_profile_is_rgb (lf->profile))
    {
      g_message ("'%s': the ICC profile does not describe %s pixels; "
                 "it is ignored.", display_name,
                 lf->format->is_gray ? "grey" : "RGB");
      g_clear_object (&lf->profile);
      return;
    }
  /* As GIMP 2.10's PNG loader converts it (from UTF-8 to Latin-1). */
  if (icc_name)
    lf->profile_name = g_convert (icc_name, -1, "ISO-8859-1", "UTF-8", NULL, NULL, NULL);
}

/* The PNG's palette, pHYs and oFFs, and a palette PNG's indices. */
static gboolean
read_png_layout (LoadedFile *lf, const gchar *display_name, GError **error)
{
  size_t size;
  int    err = raiiaf_get_png_colour (lf->ctx, &lf->colour);

  if (! err)
    err = raiiaf_get_png_physical (lf->ctx, &lf->physical);
  if (! err && is_indexed (lf))
    {
      err = raiiaf_decoded_image_size (lf->ctx, RAIIAF_FMT_INDEX8, &size);
      if (! err && ! (lf->indices = g_try_malloc (size)))
        err = RAIIAF_ENOMEM;
      if (! err)
        err = raiiaf_decode_image (lf->ctx, RAIIAF_FMT_INDEX8, lf->indices, size);
    }
  if (err)
    raiiaf_set_ctx_error (error, display_name, lf->ctx, err);
  return err == RAIIAF_OK;
}

static gboolean
open_file (LoadedFile  *lf,
           const gchar *path,
           gboolean     with_attachments,
           GError     **error)
{
  gchar   *display_name = g_filename_display_name (path);
  gboolean ok;

  ok = raiiaf_open_and_decode (&lf->ctx, path, display_name, GIMP_MAX_IMAGE_SIZE,
                               &lf->info, &lf->format, &lf->pixels, error) &&
       read_png_layout (lf, display_name, error) &&
       (! with_attachments ||
        raiiaf_read_attachments (lf->ctx, display_name, &lf->attachments,
                                 &lf->comment, error));
  if (ok)
    read_profile (lf, display_name);
  /* The pixels' digest is added once the image exists (see load). */
  if (ok && with_attachments)
    ok = raiiaf_origin_read (lf->ctx, path, &lf->info,
                             &lf->png_meta, &lf->origin, display_name, error);
  g_free (display_name);
  return ok;
}

static void
attach (gint32 image, const gchar *name, guint32 flags, gconstpointer data, gsize size)
{
  GimpParasite *parasite = gimp_parasite_new (name, flags, (guint32) size, data);

  gimp_image_attach_parasite (image, parasite);
  gimp_parasite_free (parasite);
}

/* pHYs as GIMP 2.10's PNG loader takes it (raiiaf_phys_resolution). TRUE
 * when the resolution came from it. */
static gboolean
set_resolution (gint32 image, const raiiaf_png_physical *p)
{
  gdouble  xres, yres;
  gboolean in_mm;

  gimp_image_get_resolution (image, &xres, &yres);
  if (! raiiaf_phys_resolution (p, &xres, &yres, &in_mm))
    return FALSE;
  gimp_image_set_resolution (image, xres, yres);
  if (in_mm)
    gimp_image_set_unit (image, GIMP_UNIT_MM);
  return TRUE;
}

/* A palette PNG's colormap and indices; with tRNS, as GIMP 2.10's PNG
 * loader does, an alpha channel where each pixel takes its index's alpha
 * (the colormap stays whole, the indices as they are). */
static void
fill_indexed (LoadedFile *lf, gint32 image, gint32 layer)
{
  const raiiaf_png_colour *c = &lf->colour;
  guint8              alpha[256];
  GeglBuffer         *buffer;
  GeglBufferIterator *iter;

  gimp_image_set_colormap (image, (const guchar *) c->palette, (gint) c->palette_count);

  /* The indices in the buffer's own format: no conversion. */
  buffer = gimp_drawable_get_buffer (layer);
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                   0, gegl_buffer_get_format (buffer), lf->indices, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);
  if (! c->palette_alpha_count)
    return;

  memset (alpha, 255, sizeof alpha);
  memcpy (alpha, c->palette_alpha, c->palette_alpha_count);
  gimp_layer_add_alpha (layer);
  buffer = gimp_drawable_get_buffer (layer);
  iter = gegl_buffer_iterator_new (buffer, NULL, 0, gegl_buffer_get_format (buffer),
                                   GEGL_ACCESS_READWRITE, GEGL_ABYSS_NONE, 1);
  while (gegl_buffer_iterator_next (iter))
    {
      guchar *data = iter->items[0].data;

      for (gint i = 0; i < iter->length; i++, data += 2)
        data[1] = alpha[data[0]];
    }
  g_object_unref (buffer);
}

/* The image with its layer, pixels, profile and what GIMP's PNG loader
 * attaches; *resolution_loaded tells whether pHYs set the resolution. */
static gint32
create_image (LoadedFile *lf, const gchar *path, gboolean *resolution_loaded)
{
  gboolean      linear = lf->profile && gimp_color_profile_is_linear (lf->profile);
  gint32        image;
  gint32        layer;
  GimpImageBaseType base;
  GimpPrecision precision;

  if (is_indexed (lf))
    base = GIMP_INDEXED;
  else
    base = lf->format->is_gray ? GIMP_GRAY : GIMP_RGB;
  if (lf->format->sixteen)
    precision = linear ? GIMP_PRECISION_U16_LINEAR : GIMP_PRECISION_U16_GAMMA;
  else
    precision = linear ? GIMP_PRECISION_U8_LINEAR : GIMP_PRECISION_U8_GAMMA;

  image = gimp_image_new_with_precision (lf->info.width, lf->info.height, base, precision);
  layer = gimp_layer_new (image, "Background", lf->info.width, lf->info.height,
                          is_indexed (lf) ? GIMP_INDEXED_IMAGE : layer_type (lf), 100,
                          gimp_image_get_default_new_layer_mode (image));
  gimp_image_insert_layer (image, layer, -1, 0);

  if (lf->colour.has_gamma)
    {
      gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_dtostr (buf, sizeof buf, lf->colour.gamma);
      attach (image, "gamma", GIMP_PARASITE_PERSISTENT, buf, strlen (buf) + 1);
    }
  /* In pixels only, as the PNG loader gets them from libpng */
  if (lf->physical.has_offset && ! lf->physical.offset_unit)
    gimp_layer_set_offsets (layer, lf->physical.offset_x, lf->physical.offset_y);
  *resolution_loaded = set_resolution (image, &lf->physical);
  gimp_image_set_filename (image, path);

  if (is_indexed (lf))
    fill_indexed (lf, image, layer);
  else
    {
      const Babl *space = NULL;
      GeglBuffer *buffer = gimp_drawable_get_buffer (layer);

      /* Samples are in the profile's encoding; telling babl so keeps
       * GIMP from converting them on the way in. */
      if (lf->profile)
        space = gimp_color_profile_get_space (lf->profile,
                                              GIMP_COLOR_RENDERING_INTENT_RELATIVE_COLORIMETRIC,
                                              NULL);
      gegl_buffer_set (buffer,
                       GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                       0, babl_format_with_space (lf->format->babl_name, space),
                       lf->pixels, GEGL_AUTO_ROWSTRIDE);
      g_object_unref (buffer);
    }

  if (lf->profile)
    {
      gimp_image_set_color_profile (image, lf->profile);
      if (lf->profile_name)
        attach (image, "icc-profile-name", GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                lf->profile_name, strlen (lf->profile_name));
    }
  return image;
}

/* The digest of the pixels as an export reads them (export_image): the
 * file's own decode, or for an INDEXED image the layer read back as RGB(A),
 * which is what an export of it compares. */
static gchar *
opened_digest (LoadedFile *lf, gint32 image)
{
  const guint8 *icc = NULL;
  gsize         icc_size = 0;
  gsize         pixel_size = raiiaf_format_pixel_size (lf->info.format);
  guchar       *rgb = NULL;
  guint64       h;
  gchar        *digest;

  if (lf->profile)
    icc = gimp_color_profile_get_icc_profile (lf->profile, &icc_size);
  if (is_indexed (lf))
    {
      gint32      drawable = gimp_image_get_active_drawable (image);
      GeglBuffer *buffer = gimp_drawable_get_buffer (drawable);

      rgb = g_malloc ((gsize) lf->info.width * lf->info.height * pixel_size);
      gegl_buffer_get (buffer, GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                       1.0, babl_format_with_space (lf->format->babl_name,
                                                    gimp_drawable_get_format (drawable)),
                       rgb, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      g_object_unref (buffer);
    }
  h = raiiaf_pixel_digest (rgb ? rgb : lf->pixels, lf->info.width, lf->info.height,
                           pixel_size, NULL, 0);
  digest = raiiaf_digest_finish (h, icc, icc_size);
  g_free (rgb);
  return digest;
}

/* The metadata GIMP shows (Image > Metadata), as GIMP 2.10's PNG loader
 * gives it: what exiv2 reads from the embedded PNG (Exif, XMP), then what
 * a person reads from the manifest where the PNG says nothing, all through
 * gimp_image_metadata_load_finish (which also takes the Exif comment,
 * resolution unless pHYs gave it, orientation and colour space). */
static void
set_metadata (gint32 image, LoadedFile *lf, gboolean resolution_loaded,
              gboolean interactive)
{
  GimpMetadata         *metadata = gimp_metadata_new ();
  GExiv2Metadata       *exiv;
  GimpMetadataLoadFlags flags = GIMP_METADATA_LOAD_ALL;
  const char           *prompt = raiiaf_find_text (lf->ctx, "prompt");
  const char           *model  = raiiaf_find_text (lf->ctx, "model");
  const char           *tags   = raiiaf_find_text (lf->ctx, "tags");
  const void           *png;
  size_t                png_size;

  if (! metadata)
    return;
  exiv = GEXIV2_METADATA (metadata);
  if (raiiaf_get_image_data (lf->ctx, &png, &png_size) == RAIIAF_OK &&
      png_size <= G_MAXLONG)
    gexiv2_metadata_open_buf (exiv, png, (glong) png_size, NULL);

  if (prompt && *prompt && ! gexiv2_metadata_has_tag (exiv, "Xmp.dc.description"))
    gexiv2_metadata_set_tag_string (exiv, "Xmp.dc.description", prompt);
  if (model && *model && ! gexiv2_metadata_has_tag (exiv, "Xmp.xmp.CreatorTool"))
    gexiv2_metadata_set_tag_string (exiv, "Xmp.xmp.CreatorTool", model);
  if (tags && *tags && ! gexiv2_metadata_has_tag (exiv, "Xmp.dc.subject"))
    {
      gchar **list = g_strsplit (tags, ", ", -1);

      gexiv2_metadata_set_tag_multiple (exiv, "Xmp.dc.subject",
                                        (const gchar **) list);
      g_strfreev (list);
    }
  if (resolution_loaded)
    flags &= ~GIMP_METADATA_LOAD_RESOLUTION;
  gimp_image_metadata_load_finish (image, "image/png", metadata, flags, interactive);
  g_object_unref (metadata);
}

static GimpPDBStatusType
load (const gchar *path, gboolean interactive, gint32 *image_out, GError **error)
{
  LoadedFile   lf = { 0 };
  gint32       image;
  gchar       *display_name = g_filename_display_name (path);
  gchar       *digest;
  const gchar *comment;
  gboolean     resolution_loaded;

  gimp_progress_init_printf ("Opening '%s'", display_name);

  if (! open_file (&lf, path, TRUE, error))
    {
      loaded_file_clear (&lf);
      g_free (display_name);
      return GIMP_PDB_EXECUTION_ERROR;
    }

  image = create_image (&lf, path, &resolution_loaded);
  digest = opened_digest (&lf, image);
  g_key_file_set_string (lf.origin, "origin", "pixels", digest);
  g_free (digest);

  for (guint i = 0; i < lf.attachments->len; i++)
    {
      RaiiafAttachment *a = g_ptr_array_index (lf.attachments, i);

      raiiaf_attachment_warn_xcf (a, display_name);
      attach (image, a->name, GIMP_PARASITE_PERSISTENT, a->data, a->size);
    }
  comment = raiiaf_comment_text (lf.png_meta, lf.comment);
  if (comment)
    attach (image, "gimp-comment", GIMP_PARASITE_PERSISTENT, comment, strlen (comment) + 1);
  if (lf.origin)
    {
      gsize  size;
      gchar *data = g_key_file_to_data (lf.origin, &size, NULL);

      attach (image, PARASITE_ORIGIN, GIMP_PARASITE_PERSISTENT, data, size);
      g_free (data);
    }
  set_metadata (image, &lf, resolution_loaded, interactive);

  loaded_file_clear (&lf);
  g_free (display_name);
  gimp_progress_update (1.0);
  *image_out = image;
  return GIMP_PDB_SUCCESS;
}

static GimpPDBStatusType
load_thumb (const gchar *path, GimpParam *values, GError **error)
{
  LoadedFile lf = { 0 };
  gboolean   resolution_loaded;

  /* The image only: latents can be far larger than the picture. GIMP
   * scales the image we return. */
  if (! open_file (&lf, path, FALSE, error))
    {
      loaded_file_clear (&lf);
      return GIMP_PDB_EXECUTION_ERROR;
    }

  values[1].type = GIMP_PDB_IMAGE;
  values[1].data.d_image = create_image (&lf, path, &resolution_loaded);
  values[2].type = GIMP_PDB_INT32;
  values[2].data.d_int32 = (gint32) lf.info.width;
  values[3].type = GIMP_PDB_INT32;
  values[3].data.d_int32 = (gint32) lf.info.height;
  values[4].type = GIMP_PDB_INT32;
  values[4].data.d_int32 = layer_type (&lf);
  values[5].type = GIMP_PDB_INT32;
  values[5].data.d_int32 = 1;

  loaded_file_clear (&lf);
  return GIMP_PDB_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Export settings: remembered as a key file (gimp_set_data for any
 * image, a parasite for one image).                                   */

static const gchar *const metadata_keys[] =
{
  "include-exif", "include-xmp", "include-text", "include-color-profile",
  "include-resolution"
};

static gboolean *
metadata_flag (RaiiafMetadataChoice *m, gsize i)
{
  gboolean *flags[] = { &m->exif, &m->xmp, &m->text, &m->color_profile, &m->resolution };

  return flags[i];
}

static GBytes *
settings_serialize (const RaiiafExportSettings *s)
{
  GKeyFile *kf = g_key_file_new ();
  RaiiafMetadataChoice m = s->metadata;
  gsize     size;
  gchar    *data;

  g_key_file_set_integer (kf, "export", "compression", s->compression);
  g_key_file_set_string  (kf, "export", "latent-storage", raiiaf_storage_name (s->latent_storage));
  g_key_file_set_boolean (kf, "export", "keep-latents", s->keep_latents);
  g_key_file_set_string  (kf, "export", "prompt", s->prompt);
  g_key_file_set_string  (kf, "export", "model", s->model);
  for (gsize i = 0; i < G_N_ELEMENTS (metadata_keys); i++)
    g_key_file_set_boolean (kf, "export", metadata_keys[i], *metadata_flag (&m, i));
  data = g_key_file_to_data (kf, &size, NULL);
  g_key_file_free (kf);
  return g_bytes_new_take (data, size);
}

static gboolean
settings_parse (RaiiafExportSettings *s, gconstpointer data, gsize size)
{
  GKeyFile *kf = g_key_file_new ();
  gchar    *storage;
  gboolean  ok;

  ok = g_key_file_load_from_data (kf, data, size, G_KEY_FILE_NONE, NULL) &&
       g_key_file_has_group (kf, "export");
  storage = ok ? g_key_file_get_string (kf, "export", "latent-storage", NULL) : NULL;
  ok = ok && raiiaf_storage_from_name (storage) != -2;
  if (ok)
    {
      s->compression    = CLAMP (g_key_file_get_integer (kf, "export", "compression", NULL), 0, 9);
      s->latent_storage = raiiaf_storage_from_name (storage);
      s->keep_latents   = g_key_file_get_boolean (kf, "export", "keep-latents", NULL);
      g_free (s->prompt);
      g_free (s->model);
      s->prompt = g_key_file_get_string (kf, "export", "prompt", NULL);
      s->model  = g_key_file_get_string (kf, "export", "model", NULL);
      if (! s->prompt)
        s->prompt = g_strdup ("");
      if (! s->model)
        s->model = g_strdup ("");
      for (gsize i = 0; i < G_N_ELEMENTS (metadata_keys); i++)
        *metadata_flag (&s->metadata, i) =
          ! g_key_file_has_key (kf, "export", metadata_keys[i], NULL) ||
          g_key_file_get_boolean (kf, "export", metadata_keys[i], NULL);
    }
  g_free (storage);
  g_key_file_free (kf);
  return ok;
}

/* The settings remembered for this image, or else for the last export of
 * any image; *own says which. */
static void
settings_load_last (RaiiafExportSettings *s, gint32 image, gboolean *own)
{
  GimpParasite *parasite = gimp_image_get_parasite (image, LAST_SETTINGS_PARASITE);
  gint          size;

  *own = FALSE;
  if (parasite)
    {
      *own = settings_parse (s, gimp_parasite_data (parasite),
                             gimp_parasite_data_size (parasite));
      gimp_parasite_free (parasite);
      if (*own)
        return;
    }

  size = gimp_get_data_size (EXPORT_PROC);
  if (size > 0)
    {
      guint8 *data = g_malloc (size);

      gimp_get_data (EXPORT_PROC, data);
      settings_parse (s, data, size);
      g_free (data);
    }
}

static void
settings_store (const RaiiafExportSettings *s, gint32 image)
{
  GBytes       *bytes = settings_serialize (s);
  gsize         size;
  gconstpointer data = g_bytes_get_data (bytes, &size);
  GimpParasite *parasite;

  gimp_set_data (EXPORT_PROC, data, size);
  parasite = gimp_parasite_new (LAST_SETTINGS_PARASITE, GIMP_PARASITE_PERSISTENT,
                                size, data);
  gimp_image_attach_parasite (image, parasite);
  gimp_parasite_free (parasite);
  g_bytes_unref (bytes);
}

/* Whether the image has a parasite whose name starts with prefix: "raiiaf/"
 * for anything from a .raiiaf, PARASITE_LATENT_PREFIX for its latents. */
static gboolean
image_has_parasite (gint32 image, const gchar *prefix)
{
  gint     count = 0;
  gchar  **names = gimp_image_get_parasite_list (image, &count);
  gboolean found = FALSE;

  for (gint i = 0; i < count && ! found; i++)
    found = g_str_has_prefix (names[i], prefix);
  g_strfreev (names);
  return found;
}

/* ------------------------------------------------------------------ */
/* Export dialog                                                       */

/* The same choices and labels as the GIMP 3 dialog. */
static const struct
{
  const gchar *name;
  const gchar *label;
} storage_choices[] =
{
  { "keep", "As stored"      },
  { "auto", "Smallest"       },
  { "raw",  "Uncompressed"   },
  { "zfp",  "zfp (lossless)" },
};

/* The same labels as the GIMP 3 dialog's. */
static const gchar *const metadata_labels[] =
{
  "Save Ex_if", "Save _XMP", "Save PNG _text", "Save color pr_ofile",
  "Save resol_ution"
};

static gboolean
export_dialog (RaiiafExportSettings *s, gboolean latents)
{
  GtkWidget *dialog;
  GtkWidget *grid;
  GtkWidget *compression;
  GtkWidget *storage;
  GtkWidget *storage_label;
  GtkWidget *keep;
  GtkWidget *prompt;
  GtkWidget *model;
  GtkWidget *include[G_N_ELEMENTS (metadata_keys)];
  gboolean   run;
  gint       row = 0;

  dialog = gimp_export_dialog_new ("raiiaf", PLUG_IN_BINARY, EXPORT_PROC);

  grid = gtk_table_new (5 + G_N_ELEMENTS (metadata_keys), 2, FALSE);
  gtk_container_set_border_width (GTK_CONTAINER (grid), 12);
  gtk_table_set_row_spacings (GTK_TABLE (grid), 6);
  gtk_table_set_col_spacings (GTK_TABLE (grid), 6);
  gtk_box_pack_start (GTK_BOX (gimp_export_dialog_get_content_area (dialog)),
                      grid, TRUE, TRUE, 0);

  compression = gtk_spin_button_new_with_range (0, 9, 1);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (compression), s->compression);
  gimp_table_attach_aligned (GTK_TABLE (grid), 0, row++, "Co_mpression level:",
                             0.0, 0.5, compression, 1, TRUE);

  /* As in the GIMP 3 dialog: nothing to keep or store when the image has
   * no latents; the storage only matters while they are kept. */
  keep = gtk_check_button_new_with_mnemonic ("_Keep latents");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (keep), s->keep_latents);
  gtk_widget_set_sensitive (keep, latents);
  gtk_table_attach (GTK_TABLE (grid), keep, 0, 2, row, row + 1,
                    GTK_FILL, GTK_FILL, 0, 0);
  row++;

  storage = gtk_combo_box_text_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (storage_choices); i++)
    {
      gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (storage),
                                      storage_choices[i].label);
      if (raiiaf_storage_from_name (storage_choices[i].name) == s->latent_storage)
        gtk_combo_box_set_active (GTK_COMBO_BOX (storage), (gint) i);
    }
  storage_label = gimp_table_attach_aligned (GTK_TABLE (grid), 0, row++, "_Latent storage:",
                                             0.0, 0.5, storage, 1, TRUE);
  if (latents)
    {
      g_object_bind_property (keep, "active", storage, "sensitive", G_BINDING_SYNC_CREATE);
      g_object_bind_property (keep, "active", storage_label, "sensitive", G_BINDING_SYNC_CREATE);
    }
  else
    {
      gtk_widget_set_sensitive (storage, FALSE);
      gtk_widget_set_sensitive (storage_label, FALSE);
    }

  prompt = gtk_entry_new ();
  gtk_entry_set_text (GTK_ENTRY (prompt), s->prompt);
  gtk_widget_set_tooltip_text (prompt, "Empty keeps the image's own");
  gimp_table_attach_aligned (GTK_TABLE (grid), 0, row++, "_Prompt:",
                             0.0, 0.5, prompt, 1, FALSE);

  model = gtk_entry_new ();
  gtk_entry_set_text (GTK_ENTRY (model), s->model);
  gtk_widget_set_tooltip_text (model, "Empty keeps the image's own");
  gimp_table_attach_aligned (GTK_TABLE (grid), 0, row++, "_Model:",
                             0.0, 0.5, model, 1, FALSE);

  for (gsize i = 0; i < G_N_ELEMENTS (metadata_keys); i++)
    {
      include[i] = gtk_check_button_new_with_mnemonic (metadata_labels[i]);
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (include[i]),
                                    *metadata_flag (&s->metadata, i));
      gtk_table_attach (GTK_TABLE (grid), include[i], 0, 2, row, row + 1,
                        GTK_FILL, GTK_FILL, 0, 0);
      row++;
    }

  gtk_widget_show_all (dialog);
  run = gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK;

  if (run)
    {
      s->compression    = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (compression));
      s->keep_latents   = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (keep));
      s->latent_storage = raiiaf_storage_from_name
        (storage_choices[MAX (0, gtk_combo_box_get_active (GTK_COMBO_BOX (storage)))].name);
      g_free (s->prompt);
      g_free (s->model);
      s->prompt = g_strdup (gtk_entry_get_text (GTK_ENTRY (prompt)));
      s->model  = g_strdup (gtk_entry_get_text (GTK_ENTRY (model)));
      for (gsize i = 0; i < G_N_ELEMENTS (metadata_keys); i++)
        *metadata_flag (&s->metadata, i) =
          gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (include[i]));
    }
  gtk_widget_destroy (dialog);
  return run;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */

static GBytes *
lookup_parasite (const gchar *name, gpointer user_data)
{
  gint32        image = GPOINTER_TO_INT (user_data);
  GimpParasite *parasite = gimp_image_get_parasite (image, name);
  GBytes       *bytes;

  if (! parasite)
    return NULL;
  bytes = g_bytes_new (gimp_parasite_data (parasite),
                       gimp_parasite_data_size (parasite));
  gimp_parasite_free (parasite);
  return bytes;
}

/* An INDEXED(A) drawable as palette pixels (px->format, data, palette
 * and its alpha; *indices to g_free), as GIMP 2.10's PNG exporter writes
 * it: the colormap as PLTE, each index's alpha as tRNS, transparent
 * pixels on an entry of alpha 0 (one no pixel uses, else a new one). FALSE
 * when it cannot be one (pixels of one entry with different alpha, no
 * entry left for transparency): px stays as it was, exported RGB(A). */
static gboolean
export_indexed (gint32          image,
                gint32          drawable,
                raiiaf_pixels  *px,
                guchar        **indices,
                guint8          palette[768],
                guint8          alpha[256])
{
  gint        n_colors = 0;
  guchar     *colormap;
  gboolean    has_alpha = gimp_drawable_has_alpha (drawable);
  gboolean    seen[256] = { FALSE };
  gboolean    transparent = FALSE;
  gsize       n = (gsize) px->width * px->height;
  guchar     *raw;
  guchar     *data;
  GeglBuffer *buffer;
  gint        clear = -1;

  if (! gimp_drawable_is_indexed (drawable))
    return FALSE;
  colormap = gimp_image_get_colormap (image, &n_colors);
  if (! colormap || n_colors < 1 || n_colors > 256)
    {
      g_free (colormap);
      return FALSE;
    }
  memcpy (palette, colormap, (gsize) n_colors * 3);
  g_free (colormap);

  /* The indices in the buffer's own format: no conversion. */
  raw  = g_try_malloc (n * (has_alpha ? 2 : 1) + 1);
  data = g_try_malloc (n + 1);
  if (! raw || ! data)
    goto fail;
  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, GEGL_RECTANGLE (0, 0, (gint) px->width, (gint) px->height),
                   1.0, gegl_buffer_get_format (buffer), raw, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  g_object_unref (buffer);

  memset (alpha, 255, 256);
  for (gsize i = 0; i < n; i++)
    {
      guint index = has_alpha ? raw[2 * i] : raw[i];
      guint a     = has_alpha ? raw[2 * i + 1] : 255;

      if (a == 0)
        {
          transparent = TRUE;
          continue;
        }
      if (index >= (guint) n_colors || (seen[index] && alpha[index] != a))
        goto fail;
      seen[index]  = TRUE;
      alpha[index] = (guint8) a;
      data[i]      = (guchar) index;
    }
  if (transparent)
    {
      for (gint e = 0; clear < 0 && e < n_colors; e++)
        if (! seen[e])
          clear = e;
      if (clear < 0 && n_colors < 256)
        {
          clear = n_colors++;
          memset (palette + 3 * clear, 0, 3);
        }
      if (clear < 0)
        goto fail;
      alpha[clear] = 0;
      for (gsize i = 0; i < n; i++)
        if (raw[2 * i + 1] == 0)
          data[i] = (guchar) clear;
    }
  g_free (raw);
  raiiaf_pixels_set_palette (px, data, palette, (guint) n_colors, has_alpha ? alpha : NULL);
  *indices = data;
  return TRUE;

fail:
  g_free (raw);
  g_free (data);
  return FALSE;
}

/* gAMA as the PNG had it (GIMP 2.10's "gamma" parasite), 0 when none. */
static gdouble
image_gamma (gint32 image)
{
  GimpParasite *parasite = gimp_image_get_parasite (image, "gamma");
  gdouble       gamma = 0.0;

  if (parasite)
    {
      gchar *text = g_strndup (gimp_parasite_data (parasite),
                               gimp_parasite_data_size (parasite));

      gamma = g_ascii_strtod (text, NULL);
      g_free (text);
      gimp_parasite_free (parasite);
    }
  return gamma > 0.0 && gamma < 21474.83 ? gamma : 0.0;
}

/* Gives the writer the image: the file's own PNG bytes when the pixels,
 * profile, resolution and metadata are as opened, else the pixels encoded
 * with the metadata that goes out. *unchanged tells whether the pixels are
 * the ones opened (then the latents still describe them). */
static gboolean
set_image_from_drawable (raiiaf_writer              *w,
                         gint32                      image,
                         gint32                      drawable,
                         gint32                      original,
                         GKeyFile                   *origin,
                         const RaiiafExportSettings *s,
                         const gchar                *display_name,
                         gboolean                   *unchanged,
                         GError                    **error)
{
  GimpColorProfile    *profile;
  const RaiiafFormat  *map;
  GeglBuffer          *buffer;
  raiiaf_pixels        px = { 0 };
  RaiiafExportMetadata em;
  const guint8        *icc = NULL;
  gsize                icc_size = 0;
  gdouble              xres, yres;
  GBytes              *kept = NULL;
  void                *png = NULL;
  size_t               png_size = 0;
  char                 message[256] = "";
  guchar              *indices = NULL;
  guint8               palette[768];
  guint8               palette_alpha[256];
  gboolean             sixteen;
  guchar              *pixels;
  gsize                size;
  int                  err;

  /* As GIMP's PNG exporter: 8-bit precisions stay 8 bits, anything
   * deeper becomes 16. */
  switch (gimp_image_get_precision (image))
    {
    case GIMP_PRECISION_U8_LINEAR:
    case GIMP_PRECISION_U8_GAMMA:
      sixteen = FALSE;
      break;
    default:
      sixteen = TRUE;
      break;
    }

  map = raiiaf_format_for (gimp_drawable_is_gray (drawable),
                           gimp_drawable_has_alpha (drawable), sixteen);
  px.width  = (uint32_t) gimp_drawable_width (drawable);
  px.height = (uint32_t) gimp_drawable_height (drawable);
  px.format = map->format;

  pixels = raiiaf_export_pixels_new (&px, &size, display_name, error);
  if (! pixels)
    return FALSE;

  /* The drawable's own space: samples leave in the encoding of the
   * image's profile, which is written next to them. */
  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer,
                   GEGL_RECTANGLE (0, 0, (gint) px.width, (gint) px.height),
                   1.0,
                   babl_format_with_space (map->babl_name,
                                           gimp_drawable_get_format (drawable)),
                   pixels, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);
  px.data = pixels;

  /* NULL when the image uses GIMP's built-in sRGB: the PNG then says
   * nothing about colour, which means sRGB too. */
  profile = gimp_image_get_color_profile (original);
  if (profile)
    icc = gimp_color_profile_get_icc_profile (profile, &icc_size);
  gimp_image_get_resolution (original, &xres, &yres);

  *unchanged = raiiaf_origin_unchanged (origin, px.format, pixels, px.width, px.height,
                                        icc, icc_size);
  /* A file without pHYs opens at GIMP's default resolution; a change to
   * it makes the image dirty. */
  if (*unchanged && raiiaf_metadata_all_kept (&s->metadata) &&
      raiiaf_origin_same_resolution (origin, xres, yres, gimp_image_is_dirty (original)))
    kept = raiiaf_origin_png_bytes (origin);

  if (kept)
    {
      err = raiiaf_writer_set_image_png (w, g_bytes_get_data (kept, NULL),
                                         g_bytes_get_size (kept));
      g_bytes_unref (kept);
      if (err)
        raiiaf_export_error (error, display_name, w, err, "image");
    }
  else
    {
      if (profile && s->metadata.color_profile)
        {
          px.icc      = icc;
          px.icc_size = icc_size;
          px.icc_name = gimp_color_profile_get_label (profile);
        }
      else
        px.gamma = image_gamma (original);
      if (s->metadata.resolution)
        {
          px.ppm_x = (uint32_t) raiiaf_resolution_ppm (xres);
          px.ppm_y = (uint32_t) raiiaf_resolution_ppm (yres);
        }
      /* An INDEXED image stays a palette PNG. */
      export_indexed (image, drawable, &px, &indices, palette, palette_alpha);
      raiiaf_export_metadata_build (&em, origin, &s->metadata);
      err = raiiaf_encode_png (&px, s->compression, &em.meta, &png, &png_size,
                               message, sizeof message);
      raiiaf_export_metadata_clear (&em);
      if (err)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                     "Could not export '%s' (image): %s", display_name, message);
      else if ((err = raiiaf_writer_set_image_png (w, png, png_size)))
        raiiaf_export_error (error, display_name, w, err, "image");
      raiiaf_free (png);
    }

  g_clear_object (&profile);
  g_free (pixels);
  g_free (indices);
  return err == RAIIAF_OK;
}

static gboolean
export_image (const gchar                *path,
              gint32                      image,
              gint32                      drawable,
              gint32                      original,
              const RaiiafExportSettings *s,
              GError                    **error)
{
  raiiaf_writer *w;
  gchar         *display_name = g_filename_display_name (path);
  gchar        **names;
  gint           count = 0;
  GimpParasite  *parasite;
  GKeyFile      *origin = NULL;
  gboolean       unchanged = FALSE;
  gboolean       ok = FALSE;
  gchar         *imported_uri, *imported_path;

  w = raiiaf_writer_new ();
  if (! w)
    {
      raiiaf_export_error (error, display_name, NULL, RAIIAF_ENOMEM, "writer");
      g_free (display_name);
      return FALSE;
    }

  gimp_progress_init_printf ("Exporting '%s'", display_name);

  /* Parasites come from the image the user sees. */
  parasite = gimp_image_get_parasite (original, PARASITE_ORIGIN);
  if (parasite)
    {
      origin = raiiaf_origin_parse (gimp_parasite_data (parasite),
                                    gimp_parasite_data_size (parasite));
      gimp_parasite_free (parasite);
    }
  names = gimp_image_get_parasite_list (original, &count);
  imported_uri = gimp_image_get_imported_uri (original);
  imported_path = imported_uri ? g_filename_from_uri (imported_uri, NULL, NULL) : NULL;
  if (raiiaf_writer_add_parasites (w, origin, (const gchar * const *) names,
                                   lookup_parasite, GINT_TO_POINTER (original),
                                   s->keep_latents, s->latent_storage,
                                   display_name, error) &&
      set_image_from_drawable (w, image, drawable, original, origin, s,
                               display_name, &unchanged, error) &&
      raiiaf_writer_import_source_png (w, imported_path, lookup_parasite,
                                       GINT_TO_POINTER (original), s->metadata.text,
                                       display_name, error))
    {
      gimp_progress_update (0.5);
      ok = raiiaf_writer_finish (w, s, unchanged, GIMP_VERSION, path, display_name, error);
    }
  if (origin)
    g_key_file_free (origin);
  if (ok)
    gimp_progress_update (1.0);

  g_strfreev (names);
  g_free (imported_uri);
  g_free (imported_path);
  raiiaf_writer_free (w);
  g_free (display_name);
  return ok;
}

static GimpPDBStatusType
export (gint              nparams,
        const GimpParam  *param,
        GError          **error)
{
  GimpRunMode          run_mode = param[0].data.d_int32;
  gint32               original = param[1].data.d_int32;
  gint32               image    = original;
  gint32               drawable = param[2].data.d_int32;
  const gchar         *path     = param[3].data.d_string;
  GimpExportReturn     export   = GIMP_EXPORT_CANCEL;
  RaiiafExportSettings s;
  GimpPDBStatusType    status   = GIMP_PDB_SUCCESS;
  gint                 n_layers = 0;
  gboolean             own;

  raiiaf_export_settings_default (&s);

  if (run_mode == GIMP_RUN_NONINTERACTIVE)
    {
      /* gimp-file-save passes "" for every string argument it was not
       * given and 0 for the numbers: an empty latent-storage means "no
       * options", and the defaults keep everything. */
      const gchar *storage = nparams > 6 ? param[6].data.d_string : NULL;

      if (storage && *storage)
        {
          if ((nparams != 10 && nparams != 15) || raiiaf_storage_from_name (storage) == -2 ||
              param[5].data.d_int32 < 0 || param[5].data.d_int32 > 9)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           "file-raiiaf-export: compression must be 0-9 and "
                           "latent-storage one of keep, auto, raw, zfp");
              raiiaf_export_settings_clear (&s);
              return GIMP_PDB_EXECUTION_ERROR;
            }
          s.compression    = param[5].data.d_int32;
          s.latent_storage = raiiaf_storage_from_name (storage);
          s.keep_latents   = param[7].data.d_int32 != 0;
          g_free (s.prompt);
          g_free (s.model);
          s.prompt = g_strdup (param[8].data.d_string ? param[8].data.d_string : "");
          s.model  = g_strdup (param[9].data.d_string ? param[9].data.d_string : "");
          for (gsize i = 0; nparams == 15 && i < G_N_ELEMENTS (metadata_keys); i++)
            *metadata_flag (&s.metadata, i) = param[10 + i].data.d_int32 != 0;
        }
    }
  else
    {
      /* Remembered values come from this image's last export when it had
       * one, else from the last export of any image, which must not
       * change what an image opened from a .raiiaf has of its own. */
      settings_load_last (&s, original, &own);
      raiiaf_export_settings_protect (&s, image_has_parasite (original, "raiiaf/"), own);
    }

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      gimp_ui_init (PLUG_IN_BINARY, FALSE);
      export = gimp_export_image (&image, &drawable, "raiiaf",
                                  GIMP_EXPORT_CAN_HANDLE_RGB     |
                                  GIMP_EXPORT_CAN_HANDLE_GRAY    |
                                  GIMP_EXPORT_CAN_HANDLE_INDEXED |
                                  GIMP_EXPORT_CAN_HANDLE_ALPHA);
      if (export == GIMP_EXPORT_CANCEL ||
          ! export_dialog (&s, image_has_parasite (original, PARASITE_LATENT_PREFIX)))
        {
          if (export == GIMP_EXPORT_EXPORT)
            gimp_image_delete (image);
          raiiaf_export_settings_clear (&s);
          return GIMP_PDB_CANCEL;
        }
    }
  else
    {
      /* The visible image, as in GIMP 3, also from a script. */
      g_free (gimp_image_get_layers (image, &n_layers));
      if (n_layers != 1)
        {
          image = gimp_image_duplicate (original);
          drawable = gimp_image_merge_visible_layers (image, GIMP_CLIP_TO_IMAGE);
          export = GIMP_EXPORT_EXPORT;
        }
    }

  if (drawable < 0 ||
      ! export_image (path, image, drawable, original, &s, error))
    status = GIMP_PDB_EXECUTION_ERROR;
  else
    settings_store (&s, original);

  if (export == GIMP_EXPORT_EXPORT)
    gimp_image_delete (image);
  raiiaf_export_settings_clear (&s);
  return status;
}

/* ------------------------------------------------------------------ */

static void
run (const gchar      *name,
     gint              nparams,
     const GimpParam  *param,
     gint             *nreturn_vals,
     GimpParam       **return_vals)
{
  static GimpParam  values[6];
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  GError           *error  = NULL;

  gegl_init (NULL, NULL);

  *nreturn_vals = 1;
  *return_vals  = values;
  values[0].type          = GIMP_PDB_STATUS;
  values[0].data.d_status = GIMP_PDB_EXECUTION_ERROR;

  if (! strcmp (name, LOAD_PROC) && nparams >= 2)
    {
      gint32 image = -1;

      gboolean interactive = param[0].data.d_int32 != GIMP_RUN_NONINTERACTIVE;

      if (interactive)
        gimp_ui_init (PLUG_IN_BINARY, FALSE);
      status = load (param[1].data.d_string, interactive, &image, &error);
      if (status == GIMP_PDB_SUCCESS)
        {
          *nreturn_vals = 2;
          values[1].type = GIMP_PDB_IMAGE;
          values[1].data.d_image = image;
        }
    }
  else if (! strcmp (name, LOAD_THUMB_PROC) && nparams >= 1)
    {
      status = load_thumb (param[0].data.d_string, values, &error);
      if (status == GIMP_PDB_SUCCESS)
        *nreturn_vals = 6;
    }
  else if (! strcmp (name, EXPORT_PROC) && nparams >= 5)
    {
      status = export (nparams, param, &error);
    }
  else
    {
      status = GIMP_PDB_CALLING_ERROR;
    }

  if (status == GIMP_PDB_EXECUTION_ERROR && error)
    {
      *nreturn_vals = 2;
      values[1].type          = GIMP_PDB_STRING;
      values[1].data.d_string = error->message;
    }

  values[0].data.d_status = status;
}
