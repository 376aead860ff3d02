/* file-raiiaf: GIMP 3 file plug-in for .raiiaf files.
 *
 * SPDX-License-Identifier: MIT
 *
 * Translates between GIMP and libraiiaf, and nothing more: every question
 * about the format (chunks, manifest, latents) is answered by the library.
 *
 * Open: the embedded PNG becomes one layer at the PNG's own precision
 * (8 or 16 bits, grey or RGB, alpha when it has any), its ICC profile the
 * image's colour profile. What GIMP cannot show (manifest, environment,
 * latents) rides along as persistent image parasites named "raiiaf/...",
 * so it survives XCF and comes back on export. What a person reads goes
 * where GIMP shows it: the image comment (the generation parameters in the
 * AUTOMATIC1111 layout) and the XMP metadata (prompt, tags, model).
 *
 * Export: the visible image's pixels, plus whatever "raiiaf/" parasites the
 * image carries, handed to a raiiaf_writer, which replaces the target file
 * atomically.
 */

#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include <raiiaf.h>

#define LOAD_PROC       "file-raiiaf-load"
#define LOAD_THUMB_PROC "file-raiiaf-load-thumb"
#define EXPORT_PROC     "file-raiiaf-export"
#define PLUG_IN_BINARY  "file-raiiaf"

/* Parasite names: the prefix keeps ours apart from other plug-ins'. */
#define PARASITE_MANIFEST      "raiiaf/manifest"
#define PARASITE_ENVIRONMENT   "raiiaf/environment"
#define PARASITE_LATENT_PREFIX "raiiaf/latent/"

/* Where libgimp keeps an image's last export settings. */
#define CONFIG_LAST_PARASITE "GimpProcedureConfig-" EXPORT_PROC "-last"

/* GIMP's XCF loader refuses parasites larger than this, so a bigger latent
 * would open but be lost when the image is saved as XCF. */
#define XCF_MAX_PARASITE_SIZE ((guint64) 256 << 20)

typedef struct _Raiiaf      Raiiaf;
typedef struct _RaiiafClass RaiiafClass;

struct _Raiiaf
{
  GimpPlugIn parent_instance;
};

struct _RaiiafClass
{
  GimpPlugInClass parent_class;
};

#define RAIIAF_PLUG_IN_TYPE (raiiaf_plug_in_get_type ())

GType raiiaf_plug_in_get_type (void) G_GNUC_CONST;

static GList          *raiiaf_query_procedures (GimpPlugIn  *plug_in);
static GimpProcedure  *raiiaf_create_procedure (GimpPlugIn  *plug_in,
                                                const gchar *name);
static gboolean        raiiaf_set_i18n         (GimpPlugIn  *plug_in,
                                                const gchar *procedure_name,
                                                gchar      **gettext_domain,
                                                gchar      **catalog_dir);

static GimpValueArray *raiiaf_load       (GimpProcedure         *procedure,
                                          GimpRunMode            run_mode,
                                          GFile                 *file,
                                          GimpMetadata          *metadata,
                                          GimpMetadataLoadFlags *flags,
                                          GimpProcedureConfig   *config,
                                          gpointer               run_data);
static GimpValueArray *raiiaf_load_thumb (GimpProcedure         *procedure,
                                          GFile                 *file,
                                          gint                   size,
                                          GimpProcedureConfig   *config,
                                          gpointer               run_data);
static GimpValueArray *raiiaf_export     (GimpProcedure         *procedure,
                                          GimpRunMode            run_mode,
                                          GimpImage             *image,
                                          GFile                 *file,
                                          GimpExportOptions     *options,
                                          GimpMetadata          *metadata,
                                          GimpProcedureConfig   *config,
                                          gpointer               run_data);

