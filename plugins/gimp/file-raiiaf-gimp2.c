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

typedef struct
{
  raiiaf_ctx         *ctx;
  raiiaf_image_info   info;
  const RaiiafFormat *format;
  guchar             *pixels;
  GimpColorProfile   *profile;
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
  g_free (lf->pixels);
  g_free (lf->comment);
  raiiaf_free (lf->png_meta);
  if (lf->origin)
    g_key_file_free (lf->origin);
  raiiaf_ctx_free (lf->ctx);
  memset (lf, 0, sizeof *lf);
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
    }
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
       (! with_attachments ||
        raiiaf_read_attachments (lf->ctx, display_name, &lf->attachments,
                                 &lf->comment, error));
  if (ok)
    read_profile (lf, display_name);
  if (ok && with_attachments)
    {
      const guint8 *icc = NULL;
      gsize         icc_size = 0;

      if (lf->profile)
        icc = gimp_color_profile_get_icc_profile (lf->profile, &icc_size);
      ok = raiiaf_origin_read (lf->ctx, path, &lf->info, lf->pixels, icc, icc_size,
                               &lf->png_meta, &lf->origin, display_name, error);
    }
  g_free (display_name);
  return ok;
}

static gint32
create_image (LoadedFile *lf, const gchar *path)
{
  gint32      image;
  gint32      layer;
  GeglBuffer *buffer;
  const Babl *space = NULL;
  const Babl *format;
  GimpImageType layer_type;

  image = gimp_image_new_with_precision (lf->info.width, lf->info.height,
                                         lf->format->is_gray ? GIMP_GRAY : GIMP_RGB,
                                         lf->format->sixteen ? GIMP_PRECISION_U16_GAMMA
                                                             : GIMP_PRECISION_U8_GAMMA);
  gimp_image_set_filename (image, path);
  /* As GIMP's PNG loader: pHYs is the resolution. */
  if (lf->info.ppm_x && lf->info.ppm_y)
    gimp_image_set_resolution (image, lf->info.ppm_x * 0.0254, lf->info.ppm_y * 0.0254);
  if (lf->profile)
    gimp_image_set_color_profile (image, lf->profile);

  if (lf->format->is_gray)
    layer_type = lf->format->has_alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  else
    layer_type = lf->format->has_alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;

  layer = gimp_layer_new (image, "Background",
                          lf->info.width, lf->info.height,
                          layer_type, 100,
                          gimp_image_get_default_new_layer_mode (image));
  gimp_image_insert_layer (image, layer, -1, 0);

  /* Samples are in the profile's encoding; telling babl so keeps GIMP
   * from converting them on the way in. */
  if (lf->profile)
    space = gimp_color_profile_get_space (lf->profile,
                                          GIMP_COLOR_RENDERING_INTENT_RELATIVE_COLORIMETRIC,
                                          NULL);
  format = babl_format_with_space (lf->format->babl_name, space);

  buffer = gimp_drawable_get_buffer (layer);
  gegl_buffer_set (buffer,
                   GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                   0, format, lf->pixels, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);

  return image;
}

static void
attach (gint32 image, const gchar *name, gconstpointer data, gsize size)
{
  GimpParasite *parasite = gimp_parasite_new (name, GIMP_PARASITE_PERSISTENT,
                                              (guint32) size, data);

  gimp_image_attach_parasite (image, parasite);
  gimp_parasite_free (parasite);
}

/* XMP for what a person reads, as the GIMP 3 plug-in gives it. */
static void
set_metadata (gint32 image, raiiaf_ctx *ctx)
{
  GimpMetadata   *metadata;
  GExiv2Metadata *exiv;
  const char     *prompt = raiiaf_find_text (ctx, "prompt");
  const char     *model  = raiiaf_find_text (ctx, "model");
  const char     *tags   = raiiaf_find_text (ctx, "tags");

  if (! (prompt && *prompt) && ! (model && *model) && ! (tags && *tags))
    return;

  metadata = gimp_metadata_new ();
  if (! metadata)
    return;
  exiv = GEXIV2_METADATA (metadata);
  if (prompt && *prompt)
    gexiv2_metadata_set_tag_string (exiv, "Xmp.dc.description", prompt);
  if (model && *model)
    gexiv2_metadata_set_tag_string (exiv, "Xmp.xmp.CreatorTool", model);
  if (tags && *tags)
    {
      gchar **list = g_strsplit (tags, ", ", -1);

      gexiv2_metadata_set_tag_multiple (exiv, "Xmp.dc.subject",
                                        (const gchar **) list);
      g_strfreev (list);
    }
  gimp_image_set_metadata (image, metadata);
  g_object_unref (metadata);
}

