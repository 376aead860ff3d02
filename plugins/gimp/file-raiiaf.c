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

#include "colour.h"
#include "file-raiiaf-common.h"

#define LOAD_PROC       "file-raiiaf-load"
#define LOAD_THUMB_PROC "file-raiiaf-load-thumb"
#define EXPORT_PROC     "file-raiiaf-export"
#define PLUG_IN_BINARY  "file-raiiaf"

/* Parasite names, the origin record (PARASITE_ORIGIN), the pixel limit
 * and the pixel formats come from file-raiiaf-common, which the GIMP 2.10
 * plug-in shares. */

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

/* GIMP 3.0 closes its end of a plug-in's pipe once the procedure has
 * returned, racing the plug-in's own last flush (its quit message): libgimp
 * then warns "gimp_flush(): error: Broken pipe", typically after a failed
 * load, and GIMP's own file-png does the same. The result was delivered;
 * only this one warning is dropped, every other goes to the console. */
static void
drop_quit_race_warning (const gchar    *domain,
                        GLogLevelFlags  level,
                        const gchar    *message,
                        gpointer        data)
{
  (void) data;
  if (message && strstr (message, "gimp_flush(): error: Broken pipe"))
    return;
  g_log_default_handler (domain, level, message, NULL);
}

static void
raiiaf_plug_in_class_init (RaiiafClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  g_log_set_handler ("LibGimp", G_LOG_LEVEL_WARNING, drop_quit_race_warning, NULL);

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
         "parasites are written back as manifest, environment and latents "
         "(in the file's order), with the embedded PNG's XMP, Exif and text "
         "chunks. An image exported unchanged keeps the file's own PNG and "
         "records nothing; changed pixels are recorded as an edit in GIMP. "
         "The target is replaced only once the new file is complete.",
         name);
      gimp_procedure_set_attribution (procedure, "The raiiaf suite authors",
                                      "The raiiaf suite authors", "2026");

      set_file_handlers (procedure);
      gimp_file_procedure_set_format_name (GIMP_FILE_PROCEDURE (procedure),
                                           "raiiaf");
      gimp_export_procedure_set_capabilities (GIMP_EXPORT_PROCEDURE (procedure),
                                              GIMP_EXPORT_CAN_HANDLE_RGB  |
                                              GIMP_EXPORT_CAN_HANDLE_GRAY |
                                              GIMP_EXPORT_CAN_HANDLE_INDEXED |
                                              GIMP_EXPORT_CAN_HANDLE_ALPHA,
                                              NULL, NULL, NULL);

      /* In the order the dialog shows them. */
      gimp_procedure_add_int_argument (procedure, "compression",
                                       "Co_mpression level",
                                       "PNG deflate level of the image: 0 "
                                       "(none, fastest) to 9 (smallest). "
                                       "An image exported unchanged keeps "
                                       "the file's own PNG",
                                       0, 9, 6, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "keep-latents",
                                           "_Keep latents",
                                           "Write the latents the image "
                                           "carries into the file. Off "
                                           "drops them from this image's "
                                           "export",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument
        (procedure, "latent-storage", "Latent stora_ge",
         "How the latents are stored: \"As stored\" copies them bit for "
         "bit as the file had them; \"Smallest\" picks the smaller of zfp "
         "and uncompressed; \"Uncompressed\" and \"zfp (lossless)\" "
         "re-encode them. The values are the same either way",
         gimp_choice_new_with_values ("keep", -1,                  "As stored", NULL,
                                      "auto", RAIIAF_STORAGE_AUTO, "Smallest", NULL,
                                      "raw",  RAIIAF_STORAGE_RAW,  "Uncompressed", NULL,
                                      "zfp",  RAIIAF_STORAGE_ZFP,  "zfp (lossless)", NULL,
                                      NULL),
         "keep", G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, "prompt", "_Prompt",
                                          "Prompt recorded in the manifest; "
                                          "empty keeps the image's own",
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, "model", "Mo_del",
                                          "Model name recorded in the "
                                          "manifest; empty keeps the "
                                          "image's own",
                                          "", G_PARAM_READWRITE);
      /* The embedded PNG's metadata, as GIMP's PNG export offers it.
       * Unlike GIMP's own metadata options, they default to on in every
       * run mode: a .raiiaf keeps what it holds unless the user says. */
      gimp_procedure_add_boolean_argument (procedure, "include-exif",
                                           "Save Ex_if",
                                           "Write the PNG's Exif (eXIf) "
                                           "back as the file had it",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "include-xmp",
                                           "Save _XMP",
                                           "Write the PNG's XMP packet back "
                                           "as the file had it",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "include-text",
                                           "Save PNG _text",
                                           "Write the PNG's text chunks "
                                           "(Comment, parameters, ...) back "
                                           "as the file had them",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "include-color-profile",
                                           "Save color pr_ofile",
                                           "Write the image's ICC colour "
                                           "profile",
                                           TRUE, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_argument (procedure, "include-resolution",
                                           "Save resol_ution",
                                           "Write the image's resolution "
                                           "(Image > Print Size) as pHYs",
                                           TRUE, G_PARAM_READWRITE);
    }

  return procedure;
}