G_DEFINE_TYPE (Raiiaf, raiiaf_plug_in, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (RAIIAF_PLUG_IN_TYPE)

static void
raiiaf_plug_in_class_init (RaiiafClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = raiiaf_query_procedures;
  plug_in_class->create_procedure = raiiaf_create_procedure;
  plug_in_class->set_i18n         = raiiaf_set_i18n;
}

static void
raiiaf_plug_in_init (Raiiaf *raiiaf)
{
  (void) raiiaf;
}

/* The plug-in has no translations; without this override GIMP prints a
 * "catalog directory does not exist" line on every run. */
static gboolean
raiiaf_set_i18n (GimpPlugIn  *plug_in,
                 const gchar *procedure_name,
                 gchar      **gettext_domain,
                 gchar      **catalog_dir)
{
  (void) plug_in;
  (void) procedure_name;
  (void) gettext_domain;
  (void) catalog_dir;
  return FALSE;
}

static GList *
raiiaf_query_procedures (GimpPlugIn *plug_in)
{
  GList *list = NULL;

  (void) plug_in;
  list = g_list_append (list, g_strdup (LOAD_THUMB_PROC));
  list = g_list_append (list, g_strdup (LOAD_PROC));
  list = g_list_append (list, g_strdup (EXPORT_PROC));

  return list;
}

static void
set_file_handlers (GimpProcedure *procedure)
{
  gimp_file_procedure_set_mime_types (GIMP_FILE_PROCEDURE (procedure),
                                      RAIIAF_MIME_TYPE);
  gimp_file_procedure_set_extensions (GIMP_FILE_PROCEDURE (procedure),
                                      "raiiaf");
}

static GimpProcedure *
raiiaf_create_procedure (GimpPlugIn  *plug_in,
                         const gchar *name)
{
  GimpProcedure *procedure = NULL;

  if (! strcmp (name, LOAD_PROC))
    {
      procedure = gimp_load_procedure_new (plug_in, name,
                                           GIMP_PDB_PROC_TYPE_PLUGIN,
                                           raiiaf_load, NULL, NULL);

      gimp_procedure_set_menu_label (procedure, "AI image artifact (raiiaf)");
      gimp_procedure_set_documentation
        (procedure,
         "Loads files in the raiiaf format",
         "Opens the image of a .raiiaf file (AI-generated image with its "
         "latents and generation metadata). The manifest, the environment "
         "and each latent are attached as persistent image parasites "
         "'" PARASITE_MANIFEST "', '" PARASITE_ENVIRONMENT "' and '"
         PARASITE_LATENT_PREFIX "<key>'; the generation parameters become "
         "the image comment.",
         name);
      gimp_procedure_set_attribution (procedure, "The raiiaf suite authors",
                                      "The raiiaf suite authors", "2026");

      set_file_handlers (procedure);
      gimp_file_procedure_set_magics (GIMP_FILE_PROCEDURE (procedure),
                                      "0,string," RAIIAF_MAGIC);
      gimp_load_procedure_set_thumbnail_loader (GIMP_LOAD_PROCEDURE (procedure),
                                                LOAD_THUMB_PROC);
    }
  else if (! strcmp (name, LOAD_THUMB_PROC))
    {
      procedure = gimp_thumbnail_procedure_new (plug_in, name,
                                                GIMP_PDB_PROC_TYPE_PLUGIN,
                                                raiiaf_load_thumb, NULL, NULL);

      gimp_procedure_set_documentation
        (procedure,
         "Loads a preview of a raiiaf file",
         "Decodes only the image of a .raiiaf file (never its latents) "
         "for the file dialog's preview.",
         name);
      gimp_procedure_set_attribution (procedure, "The raiiaf suite authors",
                                      "The raiiaf suite authors", "2026");
    }
  else if (! strcmp (name, EXPORT_PROC))
    {
      procedure = gimp_export_procedure_new (plug_in, name,
                                             GIMP_PDB_PROC_TYPE_PLUGIN,
                                             /* the container holds no
                                              * Exif/XMP: nothing for
                                              * libgimp to write into it */
                                             FALSE,
                                             raiiaf_export, NULL, NULL);

      gimp_procedure_set_image_types (procedure, "*");
      gimp_procedure_set_menu_label (procedure, "AI image artifact (raiiaf)");
      gimp_procedure_set_documentation
        (procedure,
         "Exports the image in the raiiaf format",
         "Writes the visible image as the PNG of a .raiiaf file (8 or 16 "
         "bits after the image's precision, alpha when the layer has it, "
         "the image's ICC profile). The image's '" PARASITE_MANIFEST "', '"
         PARASITE_ENVIRONMENT "' and '" PARASITE_LATENT_PREFIX "*' "
         "parasites are written back as manifest, environment and latents, "
         "and the manifest records that the image was edited in GIMP. The "
         "target is replaced only once the new file is complete.",
         name);
      gimp_procedure_set_attribution (procedure, "The raiiaf suite authors",
                                      "The raiiaf suite authors", "2026");

      set_file_handlers (procedure);
      gimp_file_procedure_set_format_name (GIMP_FILE_PROCEDURE (procedure),
                                           "raiiaf");
      gimp_export_procedure_set_capabilities (GIMP_EXPORT_PROCEDURE (procedure),
                                              GIMP_EXPORT_CAN_HANDLE_RGB  |
                                              GIMP_EXPORT_CAN_HANDLE_GRAY |
                                              GIMP_EXPORT_CAN_HANDLE_ALPHA,
                                              NULL, NULL, NULL);

      gimp_procedure_add_int_argument (procedure, "compression",
                                       "Co_mpression level",
                                       "PNG deflate level of the image: 0 "
                                       "(none, fastest) to 9 (smallest)",
                                       0, 9, 6, G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument
        (procedure, "latent-storage", "_Latent storage",
         "How the latents are stored: 'keep' (copied bit for bit as the "
         "file had them), 'auto' (the smaller of zfp and uncompressed), "
         "'raw' (uncompressed) or 'zfp' (lossless zfp). The values are the "
         "same either way.",
         gimp_choice_new_with_values ("keep", -1,                  "As stored", NULL,
                                      "auto", RAIIAF_STORAGE_AUTO, "Smallest", NULL,
                                      "raw",  RAIIAF_STORAGE_RAW,  "Uncompressed", NULL,
                                      "zfp",  RAIIAF_STORAGE_ZFP,  "zfp (lossless)", NULL,
                                      NULL),
         "keep", G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "keep-latents",
                                           "_Keep latents",
                                           "Write the latents the image "
                                           "carries (its '"
                                           PARASITE_LATENT_PREFIX
                                           "*' parasites) into the file",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, "prompt", "_Prompt",
                                          "Prompt recorded in the manifest; "
                                          "empty keeps the image's own",
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, "model", "_Model",
                                          "Model name recorded in the "
                                          "manifest; empty keeps the "
                                          "image's own",
                                          "", G_PARAM_READWRITE);
    }

  return procedure;
}

/* ------------------------------------------------------------------ */
/* Pixel formats: the library's and GIMP's names for the same layout.  */

typedef struct
{
  int                format;     /* enum raiiaf_format */
  GimpImageBaseType  base_type;
  GimpImageType      layer_type;
  GimpPrecision      precision;
  const gchar       *babl_name;  /* primed: samples as the PNG stores them */
} FormatMap;

static const FormatMap format_map[] =
{
  { RAIIAF_FMT_G8,     GIMP_GRAY, GIMP_GRAY_IMAGE,  GIMP_PRECISION_U8_NON_LINEAR,  "Y' u8"       },
  { RAIIAF_FMT_GA8,    GIMP_GRAY, GIMP_GRAYA_IMAGE, GIMP_PRECISION_U8_NON_LINEAR,  "Y'A u8"      },
  { RAIIAF_FMT_RGB8,   GIMP_RGB,  GIMP_RGB_IMAGE,   GIMP_PRECISION_U8_NON_LINEAR,  "R'G'B' u8"   },
  { RAIIAF_FMT_RGBA8,  GIMP_RGB,  GIMP_RGBA_IMAGE,  GIMP_PRECISION_U8_NON_LINEAR,  "R'G'B'A u8"  },
  { RAIIAF_FMT_G16,    GIMP_GRAY, GIMP_GRAY_IMAGE,  GIMP_PRECISION_U16_NON_LINEAR, "Y' u16"      },
  { RAIIAF_FMT_GA16,   GIMP_GRAY, GIMP_GRAYA_IMAGE, GIMP_PRECISION_U16_NON_LINEAR, "Y'A u16"     },
  { RAIIAF_FMT_RGB16,  GIMP_RGB,  GIMP_RGB_IMAGE,   GIMP_PRECISION_U16_NON_LINEAR, "R'G'B' u16"  },
  { RAIIAF_FMT_RGBA16, GIMP_RGB,  GIMP_RGBA_IMAGE,  GIMP_PRECISION_U16_NON_LINEAR, "R'G'B'A u16" },
};

static const FormatMap *
format_map_find (int format)
{
  for (gsize i = 0; i < G_N_ELEMENTS (format_map); i++)
    if (format_map[i].format == format)
      return &format_map[i];
  return NULL;
}

/* The library's format for a drawable being exported. */
static int
export_format_for (gboolean is_gray, gboolean has_alpha, gboolean sixteen)
{
  if (is_gray)
    {
      if (sixteen)
        return has_alpha ? RAIIAF_FMT_GA16 : RAIIAF_FMT_G16;
      return has_alpha ? RAIIAF_FMT_GA8 : RAIIAF_FMT_G8;
    }
  if (sixteen)
    return has_alpha ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGB16;
  return has_alpha ? RAIIAF_FMT_RGBA8 : RAIIAF_FMT_RGB8;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* GIMP shows the GError's message in its error dialog (or on the
 * console in batch mode): name the file and what the library found. */
static void
set_ctx_error (GError          **error,
               GFile            *file,
               const raiiaf_ctx *ctx,
               int               err)
{
  const char *detail = raiiaf_ctx_message (ctx);

  (void) err;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               "Could not open '%s' as a raiiaf file: %s",
               gimp_file_get_utf8_name (file), detail);
}

/* The library reads and writes by path: GIMP hands remote files to
 * plug-ins only when they say they handle them, and we do not. */
static gboolean
require_local_path (GFile *file, const gchar **path, GError **error)
{
  *path = g_file_peek_path (file);
  if (! *path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "'%s' is not a local file",
                   gimp_file_get_utf8_name (file));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Load                                                                */

/* What one file gives: everything is read and checked before a GIMP image
 * exists, so a corrupt file leaves no half-made image behind. */
typedef struct
{
  raiiaf_ctx        *ctx;
  raiiaf_image_info  info;
  const FormatMap   *map;
  guchar            *pixels;
  GimpColorProfile  *profile;
  GPtrArray         *parasites;  /* GimpParasite*, attached in this order */
  gchar             *comment;    /* gimp-comment text, or NULL */
} LoadedFile;

static void
loaded_file_clear (LoadedFile *lf)
{
  if (lf->parasites)
    g_ptr_array_free (lf->parasites, TRUE);
  g_clear_object (&lf->profile);
  g_free (lf->pixels);
  g_free (lf->comment);
  raiiaf_ctx_free (lf->ctx);
  memset (lf, 0, sizeof *lf);
}

static gboolean
read_pixels (LoadedFile *lf, GFile *file, GError **error)
{
  size_t size;
  int    err;

  if (lf->info.width > GIMP_MAX_IMAGE_SIZE ||
      lf->info.height > GIMP_MAX_IMAGE_SIZE)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': the image is %u x %u pixels, "
                   "more than GIMP's limit of %d per side",
                   gimp_file_get_utf8_name (file),
                   lf->info.width, lf->info.height, GIMP_MAX_IMAGE_SIZE);
      return FALSE;
    }

  lf->map = format_map_find (lf->info.format);
  if (! lf->map)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': unknown pixel format %d",
                   gimp_file_get_utf8_name (file), lf->info.format);
      return FALSE;
    }

  err = raiiaf_decoded_image_size (lf->ctx, lf->info.format, &size);
  if (err)
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }

  lf->pixels = g_try_malloc (size);
  if (! lf->pixels)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': not enough memory for %" G_GSIZE_FORMAT
                   " bytes of pixels",
                   gimp_file_get_utf8_name (file), (gsize) size);
      return FALSE;
    }

  err = raiiaf_decode_image (lf->ctx, lf->info.format, lf->pixels, size);
  if (err)
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }
  return TRUE;
}