static GimpPDBStatusType
load (const gchar *path, gint32 *image_out, GError **error)
{
  LoadedFile lf = { 0 };
  gint32     image;
  gchar     *display_name = g_filename_display_name (path);

  gimp_progress_init_printf ("Opening '%s'", display_name);
  g_free (display_name);

  if (! open_file (&lf, path, TRUE, error))
    {
      loaded_file_clear (&lf);
      return GIMP_PDB_EXECUTION_ERROR;
    }

  image = create_image (&lf, path);

  for (guint i = 0; i < lf.attachments->len; i++)
    {
      RaiiafAttachment *a = g_ptr_array_index (lf.attachments, i);

      attach (image, a->name, a->data, a->size);
    }
  if (lf.comment)
    attach (image, "gimp-comment", lf.comment, strlen (lf.comment) + 1);
  if (lf.origin)
    {
      gsize  size;
      gchar *data = g_key_file_to_data (lf.origin, &size, NULL);

      attach (image, PARASITE_ORIGIN, data, size);
      g_free (data);
    }
  set_metadata (image, lf.ctx);

  loaded_file_clear (&lf);
  gimp_progress_update (1.0);
  *image_out = image;
  return GIMP_PDB_SUCCESS;
}

static GimpPDBStatusType
load_thumb (const gchar *path, GimpParam *values, GError **error)
{
  LoadedFile lf = { 0 };

  /* The image only: latents can be far larger than the picture. GIMP
   * scales the image we return. */
  if (! open_file (&lf, path, FALSE, error))
    {
      loaded_file_clear (&lf);
      return GIMP_PDB_EXECUTION_ERROR;
    }

  values[1].type = GIMP_PDB_IMAGE;
  values[1].data.d_image = create_image (&lf, path);
  values[2].type = GIMP_PDB_INT32;
  values[2].data.d_int32 = (gint32) lf.info.width;
  values[3].type = GIMP_PDB_INT32;
  values[3].data.d_int32 = (gint32) lf.info.height;
  values[4].type = GIMP_PDB_INT32;
  if (lf.format->is_gray)
    values[4].data.d_int32 = lf.format->has_alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  else
    values[4].data.d_int32 = lf.format->has_alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
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

static gboolean
image_has_raiiaf (gint32 image)
{
  gint     count = 0;
  gchar  **names = gimp_image_get_parasite_list (image, &count);
  gboolean found = FALSE;

  for (gint i = 0; i < count && ! found; i++)
    found = g_str_has_prefix (names[i], "raiiaf/");
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
export_dialog (RaiiafExportSettings *s)
{
  GtkWidget *dialog;
  GtkWidget *grid;
  GtkWidget *compression;
  GtkWidget *storage;
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

  keep = gtk_check_button_new_with_mnemonic ("_Keep latents");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (keep), s->keep_latents);
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
  gimp_table_attach_aligned (GTK_TABLE (grid), 0, row++, "_Latent storage:",
                             0.0, 0.5, storage, 1, TRUE);

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
      if (s->metadata.resolution)
        {
          px.ppm_x = (uint32_t) raiiaf_resolution_ppm (xres);
          px.ppm_y = (uint32_t) raiiaf_resolution_ppm (yres);
        }
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
      raiiaf_writer_import_source_png (w, imported_path, lookup_parasite,
                                       GINT_TO_POINTER (original), display_name, error) &&
      set_image_from_drawable (w, image, drawable, original, origin, s,
                               display_name, &unchanged, error))
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
      raiiaf_export_settings_protect (&s, image_has_raiiaf (original), own);
    }

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      gimp_ui_init (PLUG_IN_BINARY, FALSE);
      export = gimp_export_image (&image, &drawable, "raiiaf",
                                  GIMP_EXPORT_CAN_HANDLE_RGB  |
                                  GIMP_EXPORT_CAN_HANDLE_GRAY |
                                  GIMP_EXPORT_CAN_HANDLE_ALPHA);
      if (export == GIMP_EXPORT_CANCEL || ! export_dialog (&s))
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

      status = load (param[1].data.d_string, &image, &error);
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