/* ------------------------------------------------------------------ */
/* Pixel formats: the library's and GIMP's names for the same layout.  */

/* GIMP's names for a library format (file-raiiaf-common's RaiiafFormat). */
static GimpImageBaseType
format_base_type (const RaiiafFormat *f)
{
  return f->is_gray ? GIMP_GRAY : GIMP_RGB;
}

static GimpImageType
format_layer_type (const RaiiafFormat *f)
{
  if (f->is_gray)
    return f->has_alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  return f->has_alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
}

static GimpPrecision
format_precision (const RaiiafFormat *f)
{
  return f->sixteen ? GIMP_PRECISION_U16_NON_LINEAR : GIMP_PRECISION_U8_NON_LINEAR;
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
  const RaiiafFormat *map;
  GimpColorProfile  *profile;
  RaiiafColour       colour;     /* palette and colour chunks (colour.c) */
  GPtrArray         *attachments; /* RaiiafAttachment*, attached in this order */
  gchar             *comment;    /* gimp-comment text, or NULL */
  raiiaf_png_metadata *png_meta; /* the embedded PNG's metadata, or NULL */
  GKeyFile          *origin;     /* becomes the PARASITE_ORIGIN parasite */
} LoadedFile;

static void
loaded_file_clear (LoadedFile *lf)
{
  if (lf->attachments)
    g_ptr_array_unref (lf->attachments);
  g_clear_object (&lf->profile);
  raiiaf_colour_clear (&lf->colour);
  g_free (lf->comment);
  raiiaf_free (lf->png_meta);
  if (lf->origin)
    g_key_file_free (lf->origin);
  raiiaf_ctx_free (lf->ctx);
  memset (lf, 0, sizeof *lf);
}

/* The pixels' digest (file-raiiaf-common's) with `profile` as their ICC
 * profile. Pixels go in by strips of RAIIAF_DIGEST_STRIP_ROWS rows, as they
 * are decoded at open. */
static gchar *
digest_finish (guint64 h, GimpColorProfile *profile)
{
  gsize         icc_size = 0;
  const guint8 *icc = profile ? gimp_color_profile_get_icc_profile (profile, &icc_size)
                              : NULL;

  return raiiaf_digest_finish (h, icc, icc_size);
}

/* The digest of a whole picture (rows packed). */
static gchar *
pixel_digest (const guchar *pixels, guint32 width, guint32 height, gsize pixel_size,
              GimpColorProfile *profile)
{
  return digest_finish (raiiaf_pixel_digest (pixels, width, height, pixel_size, NULL, 0),
                        profile);
}

static gboolean
check_pixels (LoadedFile *lf, GFile *file, GError **error)
{
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

  lf->map = raiiaf_format_find (lf->info.format);
  if (! lf->map)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': unknown pixel format %d",
                   gimp_file_get_utf8_name (file), lf->info.format);
      return FALSE;
    }
  return TRUE;
}

/* Decodes the pixels into the layer's buffer strip by strip, as GIMP's
 * PNG loader does: GIMP takes each strip while the next is decoded, and
 * only a strip is held here. An interlaced PNG is decoded whole first.
 * *digest receives the pixels' digest. */
static gboolean
decode_into (LoadedFile  *lf,
             GeglBuffer  *buffer,
             const Babl  *format,
             gchar      **digest,
             GFile       *file,
             GError     **error)
{
  gsize    pixel_size = raiiaf_format_pixel_size (lf->info.format);
  gsize    row = (gsize) lf->info.width * pixel_size;
  guint32  height = lf->info.height;
  gboolean whole = FALSE;
  guchar  *pixels = NULL;
  guint64  h = RAIIAF_DIGEST_SEED;
  size_t   size = 0;
  int      err;

  err = raiiaf_decode_rows_begin (lf->ctx, lf->info.format);
  if (err == RAIIAF_EUNSUPPORTED)
    {
      whole = TRUE;
      err = raiiaf_decoded_image_size (lf->ctx, lf->info.format, &size);
    }
  else
    size = row * MIN (RAIIAF_DIGEST_STRIP_ROWS, height);
  if (err)
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }
  pixels = g_try_malloc (size ? size : 1);
  if (! pixels)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': not enough memory for %" G_GSIZE_FORMAT
                   " bytes of pixels",
                   gimp_file_get_utf8_name (file), (gsize) size);
      return FALSE;
    }
  if (whole && (err = raiiaf_decode_image (lf->ctx, lf->info.format, pixels, size)))
    goto fail;

  for (guint32 y = 0; y < height; y += RAIIAF_DIGEST_STRIP_ROWS)
    {
      guint32  rows  = MIN (RAIIAF_DIGEST_STRIP_ROWS, height - y);
      guchar  *strip = whole ? pixels + y * row : pixels;

      for (guint32 r = 0; ! whole && r < rows; r++)
        if ((err = raiiaf_decode_row (lf->ctx, strip + r * row, row)))
          goto fail;
      h = raiiaf_digest_add (h, strip, rows * row);
      gegl_buffer_set (buffer, GEGL_RECTANGLE (0, (gint) y, (gint) lf->info.width, (gint) rows),
                       0, format, strip, GEGL_AUTO_ROWSTRIDE);
      if (y % (RAIIAF_DIGEST_STRIP_ROWS * 16) == 0)
        gimp_progress_update ((gdouble) y / height);
    }
  g_free (pixels);
  *digest = digest_finish (h, lf->profile);
  return TRUE;