/* A profile GIMP cannot use costs the profile, not the image: the pixels
 * are still the file's, as with GIMP's own PNG loader. */
static void
read_profile (LoadedFile *lf, GFile *file)
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
                 "it is ignored.", gimp_file_get_utf8_name (file),
                 raiiaf_ctx_message (lf->ctx));
      return;
    }

  lf->profile = gimp_color_profile_new_from_icc_profile (icc, icc_size,
                                                         &profile_error);
  if (! lf->profile)
    {
      g_message ("'%s': the ICC profile is not usable (%s); it is ignored.",
                 gimp_file_get_utf8_name (file), profile_error->message);
      g_clear_error (&profile_error);
      return;
    }

  /* GIMP refuses an RGB profile on a grey image and the reverse. */
  if (lf->map->base_type == GIMP_GRAY ? ! gimp_color_profile_is_gray (lf->profile)
                                      : ! gimp_color_profile_is_rgb (lf->profile))
    {
      g_message ("'%s': the ICC profile does not describe %s pixels; "
                 "it is ignored.", gimp_file_get_utf8_name (file),
                 lf->map->base_type == GIMP_GRAY ? "grey" : "RGB");
      g_clear_object (&lf->profile);
    }
}

static gboolean
add_parasite (LoadedFile  *lf,
              GFile       *file,
              const gchar *name,
              const void  *data,
              size_t       size,
              GError     **error)
{
  if ((guint64) size > G_MAXUINT32)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': '%s' takes %" G_GSIZE_FORMAT
                   " bytes, more than an image parasite can hold",
                   gimp_file_get_utf8_name (file), name, (gsize) size);
      return FALSE;
    }
  if ((guint64) size > XCF_MAX_PARASITE_SIZE)
    g_message ("'%s': '%s' takes %" G_GSIZE_FORMAT " bytes; GIMP will not "
               "be able to reopen it from an XCF file. Export to .raiiaf to "
               "keep it.", gimp_file_get_utf8_name (file), name, (gsize) size);

  g_ptr_array_add (lf->parasites,
                   gimp_parasite_new (name, GIMP_PARASITE_PERSISTENT,
                                      (guint32) size, data));
  return TRUE;
}

