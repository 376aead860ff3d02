/* file-raiiaf-common: what the GIMP 2.10 and GIMP 3 plug-ins share.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "file-raiiaf-common.h"

static const RaiiafFormat formats[] =
{
  { RAIIAF_FMT_G8,     TRUE,  FALSE, FALSE, "Y' u8"       },
  { RAIIAF_FMT_GA8,    TRUE,  TRUE,  FALSE, "Y'A u8"      },
  { RAIIAF_FMT_RGB8,   FALSE, FALSE, FALSE, "R'G'B' u8"   },
  { RAIIAF_FMT_RGBA8,  FALSE, TRUE,  FALSE, "R'G'B'A u8"  },
  { RAIIAF_FMT_G16,    TRUE,  FALSE, TRUE,  "Y' u16"      },
  { RAIIAF_FMT_GA16,   TRUE,  TRUE,  TRUE,  "Y'A u16"     },
  { RAIIAF_FMT_RGB16,  FALSE, FALSE, TRUE,  "R'G'B' u16"  },
  { RAIIAF_FMT_RGBA16, FALSE, TRUE,  TRUE,  "R'G'B'A u16" },
};

const RaiiafFormat *
raiiaf_format_find (int format)
{
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    if (formats[i].format == format)
      return &formats[i];
  return NULL;
}

const RaiiafFormat *
raiiaf_format_for (gboolean is_gray, gboolean has_alpha, gboolean sixteen)
{
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    if (! formats[i].is_gray == ! is_gray &&
        ! formats[i].has_alpha == ! has_alpha &&
        ! formats[i].sixteen == ! sixteen)
      return &formats[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Open                                                                */

/* GIMP shows the GError's message in its error dialog (or on the
 * console in batch mode): name the file and what the library found. */
void
raiiaf_set_ctx_error (GError          **error,
                      const gchar      *display_name,
                      const raiiaf_ctx *ctx,
                      int               err)
{
  const char *detail = ctx ? raiiaf_ctx_message (ctx) : "";

  if (! detail || ! *detail)
    detail = raiiaf_strerror (err);

  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               "Could not open '%s' as a raiiaf file: %s",
               display_name, detail);
}

gboolean
raiiaf_open_and_decode (raiiaf_ctx         **ctx,
                        const gchar         *path,
                        const gchar         *display_name,
                        gint                 max_side,
                        raiiaf_image_info   *info,
                        const RaiiafFormat **format,
                        guchar             **pixels,
                        GError             **error)
{
  size_t size;
  int    err;

  *ctx = raiiaf_ctx_new ();
  if (! *ctx)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': out of memory", display_name);
      return FALSE;
    }

  err = raiiaf_open_file (*ctx, path);
  if (! err)
    err = raiiaf_get_image_info (*ctx, info);
  if (err)
    {
      raiiaf_set_ctx_error (error, display_name, *ctx, err);
      return FALSE;
    }

  if (info->width > (guint) max_side || info->height > (guint) max_side)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': the image is %u x %u pixels, "
                   "more than GIMP's limit of %d per side",
                   display_name, info->width, info->height, max_side);
      return FALSE;
    }

  *format = raiiaf_format_find (info->format);
  if (! *format)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': unknown pixel format %d",
                   display_name, info->format);
      return FALSE;
    }

  err = raiiaf_decoded_image_size (*ctx, info->format, &size);
  if (err)
    {
      raiiaf_set_ctx_error (error, display_name, *ctx, err);
      return FALSE;
    }

  *pixels = g_try_malloc (size);
  if (! *pixels)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': not enough memory for %" G_GSIZE_FORMAT
                   " bytes of pixels", display_name, (gsize) size);
      return FALSE;
    }

  err = raiiaf_decode_image (*ctx, info->format, *pixels, size);
  if (err)
    {
      raiiaf_set_ctx_error (error, display_name, *ctx, err);
      return FALSE;
    }
  return TRUE;
}

static void
attachment_free (gpointer p)
{
  RaiiafAttachment *a = p;

  g_free (a->name);
  raiiaf_free (a->owned);
  g_free (a);
}