fail:
  g_free (pixels);
  set_ctx_error (error, file, lf->ctx, err);
  return FALSE;
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
    {
      /* gAMA/cHRM without sRGB: a profile made of them, as GIMP does */
      lf->profile = raiiaf_colour_generated_profile (&lf->colour,
                                                     lf->map->is_gray);
      return;
    }
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
  if (lf->map->is_gray ? ! gimp_color_profile_is_gray (lf->profile)
                                      : ! gimp_color_profile_is_rgb (lf->profile))
    {
      g_message ("'%s': the ICC profile does not describe %s pixels; "
                 "it is ignored.", gimp_file_get_utf8_name (file),
                 lf->map->is_gray ? "grey" : "RGB");
      g_clear_object (&lf->profile);
    }
}

/* Where the image came from, for export (file-raiiaf-common's origin
 * record); the pixels' digest is added once they are decoded. */
static gboolean
read_origin (LoadedFile *lf, GFile *file, const gchar *path, GError **error)
{
  return raiiaf_origin_read (lf->ctx, path, &lf->info,
                             &lf->png_meta, &lf->origin,
                             gimp_file_get_utf8_name (file), error);
}

static gboolean
open_context (LoadedFile *lf, GFile *file, const gchar *path, GError **error)
{
  raiiaf_limits limits;
  int           err;

  lf->ctx = raiiaf_ctx_new ();
  if (! lf->ctx)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': out of memory",
                   gimp_file_get_utf8_name (file));
      return FALSE;
    }

  raiiaf_limits_default (&limits);
  limits.max_image_pixels = RAIIAF_GIMP_MAX_IMAGE_PIXELS;
  err = raiiaf_ctx_set_limits (lf->ctx, &limits);
  if (! err)
    err = raiiaf_open_file (lf->ctx, path);
  if (err)
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }
  return TRUE;
}

/* The picture's side of a file: size, format, profile. */
static gboolean
open_file (LoadedFile *lf,
           GFile      *file,
           GError    **error)
{
  const gchar *path;
  int          err;

  if (! require_local_path (file, &path, error) ||
      ! open_context (lf, file, path, error))
    return FALSE;

  if ((err = raiiaf_get_image_info (lf->ctx, &lf->info)))
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }
  if (! check_pixels (lf, file, error))
    return FALSE;
  if ((err = raiiaf_colour_read (&lf->colour, lf->ctx, &lf->info)))
    {
      set_ctx_error (error, file, lf->ctx, err);
      return FALSE;
    }
  read_profile (lf, file);
  return TRUE;
}

/* What rides along (manifest, environment, latents, the PNG's metadata,
 * the origin record), read and checked on a context of its own in a
 * thread, beside the decoding of the pixels. */
typedef struct
{
  LoadedFile  lf;
  GFile      *file;
  GError     *error;
  gboolean    ok;
} Attachments;

static gpointer
read_attachments_thread (gpointer data)
{
  Attachments *job = data;
  const gchar *path = g_file_peek_path (job->file);

  job->ok = open_context (&job->lf, job->file, path, &job->error) &&
            raiiaf_read_attachments (job->lf.ctx, gimp_file_get_utf8_name (job->file),
                                     &job->lf.attachments, &job->lf.comment,
                                     &job->error) &&
            read_origin (&job->lf, job->file, path, &job->error);
  return NULL;
}

/* The image, its layer and pixels; NULL (and no image left behind) when
 * the pixels cannot be decoded. */