static gboolean
read_attachments (LoadedFile *lf, GFile *file, GError **error)
{
  const char *json;
  size_t      json_size;
  size_t      latent_count;
  const char *text;
  int         err;

  lf->parasites = g_ptr_array_new_with_free_func ((GDestroyNotify) gimp_parasite_free);

  err = raiiaf_get_manifest_json (lf->ctx, &json, &json_size);
  if (err)
    goto fail;
  if (! add_parasite (lf, file, PARASITE_MANIFEST, json, json_size, error))
    return FALSE;

  err = raiiaf_get_env_json (lf->ctx, &json, &json_size);
  if (err)
    goto fail;
  if (json && ! add_parasite (lf, file, PARASITE_ENVIRONMENT, json, json_size, error))
    return FALSE;

  err = raiiaf_get_latent_count (lf->ctx, &latent_count);
  if (err)
    goto fail;
  for (size_t i = 0; i < latent_count; i++)
    {
      raiiaf_latent_info  latent;
      void               *blob;
      size_t              blob_size;
      gchar              *name;
      gboolean            ok;

      err = raiiaf_get_latent_info (lf->ctx, i, &latent);
      if (err)
        goto fail;
      err = raiiaf_get_latent_stored (lf->ctx, i, &blob, &blob_size);
      if (err)
        goto fail;

      name = g_strconcat (PARASITE_LATENT_PREFIX, latent.key, NULL);
      ok = add_parasite (lf, file, name, blob, blob_size, error);
      g_free (name);
      raiiaf_free (blob);
      if (! ok)
        return FALSE;
    }

  /* The comment is a convenience for people: a file whose parameters
   * cannot be rendered still opens. gimp-comment must be UTF-8. */
  if (raiiaf_get_parameters_text (lf->ctx, &text) == RAIIAF_OK &&
      text && *text && g_utf8_validate (text, -1, NULL))
    lf->comment = g_strdup (text);

  return TRUE;

fail:
  set_ctx_error (error, file, lf->ctx, err);
  return FALSE;
}