static gboolean
add_attachment (GPtrArray   *list,
                const gchar *display_name,
                gchar       *name,     /* taken */
                gconstpointer data,
                gsize        size,
                gpointer     owned,    /* taken */
                GError     **error)
{
  RaiiafAttachment *a;

  if ((guint64) size > G_MAXUINT32)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Could not open '%s': '%s' takes %" G_GSIZE_FORMAT
                   " bytes, more than an image parasite can hold",
                   display_name, name, size);
      g_free (name);
      raiiaf_free (owned);
      return FALSE;
    }
  if ((guint64) size > XCF_MAX_PARASITE_SIZE)
    g_message ("'%s': '%s' takes %" G_GSIZE_FORMAT " bytes; GIMP will not "
               "be able to reopen it from an XCF file. Export to .raiiaf to "
               "keep it.", display_name, name, size);

  a = g_new0 (RaiiafAttachment, 1);
  a->name  = name;
  a->data  = data;
  a->size  = size;
  a->owned = owned;
  g_ptr_array_add (list, a);
  return TRUE;
}

gboolean
raiiaf_read_attachments (raiiaf_ctx   *ctx,
                         const gchar  *display_name,
                         GPtrArray   **attachments,
                         gchar       **comment,
                         GError      **error)
{
  GPtrArray  *list = g_ptr_array_new_with_free_func (attachment_free);
  const char *json;
  size_t      json_size;
  size_t      latent_count;
  const char *text;
  int         err;

  *attachments = NULL;
  *comment = NULL;

  err = raiiaf_get_manifest_json (ctx, &json, &json_size);
  if (err)
    goto fail;
  if (! add_attachment (list, display_name, g_strdup (PARASITE_MANIFEST),
                        json, json_size, NULL, error))
    goto out;

  err = raiiaf_get_env_json (ctx, &json, &json_size);
  if (err)
    goto fail;
  if (json && ! add_attachment (list, display_name, g_strdup (PARASITE_ENVIRONMENT),
                                json, json_size, NULL, error))
    goto out;

  err = raiiaf_get_latent_count (ctx, &latent_count);
  if (err)
    goto fail;
  for (size_t i = 0; i < latent_count; i++)
    {
      raiiaf_latent_info  latent;
      void               *blob;
      size_t              blob_size;

      err = raiiaf_get_latent_info (ctx, i, &latent);
      if (err)
        goto fail;
      err = raiiaf_get_latent_stored (ctx, i, &blob, &blob_size);
      if (err)
        goto fail;
      if (! add_attachment (list, display_name,
                            g_strconcat (PARASITE_LATENT_PREFIX, latent.key, NULL),
                            blob, blob_size, blob, error))
        goto out;
    }

  /* The comment is a convenience for people: a file whose parameters
   * cannot be rendered still opens. gimp-comment must be UTF-8. */
  if (raiiaf_get_parameters_text (ctx, &text) == RAIIAF_OK &&
      text && *text && g_utf8_validate (text, -1, NULL))
    *comment = g_strdup (text);

  *attachments = list;
  return TRUE;

fail:
  raiiaf_set_ctx_error (error, display_name, ctx, err);
out:
  g_ptr_array_unref (list);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */

static const struct
{
  const gchar *name;
  gint         storage;
} storages[] =
{
  { "keep", -1                  },
  { "auto", RAIIAF_STORAGE_AUTO },
  { "raw",  RAIIAF_STORAGE_RAW  },
  { "zfp",  RAIIAF_STORAGE_ZFP  },
};

gint
raiiaf_storage_from_name (const gchar *name)
{
  for (gsize i = 0; name && i < G_N_ELEMENTS (storages); i++)
    if (! g_ascii_strcasecmp (name, storages[i].name))
      return storages[i].storage;
  return -2;
}

const gchar *
raiiaf_storage_name (gint storage)
{
  for (gsize i = 0; i < G_N_ELEMENTS (storages); i++)
    if (storages[i].storage == storage)
      return storages[i].name;
  return NULL;
}

void
raiiaf_export_settings_default (RaiiafExportSettings *s)
{
  s->compression    = 6;
  s->latent_storage = -1;
  s->keep_latents   = TRUE;
  s->prompt         = g_strdup ("");
  s->model          = g_strdup ("");
}

void
raiiaf_export_settings_clear (RaiiafExportSettings *s)
{
  g_clear_pointer (&s->prompt, g_free);
  g_clear_pointer (&s->model, g_free);
}

void
raiiaf_export_settings_protect (RaiiafExportSettings *s,
                                gboolean              image_has_raiiaf,
                                gboolean              settings_are_own)
{
  if (! image_has_raiiaf || settings_are_own)
    return;
  g_free (s->prompt);
  g_free (s->model);
  s->prompt         = g_strdup ("");
  s->model          = g_strdup ("");
  s->keep_latents   = TRUE;
  s->latent_storage = -1;
}

gboolean
raiiaf_export_error (GError              **error,
                     const gchar          *display_name,
                     const raiiaf_writer  *w,
                     int                   err,
                     const gchar          *what)
{
  const char *detail = w ? raiiaf_writer_message (w) : "";

  if (! detail || ! *detail)
    detail = raiiaf_strerror (err);
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               "Could not export '%s' (%s): %s", display_name, what, detail);
  return FALSE;
}