static GimpImage *
create_image (LoadedFile *lf, GFile *file, gchar **digest, GError **error)
{
  GimpImage  *image;
  GimpLayer  *layer;
  GeglBuffer *buffer;
  const Babl *space = NULL;
  const Babl *format;
  gboolean    ok;

  if (lf->colour.indexed)
    {
      /* the digest of the pixels as an export reads them: the layer as
       * RGB(A) in its own space (GIMP's palette conversions on the way in
       * may give a pixel another entry of the same colour) */
      gsize       pixel_size = raiiaf_format_pixel_size (lf->info.format);
      guchar     *rgb = g_try_malloc ((gsize) lf->info.width * lf->info.height * pixel_size);
      GimpLayer  **layers;
      GimpDrawable *drawable;

      if (! rgb)
        {
          set_ctx_error (error, file, lf->ctx, RAIIAF_ENOMEM);
          return NULL;
        }
      image = raiiaf_colour_create_indexed (&lf->colour, &lf->info, lf->profile);
      layers = gimp_image_get_layers (image);
      drawable = GIMP_DRAWABLE (layers[0]);
      g_free (layers);
      buffer = gimp_drawable_get_buffer (drawable);
      gegl_buffer_get (buffer, GEGL_RECTANGLE (0, 0, (gint) lf->info.width, (gint) lf->info.height),
                       1.0, babl_format_with_space (lf->map->babl_name,
                                                    gimp_drawable_get_format (drawable)),
                       rgb, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      g_object_unref (buffer);
      *digest = pixel_digest (rgb, lf->info.width, lf->info.height, pixel_size, lf->profile);
      g_free (rgb);
      raiiaf_colour_attach (&lf->colour, image);
      return image;
    }

  image = gimp_image_new_with_precision (lf->info.width, lf->info.height,
                                         format_base_type (lf->map),
                                         format_precision (lf->map));
  if (lf->profile)
    gimp_image_set_color_profile (image, lf->profile);

  /* As GIMP's PNG loader: GIMP renames it after the file on File > Open. */
  layer = gimp_layer_new (image, "Background",
                          lf->info.width, lf->info.height,
                          format_layer_type (lf->map), 100,
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
  ok = decode_into (lf, buffer, format, digest, file, error);
  g_object_unref (buffer);
  if (! ok)
    {
      gimp_image_delete (image);
      return NULL;
    }
  raiiaf_colour_attach (&lf->colour, image);
  return image;
}

/* The image comment: the PNG's own "Comment" text when it has one (as
 * GIMP's PNG loader shows it), else the generation parameters. */
static void
set_comment (GimpImage *image, LoadedFile *lf)
{
  const gchar  *text = raiiaf_comment_text (lf->png_meta, lf->comment);
  GimpParasite *comment;

  if (! text)
    return;

  comment = gimp_parasite_new ("gimp-comment", GIMP_PARASITE_PERSISTENT,
                               strlen (text) + 1, text);
  gimp_image_attach_parasite (image, comment);
  gimp_parasite_free (comment);
}

/* The metadata GIMP shows (Image > Metadata): what exiv2 reads from the
 * embedded PNG (XMP, Exif, pHYs as Exif resolution), exactly as GIMP's PNG
 * loader gets it from a .png file, then what a person reads from the
 * manifest where the PNG says nothing. Keep in mind (see README): GIMP
 * 3.0 cuts language-alternative text such as dc:description at its first
 * comma on the way from a plug-in into the image, for its own PNG loader
 * as for this one. */
/* gexiv2 0.16 (with GIMP 3.2) gives has_tag/set_tag_* a GError and
 * deprecates the try_* names 0.14 (with GIMP 3.0) has for that form. */
#if GEXIV2_CHECK_VERSION (0, 16, 0)
#define raiiaf_exiv_has_tag          gexiv2_metadata_has_tag
#define raiiaf_exiv_set_tag_string   gexiv2_metadata_set_tag_string
#define raiiaf_exiv_set_tag_multiple gexiv2_metadata_set_tag_multiple
#else
#define raiiaf_exiv_has_tag          gexiv2_metadata_try_has_tag
#define raiiaf_exiv_set_tag_string   gexiv2_metadata_try_set_tag_string
#define raiiaf_exiv_set_tag_multiple gexiv2_metadata_try_set_tag_multiple
#endif

static void
fill_metadata (GimpMetadata *metadata, LoadedFile *lf)
{
  GExiv2Metadata *exiv = GEXIV2_METADATA (metadata);
  const char     *prompt = raiiaf_find_text (lf->ctx, "prompt");
  const char     *model  = raiiaf_find_text (lf->ctx, "model");
  const char     *tags   = raiiaf_find_text (lf->ctx, "tags");
  const void     *png;
  size_t          png_size;

  if (lf->png_meta && (lf->png_meta->xmp || lf->png_meta->exif) &&
      raiiaf_get_image_data (lf->ctx, &png, &png_size) == RAIIAF_OK &&
      png_size <= G_MAXLONG)
    gexiv2_metadata_open_buf (exiv, png, (glong) png_size, NULL);

  if (prompt && *prompt && ! raiiaf_exiv_has_tag (exiv, "Xmp.dc.description", NULL))
    raiiaf_exiv_set_tag_string (exiv, "Xmp.dc.description", prompt, NULL);
  if (model && *model && ! raiiaf_exiv_has_tag (exiv, "Xmp.xmp.CreatorTool", NULL))
    raiiaf_exiv_set_tag_string (exiv, "Xmp.xmp.CreatorTool", model, NULL);
  if (tags && *tags && ! raiiaf_exiv_has_tag (exiv, "Xmp.dc.subject", NULL))
    {
      /* dc:subject is a bag: one entry per tag */
      gchar **list = g_strsplit (tags, ", ", -1);

      raiiaf_exiv_set_tag_multiple (exiv, "Xmp.dc.subject",
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
  GimpImage      *image = NULL;
  LoadedFile      lf = { 0 };
  Attachments     job = { 0 };
  GThread        *thread;
  gchar          *digest = NULL;
  GError         *error = NULL;
  raiiaf_png_physical physical;
  gdouble         xres, yres;
  gboolean        in_mm;

  (void) run_mode;
  (void) config;
  (void) run_data;

  gegl_init (NULL, NULL);
  gimp_progress_init_printf ("Opening '%s'", gimp_file_get_utf8_name (file));

  /* The attachments are read beside the pixels; a failure of either
   * leaves no image. */
  job.file = file;
  if (open_file (&lf, file, &error))
    {
      job.lf.info = lf.info;
      thread = g_thread_new ("raiiaf-attachments", read_attachments_thread, &job);
      image = create_image (&lf, file, &digest, &error);
      g_thread_join (thread);
      if (! job.ok)
        {
          if (image)
            gimp_image_delete (image);
          image = NULL;
          g_clear_error (&error);
          error = g_steal_pointer (&job.error);
        }
    }
  if (! image)
    {
      loaded_file_clear (&job.lf);
      loaded_file_clear (&lf);
      g_free (digest);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_EXECUTION_ERROR,
                                               error);
    }
  lf.attachments = g_steal_pointer (&job.lf.attachments);
  lf.comment   = g_steal_pointer (&job.lf.comment);
  lf.png_meta  = g_steal_pointer (&job.lf.png_meta);
  lf.origin    = g_steal_pointer (&job.lf.origin);
  /* job.lf.ctx holds the manifest and environment the attachments point to */
  g_key_file_set_string (lf.origin, "origin", "pixels", digest);
  g_free (digest);

  for (guint i = 0; i < lf.attachments->len; i++)
    {
      RaiiafAttachment *a = g_ptr_array_index (lf.attachments, i);
      GimpParasite     *parasite = gimp_parasite_new (a->name, GIMP_PARASITE_PERSISTENT,
                                                      (guint32) a->size, a->data);

      raiiaf_attachment_warn_xcf (a, gimp_file_get_utf8_name (file));
      gimp_image_attach_parasite (image, parasite);
      gimp_parasite_free (parasite);
    }

  if (lf.origin)
    {
      gsize         size;
      gchar        *data = g_key_file_to_data (lf.origin, &size, NULL);
      GimpParasite *origin = gimp_parasite_new (PARASITE_ORIGIN,
                                                GIMP_PARASITE_PERSISTENT,
                                                (guint32) size, data);

      gimp_image_attach_parasite (image, origin);
      gimp_parasite_free (origin);
      g_free (data);
    }

  set_comment (image, &lf);

  if (metadata)
    fill_metadata (metadata, &lf);

  /* Our profile (or the PNG's lack of one) is the truth; the orientation
   * is the pixels' own; the comment is set above. */
  if (flags)
    *flags &= ~(GIMP_METADATA_LOAD_COLORSPACE | GIMP_METADATA_LOAD_ORIENTATION |
                GIMP_METADATA_LOAD_COMMENT);

  /* As GIMP's PNG loader: pHYs is the resolution (exiv2 shows it as the
   * Exif resolution too: one value). */
  gimp_image_get_resolution (image, &xres, &yres);
  if (raiiaf_get_png_physical (lf.ctx, &physical) == RAIIAF_OK &&
      raiiaf_phys_resolution (&physical, &xres, &yres, &in_mm))
    {
      gimp_image_set_resolution (image, xres, yres);
      if (in_mm)
        gimp_image_set_unit (image, gimp_unit_mm ());
      if (flags)
        *flags &= ~GIMP_METADATA_LOAD_RESOLUTION;
    }


  loaded_file_clear (&lf);
  loaded_file_clear (&job.lf);
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
  gchar          *digest = NULL;
  LoadedFile      lf = { 0 };
  GError         *error = NULL;

  (void) size;    /* GIMP scales the image we return */
  (void) config;
  (void) run_data;

  gegl_init (NULL, NULL);

  /* The image only: latents can be far larger than the picture. */
  if (! open_file (&lf, file, &error))
    {
      loaded_file_clear (&lf);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_EXECUTION_ERROR,
                                               error);
    }

  image = create_image (&lf, file, &digest, &error);
  g_free (digest);
  if (! image)
    {
      loaded_file_clear (&lf);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_EXECUTION_ERROR,
                                               error);
    }

  return_vals = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_vals, 1, image);
  GIMP_VALUES_SET_INT   (return_vals, 2, (gint) lf.info.width);
  GIMP_VALUES_SET_INT   (return_vals, 3, (gint) lf.info.height);
  GIMP_VALUES_SET_ENUM  (return_vals, 4,
                         raiiaf_colour_layer_type (&lf.colour, format_layer_type (lf.map)));
  GIMP_VALUES_SET_INT   (return_vals, 5, 1);

  loaded_file_clear (&lf);
  return return_vals;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */


/* Export settings are read from the config where they are used, one place
 * per option (as GIMP's own file-png.c does). */
static gboolean
config_flag (GimpProcedureConfig *config, const gchar *name)
{
  gboolean value = FALSE;

  g_object_get (config, name, &value, NULL);
  return value;
}

static gint
config_int (GimpProcedureConfig *config, const gchar *name)
{
  gint value = 0;

  g_object_get (config, name, &value, NULL);
  return value;
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

/* The image's parasite `name` for file-raiiaf-common, without a copy. */
static GBytes *
lookup_parasite (const gchar *name, gpointer user_data)
{
  GimpParasite *parasite = gimp_image_get_parasite (GIMP_IMAGE (user_data), name);
  gconstpointer data;
  guint32       size;

  if (! parasite)
    return NULL;
  data = gimp_parasite_get_data (parasite, &size);
  return g_bytes_new_with_free_func (data, size,
                                     (GDestroyNotify) gimp_parasite_free, parasite);
}

/* The image's origin record (see read_origin), or NULL. */
static GKeyFile *
origin_get (GimpImage *image)
{
  GBytes   *bytes = lookup_parasite (PARASITE_ORIGIN, image);
  GKeyFile *kf;
  gsize     size;
  gconstpointer data;

  if (! bytes)
    return NULL;
  data = g_bytes_get_data (bytes, &size);
  kf = raiiaf_origin_parse (data, size);
  g_bytes_unref (bytes);
  return kf;
}

/* Gives the writer the image: the file's own PNG bytes when the pixels,
 * profile, resolution and metadata are as opened, else the pixels encoded
 * with the metadata that goes out. *unchanged tells whether the pixels are
 * the ones opened (then the latents still describe them). */
static gboolean
set_image (raiiaf_writer       *w,
           GimpImage           *image,
           GimpDrawable        *drawable,
           GimpImage           *original,
           GKeyFile            *origin,
           GimpProcedureConfig *config,
           GFile               *file,
           gboolean            *unchanged,
           GError             **error)
{
  GimpColorProfile *profile;
  const Babl       *format;
  const RaiiafFormat *map;
  GeglBuffer       *buffer;
  raiiaf_pixels     px = { 0 };
  RaiiafExportMetadata em;
  RaiiafMetadataChoice choice = { 0 };
  gboolean          sixteen;
  guchar           *pixels;
  guchar           *indices = NULL;
  guint8            palette[768];
  guint8            palette_alpha[256];
  gsize             size;
  gdouble           xres, yres;
  gboolean          keep_profile;
  gboolean          keep_resolution;
  GBytes           *kept = NULL;
  void             *png = NULL;
  size_t            png_size = 0;
  char              message[256] = "";
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

  px.width  = (uint32_t) gimp_drawable_get_width (drawable);
  px.height = (uint32_t) gimp_drawable_get_height (drawable);
  map = raiiaf_format_for (gimp_drawable_is_gray (drawable),
                           gimp_drawable_has_alpha (drawable), sixteen);
  px.format = map->format;

  pixels = raiiaf_export_pixels_new (&px, &size, gimp_file_get_utf8_name (file), error);
  if (! pixels)
    return FALSE;

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
  profile = gimp_image_get_color_profile (original);
  gimp_image_get_resolution (original, &xres, &yres);

  {
    gsize         icc_size = 0;
    const guint8 *icc = profile ? gimp_color_profile_get_icc_profile (profile, &icc_size)
                                : NULL;

    *unchanged = raiiaf_origin_unchanged (origin, px.format, pixels,
                                          px.width, px.height, icc, icc_size);
  }

  choice.exif          = config_flag (config, "include-exif");
  choice.xmp           = config_flag (config, "include-xmp");
  choice.text          = config_flag (config, "include-text");
  choice.color_profile = config_flag (config, "include-color-profile");
  choice.resolution    = config_flag (config, "include-resolution");
  keep_profile    = choice.color_profile;
  keep_resolution = choice.resolution;
  raiiaf_export_metadata_build (&em, origin, &choice);

  /* A file without pHYs opens at GIMP's default resolution; a change to
   * it makes the image dirty. */
  if (*unchanged && raiiaf_metadata_all_kept (&choice) &&
      raiiaf_origin_same_resolution (origin, xres, yres,
                                     gimp_image_is_dirty (original)))
    kept = raiiaf_origin_png_bytes (origin);

  if (kept)
    {
      err = raiiaf_writer_set_image_png (w, g_bytes_get_data (kept, NULL),
                                         g_bytes_get_size (kept));
      g_bytes_unref (kept);
      raiiaf_export_metadata_clear (&em);
      g_clear_object (&profile);
      g_free (pixels);
      return err ? export_error (error, file, w, err, "image") : TRUE;
    }

  /* An INDEXED image stays a palette PNG. */
  raiiaf_colour_export_indexed (image, drawable, &px, &indices, palette, palette_alpha);
  if (profile && keep_profile)
    {
      gsize icc_size;

      px.icc      = gimp_color_profile_get_icc_profile (profile, &icc_size);
      px.icc_size = icc_size;
      px.icc_name = gimp_color_profile_get_label (profile);
      /* A profile made of the PNG's gAMA/cHRM goes back as those chunks. */
      raiiaf_colour_export_profile (original, profile, &px);
    }
  if (keep_resolution)
    {
      px.ppm_x = (uint32_t) raiiaf_resolution_ppm (xres);
      px.ppm_y = (uint32_t) raiiaf_resolution_ppm (yres);
    }

  err = raiiaf_encode_png (&px, config_int (config, "compression"), &em.meta,
                           &png, &png_size, message, sizeof message);
  raiiaf_export_metadata_clear (&em);
  g_clear_object (&profile);
  g_free (indices);
  g_free (pixels);
  if (err)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not export '%s' (image): %s",
                   gimp_file_get_utf8_name (file), message);
      return FALSE;
    }
  err = raiiaf_writer_set_image_png (w, png, png_size);
  raiiaf_free (png);
  return err ? export_error (error, file, w, err, "image") : TRUE;
}