static gboolean
open_file (LoadedFile *lf,
           GFile      *file,
           gboolean    with_attachments,
           GError    **error)
{
  const gchar *path;
  int          err;

  if (! require_local_path (file, &path, error))
    return FALSE;

  lf->ctx = raiiaf_ctx_new ();
  if (! lf->ctx)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': out of memory",
                   gimp_file_get_utf8_name (file));
      return FALSE;
    }

  err = raiiaf_open_file (lf->ctx, path);
  if (! err)
    err = raiiaf_get_image_info (lf->ctx, &lf->info);
  if (err)
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }

  if (! read_pixels (lf, file, error))
    return FALSE;
  if (with_attachments && ! read_attachments (lf, file, error))
    return FALSE;
  read_profile (lf, file);
  return TRUE;
}

static GimpImage *
create_image (LoadedFile *lf)
{
  GimpImage  *image;
  GimpLayer  *layer;
  GeglBuffer *buffer;
  const Babl *space = NULL;
  const Babl *format;

  image = gimp_image_new_with_precision (lf->info.width, lf->info.height,
                                         lf->map->base_type,
                                         lf->map->precision);
  if (lf->profile)
    gimp_image_set_color_profile (image, lf->profile);

  layer = gimp_layer_new (image, "Background",
                          lf->info.width, lf->info.height,
                          lf->map->layer_type, 100,
                          gimp_image_get_default_new_layer_mode (image));
  gimp_image_insert_layer (image, layer, NULL, 0);

  /* Samples are in the profile's encoding; telling babl so keeps GIMP
   * from converting them on the way in. */
  if (lf->profile)
    space = gimp_color_profile_get_space (lf->profile,
                                          GIMP_COLOR_RENDERING_INTENT_RELATIVE_COLORIMETRIC,
                                          NULL);
  format = babl_format_with_space (lf->map->babl_name, space);

  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  gegl_buffer_set (buffer,
                   GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                   0, format, lf->pixels, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);

  return image;
}

/* XMP for what a person reads. Keep in mind (see README): GIMP 3.0 cuts
 * language-alternative text such as dc:description at its first comma on
 * the way from the plug-in into the image; the full text is in the
 * comment and the manifest parasite. */
static void
fill_metadata (GimpMetadata *metadata, raiiaf_ctx *ctx)
{
  GExiv2Metadata *exiv = GEXIV2_METADATA (metadata);
  const char     *prompt = raiiaf_find_text (ctx, "prompt");
  const char     *model  = raiiaf_find_text (ctx, "model");
  const char     *tags   = raiiaf_find_text (ctx, "tags");

  if (prompt && *prompt)
    gexiv2_metadata_try_set_tag_string (exiv, "Xmp.dc.description", prompt, NULL);
  if (model && *model)
    gexiv2_metadata_try_set_tag_string (exiv, "Xmp.xmp.CreatorTool", model, NULL);
  if (tags && *tags)
    {
      /* dc:subject is a bag: one entry per tag */
      gchar **list = g_strsplit (tags, ", ", -1);

      gexiv2_metadata_try_set_tag_multiple (exiv, "Xmp.dc.subject",
                                            (const gchar **) list, NULL);
      g_strfreev (list);
    }
}