static gboolean
parasite_error (GError              **error,
                const gchar          *display_name,
                const raiiaf_writer  *w,
                int                   err,
                const gchar          *name)
{
  gchar *what = g_strdup_printf ("parasite %s", name);

  raiiaf_export_error (error, display_name, w, err, what);
  g_free (what);
  return FALSE;
}

/* Hands one JSON parasite, when the image has it, to a writer call. */
static gboolean
add_json_parasite (raiiaf_writer         *w,
                   const gchar           *name,
                   int                  (*set_json) (raiiaf_writer *, const char *, size_t),
                   RaiiafParasiteLookup   lookup,
                   gpointer               user_data,
                   const gchar           *display_name,
                   GError               **error)
{
  GBytes *bytes = lookup (name, user_data);
  gsize   size;
  gconstpointer data;
  int     err;

  if (! bytes)
    return TRUE;
  data = g_bytes_get_data (bytes, &size);
  err  = set_json (w, data, size);
  g_bytes_unref (bytes);
  if (err)
    return parasite_error (error, display_name, w, err, name);
  return TRUE;
}

gboolean
raiiaf_writer_add_parasites (raiiaf_writer              *w,
                             const gchar * const        *names,
                             RaiiafParasiteLookup        lookup,
                             gpointer                    user_data,
                             const RaiiafExportSettings *s,
                             const gchar                *display_name,
                             GError                    **error)
{
  int err;

  if (! add_json_parasite (w, PARASITE_MANIFEST, raiiaf_writer_set_metadata_json,
                           lookup, user_data, display_name, error) ||
      ! add_json_parasite (w, PARASITE_ENVIRONMENT, raiiaf_writer_set_env_json,
                           lookup, user_data, display_name, error))
    return FALSE;

  if (! s->keep_latents)
    return TRUE;
  if (s->latent_storage >= 0)
    {
      err = raiiaf_writer_set_latent_storage (w, s->latent_storage);
      if (err)
        return raiiaf_export_error (error, display_name, w, err, "latent-storage");
    }

  for (gsize i = 0; names && names[i]; i++)
    {
      GBytes       *bytes;
      gconstpointer data;
      gsize         size;

      if (! g_str_has_prefix (names[i], PARASITE_LATENT_PREFIX))
        continue;
      bytes = lookup (names[i], user_data);
      if (! bytes)
        continue;
      data = g_bytes_get_data (bytes, &size);
      err = raiiaf_writer_add_latent_stored (w, data, size);
      g_bytes_unref (bytes);
      if (err)
        return parasite_error (error, display_name, w, err, names[i]);
    }
  return TRUE;
}

gboolean
raiiaf_writer_finish (raiiaf_writer              *w,
                      const RaiiafExportSettings *s,
                      const gchar                *gimp_version,
                      const gchar                *path,
                      const gchar                *display_name,
                      GError                    **error)
{
  int err;

  if (s->prompt && *s->prompt &&
      (err = raiiaf_writer_set_text (w, "prompt", s->prompt)))
    return raiiaf_export_error (error, display_name, w, err, "prompt");
  if (s->model && *s->model &&
      (err = raiiaf_writer_set_text (w, "model", s->model)))
    return raiiaf_export_error (error, display_name, w, err, "model");

  err = raiiaf_writer_set_software (w, "GIMP", gimp_version, "edited");
  if (err)
    return raiiaf_export_error (error, display_name, w, err, "software");

  /* Written beside the target and renamed over it: a failure here leaves
   * whatever file was there untouched. */
  err = raiiaf_writer_write_file (w, path);
  if (err)
    return raiiaf_export_error (error, display_name, w, err, "writing");
  return TRUE;
}