static gboolean
export_image (GFile               *file,
              GimpImage           *image,
              GimpDrawable        *drawable,
              GimpImage           *original,
              GimpProcedureConfig *config,
              GError             **error)
{
  raiiaf_writer *w;
  const gchar   *path;
  gchar         *version;
  gchar         *prompt = NULL;
  gchar         *model = NULL;
  GKeyFile      *origin;
  gchar        **names = NULL;
  gboolean       unchanged = FALSE;
  gboolean       ok = FALSE;
  GFile         *imported;
  gchar         *imported_path;
  int            err;

  if (! require_local_path (file, &path, error))
    return FALSE;

  w = raiiaf_writer_new ();
  if (! w)
    return export_error (error, file, NULL, RAIIAF_ENOMEM, "writer");

  gimp_progress_init_printf ("Exporting '%s'", gimp_file_get_utf8_name (file));
  origin = origin_get (original);

  /* Parasites come from the image the user sees; the exported copy made
   * by gimp_export_options_get_image() carries the same ones. */
  names = gimp_image_get_parasite_list (original);
  if (! raiiaf_writer_add_parasites (w, origin, (const gchar * const *) names,
                                     lookup_parasite, original,
                                     config_flag (config, "keep-latents"),
                                     gimp_procedure_config_get_choice_id (config,
                                                                          "latent-storage"),
                                     gimp_file_get_utf8_name (file), error))
    goto out;

  g_object_get (config, "prompt", &prompt, "model", &model, NULL);
  if (prompt && *prompt &&
      (err = raiiaf_writer_set_text (w, "prompt", prompt)))
    {
      export_error (error, file, w, err, "prompt");
      goto out;
    }
  if (model && *model &&
      (err = raiiaf_writer_set_text (w, "model", model)))
    {
      export_error (error, file, w, err, "model");
      goto out;
    }

  if (! set_image (w, image, drawable, original, origin, config, file,
                   &unchanged, error))
    goto out;
  /* The imported PNG's own text chunks, into the image just encoded: the
   * config's prompt and model, set above, stay. */
  imported = gimp_image_get_imported_file (original);
  imported_path = imported ? g_file_get_path (imported) : NULL;
  ok = raiiaf_writer_import_source_png (w, imported_path, lookup_parasite, original,
                                        config_flag (config, "include-text"),
                                        gimp_file_get_utf8_name (file), error);
  g_free (imported_path);
  g_clear_object (&imported);
  if (! ok)
    goto out;
  ok = FALSE;
  gimp_progress_update (0.5);

  /* Pixels as opened: the latents still describe the image, nothing to
   * record. Otherwise the manifest says GIMP edited it. */
  version = gimp_version ();
  err = raiiaf_writer_set_software (w, "GIMP", version, unchanged ? NULL : "edited");
  g_free (version);
  if (err)
    {
      export_error (error, file, w, err, "software");
      goto out;
    }

  /* Written beside the target and renamed over it: a failure here leaves
   * whatever file was there untouched. As GIMP's own PNG export, the
   * library writes through a symbolic link and keeps the mode. */
  err = raiiaf_writer_write_file (w, path);
  if (err)
    {
      export_error (error, file, w, err, "writing");
      goto out;
    }
  gimp_progress_update (1.0);
  ok = TRUE;

out:
  if (origin)
    g_key_file_free (origin);
  g_strfreev (names);
  g_free (prompt);
  g_free (model);
  raiiaf_writer_free (w);
  return ok;
}