static GimpValueArray *
raiiaf_load (GimpProcedure         *procedure,
             GimpRunMode            run_mode,
             GFile                 *file,
             GimpMetadata          *metadata,
             GimpMetadataLoadFlags *flags,
             GimpProcedureConfig   *config,
             gpointer               run_data)
{
  GimpValueArray *return_vals;
  GimpImage      *image;
  LoadedFile      lf = { 0 };
  GError         *error = NULL;

  (void) run_mode;
  (void) config;
  (void) run_data;

  gegl_init (NULL, NULL);
  gimp_progress_init_printf ("Opening '%s'", gimp_file_get_utf8_name (file));

  if (! open_file (&lf, file, TRUE, &error))
    {
      loaded_file_clear (&lf);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_EXECUTION_ERROR,
                                               error);
    }

  image = create_image (&lf);

  for (guint i = 0; i < lf.parasites->len; i++)
    gimp_image_attach_parasite (image, g_ptr_array_index (lf.parasites, i));

  if (lf.comment)
    {
      GimpParasite *comment = gimp_parasite_new ("gimp-comment",
                                                 GIMP_PARASITE_PERSISTENT,
                                                 strlen (lf.comment) + 1,
                                                 lf.comment);
      gimp_image_attach_parasite (image, comment);
      gimp_parasite_free (comment);
    }

  if (metadata)
    fill_metadata (metadata, lf.ctx);

  /* Our profile (or the PNG's lack of one) is the truth; exiv2 found no
   * resolution or orientation in a container it does not know. */
  if (flags)
    *flags &= ~(GIMP_METADATA_LOAD_COLORSPACE | GIMP_METADATA_LOAD_ORIENTATION);

  loaded_file_clear (&lf);
  gimp_progress_update (1.0);

  return_vals = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_vals, 1, image);
  return return_vals;
}

static GimpValueArray *
raiiaf_load_thumb (GimpProcedure       *procedure,
                   GFile               *file,
                   gint                 size,
                   GimpProcedureConfig *config,
                   gpointer             run_data)
{
  GimpValueArray *return_vals;
  GimpImage      *image;
  LoadedFile      lf = { 0 };
  GError         *error = NULL;

  (void) size;    /* GIMP scales the image we return */
  (void) config;
  (void) run_data;

  gegl_init (NULL, NULL);

  /* The image only: latents can be far larger than the picture. */
  if (! open_file (&lf, file, FALSE, &error))
    {
      loaded_file_clear (&lf);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_EXECUTION_ERROR,
                                               error);
    }

  image = create_image (&lf);

  return_vals = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_vals, 1, image);
  GIMP_VALUES_SET_INT   (return_vals, 2, (gint) lf.info.width);
  GIMP_VALUES_SET_INT   (return_vals, 3, (gint) lf.info.height);
  GIMP_VALUES_SET_ENUM  (return_vals, 4, lf.map->layer_type);
  GIMP_VALUES_SET_INT   (return_vals, 5, 1);

  loaded_file_clear (&lf);
  return return_vals;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */

typedef struct
{
  gint      compression;
  gint      latent_storage;
  gboolean  keep_latents;
  gchar    *prompt;
  gchar    *model;
} ExportSettings;

static void
export_settings_read (ExportSettings *s, GimpProcedureConfig *config)
{
  g_object_get (config,
                "compression",  &s->compression,
                "keep-latents", &s->keep_latents,
                "prompt",       &s->prompt,
                "model",        &s->model,
                NULL);
  s->latent_storage = gimp_procedure_config_get_choice_id (config, "latent-storage");
}

static void
export_settings_clear (ExportSettings *s)
{
  g_free (s->prompt);
  g_free (s->model);
}

static gboolean
export_error (GError              **error,
              GFile                *file,
              const raiiaf_writer  *w,
              int                   err,
              const gchar          *what)
{
  const char *detail = raiiaf_writer_message (w);

  (void) err;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               "Could not export '%s' (%s): %s",
               gimp_file_get_utf8_name (file), what, detail);
  return FALSE;
}

/* Hands one JSON parasite, when the image has it, to a writer call. */
static gboolean
add_json_parasite (raiiaf_writer  *w,
                   GimpImage      *image,
                   const gchar    *name,
                   int           (*set_json) (raiiaf_writer *, const char *, size_t),
                   GFile          *file,
                   GError        **error)
{
  GimpParasite *parasite = gimp_image_get_parasite (image, name);
  guint32       size;
  gconstpointer data;
  int           err;

  if (! parasite)
    return TRUE;
  data = gimp_parasite_get_data (parasite, &size);
  err  = set_json (w, data, size);
  gimp_parasite_free (parasite);
  if (err)
    {
      gchar   *what = g_strdup_printf ("parasite %s", name);
      gboolean ok   = export_error (error, file, w, err, what);

      g_free (what);
      return ok;
    }
  return TRUE;
}

/* Feeds the writer from the image's "raiiaf/" parasites: what was opened
 * from a .raiiaf goes back in, bit for bit. */
static gboolean
add_parasites_to_writer (raiiaf_writer        *w,
                         GimpImage            *image,
                         const ExportSettings *s,
                         GFile                *file,
                         GError              **error)
{
  GimpParasite *parasite;
  gchar       **names;
  gboolean      ok = TRUE;
  int           err;

  if (! add_json_parasite (w, image, PARASITE_MANIFEST, raiiaf_writer_set_metadata_json,
                           file, error) ||
      ! add_json_parasite (w, image, PARASITE_ENVIRONMENT, raiiaf_writer_set_env_json,
                           file, error))
    return FALSE;

  if (! s->keep_latents)
    return TRUE;
  if (s->latent_storage >= 0)
    {
      err = raiiaf_writer_set_latent_storage (w, s->latent_storage);
      if (err)
        return export_error (error, file, w, err, "latent-storage");
    }

  names = gimp_image_get_parasite_list (image);
  for (gint i = 0; ok && names && names[i]; i++)
    {
      guint32       size;
      gconstpointer data;

      if (! g_str_has_prefix (names[i], PARASITE_LATENT_PREFIX))
        continue;
      parasite = gimp_image_get_parasite (image, names[i]);
      if (! parasite)
        continue;
      data = gimp_parasite_get_data (parasite, &size);
      err = raiiaf_writer_add_latent_stored (w, data, size);
      if (err)
        {
          gchar *what = g_strdup_printf ("parasite %s", names[i]);
          ok = export_error (error, file, w, err, what);
          g_free (what);
        }
      gimp_parasite_free (parasite);
    }
  g_strfreev (names);
  return ok;
}

static gboolean
set_image_from_drawable (raiiaf_writer        *w,
                         GimpImage            *image,
                         GimpDrawable         *drawable,
                         const ExportSettings *s,
                         GFile                *file,
                         GError              **error)
{
  GimpColorProfile *profile;
  const Babl       *format;
  const FormatMap  *map;
  GeglBuffer       *buffer;
  raiiaf_pixels     px = { 0 };
  gboolean          sixteen;
  gboolean          is_gray;
  gboolean          has_alpha;
  guchar           *pixels;
  gsize             size;
  int               err;

  /* As GIMP's PNG exporter: 8-bit precisions stay 8 bits, anything
   * deeper becomes 16. */
  switch (gimp_image_get_precision (image))
    {
    case GIMP_PRECISION_U8_LINEAR:
    case GIMP_PRECISION_U8_NON_LINEAR:
    case GIMP_PRECISION_U8_PERCEPTUAL:
      sixteen = FALSE;
      break;
    default:
      sixteen = TRUE;
      break;
    }
  is_gray   = gimp_drawable_is_gray (drawable);
  has_alpha = gimp_drawable_has_alpha (drawable);

  px.width  = (uint32_t) gimp_drawable_get_width (drawable);
  px.height = (uint32_t) gimp_drawable_get_height (drawable);
  px.format = export_format_for (is_gray, has_alpha, sixteen);
  map = format_map_find (px.format);

  if (! g_size_checked_mul (&size, px.width, px.height) ||
      ! g_size_checked_mul (&size, size, raiiaf_format_pixel_size (px.format)) ||
      ! (pixels = g_try_malloc (size)))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not export '%s': not enough memory for the pixels",
                   gimp_file_get_utf8_name (file));
      return FALSE;
    }

  /* The drawable's own space: samples leave in the encoding of the
   * image's profile, which is written next to them. */
  format = babl_format_with_space (map->babl_name, gimp_drawable_get_format (drawable));
  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer,
                   GEGL_RECTANGLE (0, 0, (gint) px.width, (gint) px.height),
                   1.0, format, pixels,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);
  px.data = pixels;

  /* NULL when the image uses GIMP's built-in sRGB: the PNG then says
   * nothing about colour, which means sRGB too. */
  profile = gimp_image_get_color_profile (image);
  if (profile)
    {
      gsize icc_size;

      px.icc      = gimp_color_profile_get_icc_profile (profile, &icc_size);
      px.icc_size = icc_size;
      px.icc_name = gimp_color_profile_get_label (profile);
    }

  err = raiiaf_writer_set_image_pixels (w, &px, s->compression);

  g_clear_object (&profile);
  g_free (pixels);

  if (err)
    return export_error (error, file, w, err, "image");
  return TRUE;
}