static gboolean
image_has_latents (GimpImage *image)
{
  gchar  **names = gimp_image_get_parasite_list (image);
  gboolean found = FALSE;

  for (gint i = 0; names && names[i] && ! found; i++)
    found = g_str_has_prefix (names[i], PARASITE_LATENT_PREFIX);
  g_strfreev (names);
  return found;
}

static gboolean
export_dialog (GimpProcedure       *procedure,
               GimpProcedureConfig *config,
               GimpImage           *image)
{
  GimpProcedureDialog *dialog;
  gboolean             latents = image_has_latents (image);
  gboolean             run;

  dialog = GIMP_PROCEDURE_DIALOG (gimp_export_procedure_dialog_new (GIMP_EXPORT_PROCEDURE (procedure),
                                                                    config, image));

  gimp_procedure_dialog_get_widget (dialog, "compression", GIMP_TYPE_SPIN_SCALE);

  /* Nothing to keep or store when the image has no latents; the storage
   * only matters while they are kept. */
  gimp_procedure_dialog_set_sensitive (dialog, "keep-latents", latents,
                                       NULL, NULL, FALSE);
  if (latents)
    gimp_procedure_dialog_set_sensitive (dialog, "latent-storage", TRUE,
                                         G_OBJECT (config), "keep-latents", FALSE);
  else
    gimp_procedure_dialog_set_sensitive (dialog, "latent-storage", FALSE,
                                         NULL, NULL, FALSE);

  gimp_procedure_dialog_fill_box (dialog, "metadata-box",
                                  "include-exif", "include-xmp", "include-text",
                                  "include-color-profile", "include-resolution",
                                  NULL);
  gimp_procedure_dialog_get_label (dialog, "metadata-label", "Metadata of the image",
                                   FALSE, FALSE);
  gimp_procedure_dialog_fill_frame (dialog, "metadata-frame", "metadata-label",
                                    FALSE, "metadata-box");

  gimp_procedure_dialog_fill (dialog,
                              "compression", "keep-latents", "latent-storage",
                              "prompt", "model", "metadata-frame", NULL);

  run = gimp_procedure_dialog_run (dialog);
  gtk_widget_destroy (GTK_WIDGET (dialog));

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
  GList             *layers;
  GError            *error = NULL;

  (void) metadata;
  (void) run_data;

  gegl_init (NULL, NULL);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    {
      GimpParasite *manifest = gimp_image_get_parasite (image, PARASITE_MANIFEST);
      /* libgimp's name for this image's last values */
      gchar        *last_name = g_strconcat (G_OBJECT_TYPE_NAME (config), "-last", NULL);
      GimpParasite *own_last = gimp_image_get_parasite (image, last_name);

      g_free (last_name);

      /* Remembered values come from this image's last export when it had
       * one, else from the last export of any image. What decides what a
       * .raiiaf keeps (latents, their storage, prompt, model, metadata)
       * must be chosen for this image: an image opened from a .raiiaf and
       * not exported yet starts from keeping everything. */
      if (manifest && ! own_last)
        g_object_set (config,
                      "keep-latents",          TRUE,
                      "latent-storage",        "keep",
                      "prompt",                "",
                      "model",                 "",
                      "include-exif",          TRUE,
                      "include-xmp",           TRUE,
                      "include-text",          TRUE,
                      "include-color-profile", TRUE,
                      "include-resolution",    TRUE,
                      NULL);
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
                           config, &error))
    {
      status = GIMP_PDB_EXECUTION_ERROR;
    }

  g_list_free (layers);
  if (export == GIMP_EXPORT_EXPORT)
    gimp_image_delete (image);

  return gimp_procedure_new_return_values (procedure, status, error);
}