static gboolean
export_image (GFile                *file,
              GimpImage            *image,
              GimpDrawable         *drawable,
              GimpImage            *original,
              const ExportSettings *s,
              GError              **error)
{
  raiiaf_writer *w;
  const gchar   *path;
  gchar         *version;
  gboolean       ok = FALSE;
  int            err;

  if (! require_local_path (file, &path, error))
    return FALSE;

  w = raiiaf_writer_new ();
  if (! w)
    return export_error (error, file, NULL, RAIIAF_ENOMEM, "writer");

  gimp_progress_init_printf ("Exporting '%s'", gimp_file_get_utf8_name (file));

  /* Parasites come from the image the user sees; the exported copy made
   * by gimp_export_options_get_image() carries the same ones. */
  if (! add_parasites_to_writer (w, original, s, file, error))
    goto out;

  if (s->prompt && *s->prompt &&
      (err = raiiaf_writer_set_text (w, "prompt", s->prompt)))
    {
      export_error (error, file, w, err, "prompt");
      goto out;
    }
  if (s->model && *s->model &&
      (err = raiiaf_writer_set_text (w, "model", s->model)))
    {
      export_error (error, file, w, err, "model");
      goto out;
    }

  version = gimp_version ();
  err = raiiaf_writer_set_software (w, "GIMP", version, "edited");
  g_free (version);
  if (err)
    {
      export_error (error, file, w, err, "software");
      goto out;
    }

  if (! set_image_from_drawable (w, image, drawable, s, file, error))
    goto out;
  gimp_progress_update (0.5);

  /* Written beside the target and renamed over it: a failure here leaves
   * whatever file was there untouched. */
  err = raiiaf_writer_write_file (w, path);
  if (err)
    {
      export_error (error, file, w, err, "writing");
      goto out;
    }
  gimp_progress_update (1.0);
  ok = TRUE;

out:
  raiiaf_writer_free (w);
  return ok;
}

static gboolean
export_dialog (GimpProcedure       *procedure,
               GimpProcedureConfig *config,
               GimpImage           *image)
{
  GtkWidget *dialog;
  gboolean   run;

  dialog = gimp_export_procedure_dialog_new (GIMP_EXPORT_PROCEDURE (procedure),
                                             config, image);

  gimp_procedure_dialog_get_widget (GIMP_PROCEDURE_DIALOG (dialog),
                                    "compression", GIMP_TYPE_SPIN_SCALE);
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "compression", "keep-latents", "latent-storage",
                              "prompt", "model", NULL);

  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);

  return run;
}

static GimpValueArray *
raiiaf_export (GimpProcedure        *procedure,
               GimpRunMode           run_mode,
               GimpImage            *image,
               GFile                *file,
               GimpExportOptions    *options,
               GimpMetadata         *metadata,
               GimpProcedureConfig  *config,
               gpointer              run_data)
{
  GimpPDBStatusType  status = GIMP_PDB_SUCCESS;
  GimpExportReturn   export = GIMP_EXPORT_IGNORE;
  GimpImage         *original = image;
  ExportSettings     settings = { 0 };
  GList             *layers;
  GError            *error = NULL;

  (void) metadata;
  (void) run_data;

  gegl_init (NULL, NULL);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    {
      GimpParasite *manifest = gimp_image_get_parasite (image, PARASITE_MANIFEST);
      GimpParasite *own_last = gimp_image_get_parasite (image, CONFIG_LAST_PARASITE);

      /* Remembered values come from this image's last export when it had
       * one, else from the last export of any image. A prompt and model
       * remembered from another image must not be stamped over the ones
       * an image opened from a .raiiaf has of its own. */
      if (manifest && ! own_last)
        g_object_set (config, "prompt", "", "model", "", NULL);
      if (manifest)
        gimp_parasite_free (manifest);
      if (own_last)
        gimp_parasite_free (own_last);
    }

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      gimp_ui_init (PLUG_IN_BINARY);
      if (! export_dialog (procedure, config, image))
        return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
    }

  export_settings_read (&settings, config);

  export = gimp_export_options_get_image (options, &image);
  layers = gimp_image_list_layers (image);

  if (g_list_length (layers) != 1)
    {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not export '%s': expected one layer after "
                   "flattening, got %u",
                   gimp_file_get_utf8_name (file), g_list_length (layers));
      status = GIMP_PDB_EXECUTION_ERROR;
    }
  else if (! export_image (file, image, GIMP_DRAWABLE (layers->data), original,
                           &settings, &error))
    {
      status = GIMP_PDB_EXECUTION_ERROR;
    }

  g_list_free (layers);
  if (export == GIMP_EXPORT_EXPORT)
    gimp_image_delete (image);
  export_settings_clear (&settings);

  return gimp_procedure_new_return_values (procedure, status, error);
}
