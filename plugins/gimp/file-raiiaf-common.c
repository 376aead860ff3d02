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
  raiiaf_limits limits;
  size_t        size;
  int           err;

  *ctx = raiiaf_ctx_new ();
  if (! *ctx)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "Could not open '%s': out of memory", display_name);
      return FALSE;
    }

  raiiaf_limits_default (&limits);
  limits.max_image_pixels = RAIIAF_GIMP_MAX_IMAGE_PIXELS;
  err = raiiaf_ctx_set_limits (*ctx, &limits);
  if (! err)
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
   * cannot be rendered still opens. gimp-comment must be UTF-8. A file
   * that records nothing of its generation (its parameters are only the
   * image's size, "\nSize: WxH") has none, as its PNG alone has none. */
  if (raiiaf_get_parameters_text (ctx, &text) == RAIIAF_OK &&
      text && *text && g_utf8_validate (text, -1, NULL) &&
      ! (g_str_has_prefix (text, "\nSize: ") && ! strchr (text, ',')))
    *comment = g_strdup (text);

  *attachments = list;
  return TRUE;

fail:
  raiiaf_set_ctx_error (error, display_name, ctx, err);
out:
  g_ptr_array_unref (list);
  return FALSE;
}

void
raiiaf_pixels_set_palette (raiiaf_pixels *px,
                           const guchar  *indices,
                           const guint8  *palette,
                           guint          n_colors,
                           const guint8  *alpha)
{
  guint alpha_count = 0;

  if (alpha)
    {
      for (guint k = 0; k < n_colors; k++)
        if (alpha[k] != 255)
          alpha_count = k + 1;
      alpha_count = MAX (alpha_count, 1);
    }
  px->format              = RAIIAF_FMT_INDEX8;
  px->data                = indices;
  px->palette             = palette;
  px->palette_count       = n_colors;
  px->palette_alpha       = alpha;
  px->palette_alpha_count = alpha_count;
}

gboolean
raiiaf_phys_resolution (const raiiaf_png_physical *p,
                        gdouble                   *xres,
                        gdouble                   *yres,
                        gboolean                  *in_mm)
{
  *in_mm = FALSE;
  if (! p->has_phys || ! p->phys_x || ! p->phys_y)
    return FALSE;
  if (p->phys_unit)
    {
      *xres  = p->phys_x * 0.0254;
      *yres  = p->phys_y * 0.0254;
      *in_mm = TRUE;
    }
  else if (p->phys_x > p->phys_y)
    *xres = *yres * (gdouble) p->phys_x / (gdouble) p->phys_y;
  else
    *yres = *xres * (gdouble) p->phys_y / (gdouble) p->phys_x;
  return TRUE;
}

const gchar *
raiiaf_comment_text (const raiiaf_png_metadata *meta,
                     const gchar               *parameters)
{
  for (gsize i = 0; meta && i < meta->text_count; i++)
    if (! strcmp (meta->texts[i].keyword, "Comment") && *meta->texts[i].text &&
        g_utf8_validate (meta->texts[i].text, -1, NULL))
      return meta->texts[i].text;
  return parameters && *parameters ? parameters : NULL;
}

void
raiiaf_attachment_warn_xcf (const RaiiafAttachment *a,
                            const gchar            *display_name)
{
  if ((guint64) a->size > XCF_MAX_PARASITE_SIZE)
    g_message ("'%s': '%s' takes %" G_GSIZE_FORMAT " bytes; GIMP will not "
               "be able to reopen it from an XCF file. Export to .raiiaf to "
               "keep it.", display_name, a->name, a->size);
}

/* ------------------------------------------------------------------ */
/* Origin record                                                       */

/* It tells an edit from none (not an adversary's collision), and costs a
 * fraction of the decoding. The same digest as the GIMP 3 plug-in's (which
 * feeds it strip by strip while decoding), so that an origin record made
 * by either GIMP serves the other: strips of 64 rows, then the profile. */
guint64
raiiaf_digest_add (guint64 h, const guchar *data, gsize size)
{
  gsize i;

  h ^= size;
  for (i = 0; i + 8 <= size; i += 8)
    {
      guint64 v;

      memcpy (&v, data + i, 8);
      h = (h ^ (v * 0x9E3779B97F4A7C15ULL));
      h = ((h << 31) | (h >> 33)) * 0xC2B2AE3D27D4EB4FULL;
    }
  for (; i < size; i++)
    h = (h ^ data[i]) * 0x100000001B3ULL;
  return h;
}

guint64
raiiaf_pixel_digest (const guchar *data, guint32 width, guint32 height, gsize pixel_size,
                     const guint8 *icc, gsize icc_size)
{
  gsize   row = (gsize) width * pixel_size;
  guint64 h = RAIIAF_DIGEST_SEED;

  for (guint32 y = 0; y < height; y += RAIIAF_DIGEST_STRIP_ROWS)
    h = raiiaf_digest_add (h, data + y * row, MIN (RAIIAF_DIGEST_STRIP_ROWS, height - y) * row);
  if (icc)
    h = raiiaf_digest_add (h, icc, icc_size);
  return h;
}

static gchar *
hex_string (const guint8 *bytes, gsize n)
{
  gchar *hex = g_malloc (2 * n + 1);

  for (gsize i = 0; i < n; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

gchar *
raiiaf_digest_finish (guint64 h, const guint8 *icc, gsize icc_size)
{
  if (icc)
    h = raiiaf_digest_add (h, icc, icc_size);
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);
}

static gchar *
digest_string (const guchar *pixels, guint32 width, guint32 height, int format,
               const guint8 *icc, gsize icc_size)
{
  return raiiaf_digest_finish (raiiaf_pixel_digest (pixels, width, height,
                                                    raiiaf_format_pixel_size (format),
                                                    NULL, 0),
                               icc, icc_size);
}

/* The embedded PNG's metadata as stored, so that export writes back
 * exactly what the file had. */
static void
origin_set_png_metadata (GKeyFile *kf, const raiiaf_png_metadata *m)
{
  if (m->xmp)
    g_key_file_set_string (kf, "xmp", "packet", m->xmp);
  if (m->exif)
    {
      gchar *b64 = g_base64_encode (m->exif, m->exif_size);

      g_key_file_set_string (kf, "exif", "data", b64);
      g_free (b64);
    }
  for (gsize i = 0; i < m->text_count; i++)
    {
      const raiiaf_png_text *t = &m->texts[i];
      gchar *group = g_strdup_printf ("text %" G_GSIZE_FORMAT, i);

      g_key_file_set_string  (kf, group, "keyword", t->keyword);
      g_key_file_set_string  (kf, group, "text", t->text);
      g_key_file_set_boolean (kf, group, "compressed", t->compressed);
      g_key_file_set_boolean (kf, group, "international", t->international);
      g_key_file_set_string  (kf, group, "language", t->language);
      g_key_file_set_string  (kf, group, "translated-keyword", t->translated_keyword);
      g_free (group);
    }
}

gboolean
raiiaf_origin_read (raiiaf_ctx               *ctx,
                    const gchar              *path,
                    const raiiaf_image_info  *info,
                    raiiaf_png_metadata     **png_meta,
                    GKeyFile                **origin,
                    const gchar              *display_name,
                    GError                  **error)
{
  guint8     sha[32];
  gchar     *text;
  size_t     count = 0;
  GPtrArray *keys;
  GKeyFile  *kf;
  int        err;

  if ((err = raiiaf_get_image_sha256 (ctx, sha)) ||
      (err = raiiaf_get_latent_count (ctx, &count)) ||
      (err = raiiaf_get_png_metadata (ctx, png_meta)))
    {
      raiiaf_set_ctx_error (error, display_name, ctx, err);
      return FALSE;
    }

  kf = g_key_file_new ();
  text = g_canonicalize_filename (path, NULL);
  g_key_file_set_string (kf, "origin", "path", text);
  g_free (text);
  text = hex_string (sha, sizeof sha);
  g_key_file_set_string (kf, "origin", "image-sha256", text);
  g_free (text);
  g_key_file_set_integer (kf, "origin", "format", info->format);
  g_key_file_set_uint64 (kf, "origin", "ppm-x", info->ppm_x);
  g_key_file_set_uint64 (kf, "origin", "ppm-y", info->ppm_y);

  keys = g_ptr_array_new ();
  for (size_t i = 0; i < count; i++)
    {
      raiiaf_latent_info latent;

      if (raiiaf_get_latent_info (ctx, i, &latent) == RAIIAF_OK)
        g_ptr_array_add (keys, (gpointer) latent.key);
    }
  g_key_file_set_string_list (kf, "origin", "latents",
                              (const gchar * const *) keys->pdata, keys->len);
  g_ptr_array_free (keys, TRUE);

  origin_set_png_metadata (kf, *png_meta);
  *origin = kf;
  return TRUE;
}

GKeyFile *
raiiaf_origin_parse (gconstpointer data, gsize size)
{
  GKeyFile *kf = g_key_file_new ();

  if (! g_key_file_load_from_data (kf, data, size, G_KEY_FILE_NONE, NULL))
    g_clear_pointer (&kf, g_key_file_free);
  return kf;
}

gboolean
raiiaf_origin_unchanged (GKeyFile *origin, int format,
                         const guchar *pixels, guint32 width, guint32 height,
                         const guint8 *icc, gsize icc_size)
{
  gchar   *want;
  gchar   *have;
  gboolean same;

  if (! origin || g_key_file_get_integer (origin, "origin", "format", NULL) != format)
    return FALSE;
  want = g_key_file_get_string (origin, "origin", "pixels", NULL);
  have = digest_string (pixels, width, height, format, icc, icc_size);
  same = want && ! strcmp (want, have);
  g_free (want);
  g_free (have);
  return same;
}

guint64
raiiaf_resolution_ppm (gdouble dpi)
{
  return dpi > 0 ? (guint64) (dpi / 0.0254 + 0.5) : 0;
}

gboolean
raiiaf_origin_same_resolution (GKeyFile *origin, gdouble xres, gdouble yres,
                               gboolean dirty)
{
  guint64 ppm_x = g_key_file_get_uint64 (origin, "origin", "ppm-x", NULL);
  guint64 ppm_y = g_key_file_get_uint64 (origin, "origin", "ppm-y", NULL);

  return ppm_x ? (raiiaf_resolution_ppm (xres) == ppm_x &&
                  raiiaf_resolution_ppm (yres) == ppm_y)
               : ! dirty;
}

GBytes *
raiiaf_origin_png_bytes (GKeyFile *origin)
{
  gchar      *path = g_key_file_get_string (origin, "origin", "path", NULL);
  gchar      *want = g_key_file_get_string (origin, "origin", "image-sha256", NULL);
  raiiaf_ctx *ctx  = path && want ? raiiaf_ctx_new () : NULL;
  GBytes     *bytes = NULL;
  guint8      sha[32];
  const void *data;
  size_t      size;

  if (ctx &&
      raiiaf_open_file (ctx, path) == RAIIAF_OK &&
      raiiaf_get_image_sha256 (ctx, sha) == RAIIAF_OK)
    {
      gchar *have = hex_string (sha, sizeof sha);

      /* the bytes are checked against the same digest as they are read */
      if (! strcmp (have, want) &&
          raiiaf_get_image_data (ctx, &data, &size) == RAIIAF_OK)
        bytes = g_bytes_new (data, size);
      g_free (have);
    }
  raiiaf_ctx_free (ctx);
  g_free (path);
  g_free (want);
  return bytes;
}

gboolean
raiiaf_metadata_all_kept (const RaiiafMetadataChoice *c)
{
  return c->exif && c->xmp && c->text && c->color_profile && c->resolution;
}

void
raiiaf_export_metadata_build (RaiiafExportMetadata       *em,
                              GKeyFile                   *origin,
                              const RaiiafMetadataChoice *choice)
{
  memset (em, 0, sizeof *em);
  em->texts   = g_array_new (FALSE, TRUE, sizeof (raiiaf_png_text));
  em->strings = g_ptr_array_new_with_free_func (g_free);
  if (! origin)
    return;

  if (choice->xmp)
    {
      gchar *xmp = g_key_file_get_string (origin, "xmp", "packet", NULL);

      if (xmp)
        {
          g_ptr_array_add (em->strings, xmp);
          em->meta.xmp      = xmp;
          em->meta.xmp_size = strlen (xmp);
        }
    }
  if (choice->exif)
    {
      gchar *b64 = g_key_file_get_string (origin, "exif", "data", NULL);

      if (b64)
        {
          gsize size;

          em->exif = g_base64_decode (b64, &size);
          em->meta.exif      = em->exif;
          em->meta.exif_size = size;
          g_free (b64);
        }
    }
  if (choice->text)
    {
      for (gint i = 0; ; i++)
        {
          gchar          *group = g_strdup_printf ("text %d", i);
          raiiaf_png_text t = { 0 };
          gchar          *keyword = g_key_file_get_string (origin, group, "keyword", NULL);
          gchar          *text;

          if (! keyword)
            {
              g_free (group);
              break;
            }
          text = g_key_file_get_string (origin, group, "text", NULL);
          t.keyword            = keyword;
          t.text               = text ? text : "";
          t.size               = strlen (t.text);
          t.compressed         = g_key_file_get_boolean (origin, group, "compressed", NULL);
          t.international      = g_key_file_get_boolean (origin, group, "international", NULL);
          t.language           = g_key_file_get_string (origin, group, "language", NULL);
          t.translated_keyword = g_key_file_get_string (origin, group, "translated-keyword", NULL);
          g_ptr_array_add (em->strings, keyword);
          g_ptr_array_add (em->strings, text);
          g_ptr_array_add (em->strings, (gpointer) t.language);
          g_ptr_array_add (em->strings, (gpointer) t.translated_keyword);
          g_array_append_val (em->texts, t);
          g_free (group);
        }
    }
  em->meta.texts      = (const raiiaf_png_text *) em->texts->data;
  em->meta.text_count = em->texts->len;
}

void
raiiaf_export_metadata_clear (RaiiafExportMetadata *em)
{
  g_array_free (em->texts, TRUE);
  g_ptr_array_free (em->strings, TRUE);
  g_free (em->exif);
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
  s->metadata       = RAIIAF_METADATA_ALL;
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
  s->metadata       = RAIIAF_METADATA_ALL;
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

static gboolean
add_latent (raiiaf_writer         *w,
            const gchar           *name,
            RaiiafParasiteLookup   lookup,
            gpointer               user_data,
            const gchar           *display_name,
            GError               **error)
{
  GBytes       *bytes = lookup (name, user_data);
  gconstpointer data;
  gsize         size;
  int           err;

  if (! bytes)
    return TRUE;
  data = g_bytes_get_data (bytes, &size);
  err = raiiaf_writer_add_latent_stored (w, data, size);
  g_bytes_unref (bytes);
  if (err)
    return parasite_error (error, display_name, w, err, name);
  return TRUE;
}

gboolean
raiiaf_writer_add_parasites (raiiaf_writer              *w,
                             GKeyFile                   *origin,
                             const gchar * const        *names,
                             RaiiafParasiteLookup        lookup,
                             gpointer                    user_data,
                             gboolean                    keep_latents,
                             gint                        latent_storage,
                             const gchar                *display_name,
                             GError                    **error)
{
  GHashTable *done;
  gchar     **order;
  gboolean    ok = TRUE;
  int         err;

  if (! add_json_parasite (w, PARASITE_MANIFEST, raiiaf_writer_set_metadata_json,
                           lookup, user_data, display_name, error) ||
      ! add_json_parasite (w, PARASITE_ENVIRONMENT, raiiaf_writer_set_env_json,
                           lookup, user_data, display_name, error))
    return FALSE;

  if (! keep_latents)
    return TRUE;
  if (latent_storage >= 0)
    {
      err = raiiaf_writer_set_latent_storage (w, latent_storage);
      if (err)
        return raiiaf_export_error (error, display_name, w, err, "latent-storage");
    }

  done  = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  order = origin ? g_key_file_get_string_list (origin, "origin", "latents", NULL, NULL)
                 : NULL;
  for (gint i = 0; ok && order && order[i]; i++)
    {
      gchar *name = g_strconcat (PARASITE_LATENT_PREFIX, order[i], NULL);

      if (g_hash_table_contains (done, name))
        g_free (name);
      else
        {
          ok = add_latent (w, name, lookup, user_data, display_name, error);
          g_hash_table_add (done, name);
        }
    }
  for (gsize i = 0; ok && names && names[i]; i++)
    if (g_str_has_prefix (names[i], PARASITE_LATENT_PREFIX) &&
        ! g_hash_table_contains (done, names[i]))
      ok = add_latent (w, names[i], lookup, user_data, display_name, error);

  g_strfreev (order);
  g_hash_table_destroy (done);
  return ok;
}

/* What the library takes as a PNG at most: its image chunk limit. */
#define SOURCE_PNG_MAX ((goffset) 1 << 30)

/* GIMP's PNG loader makes the file's "Comment" the image comment: what the
 * user left of it is the host's text for that keyword. */
static int
keep_source_texts (raiiaf_writer        *w,
                   gconstpointer         png,
                   gsize                 size,
                   RaiiafParasiteLookup  lookup,
                   gpointer              user_data)
{
  GBytes         *comment = lookup ("gimp-comment", user_data);
  raiiaf_png_text now = { 0 };
  int             err;

  if (comment)
    {
      gsize         n;
      const gchar  *text = g_bytes_get_data (comment, &n);

      now.keyword = "Comment";
      now.text    = text;
      now.size    = text ? strnlen (text, n) : 0;
      if (! text || ! g_utf8_validate (text, now.size, NULL))
        g_clear_pointer (&comment, g_bytes_unref);
    }
  err = raiiaf_writer_keep_png_texts (w, png, size, comment ? &now : NULL, comment ? 1 : 0,
                                      NULL, 0);
  if (comment)
    g_bytes_unref (comment);
  return err ? err : raiiaf_writer_import_png_text (w);
}

gboolean
raiiaf_writer_import_source_png (raiiaf_writer        *w,
                                 const gchar          *path,
                                 RaiiafParasiteLookup  lookup,
                                 gpointer              user_data,
                                 gboolean              keep_texts,
                                 const gchar          *display_name,
                                 GError              **error)
{
  GBytes      *manifest;
  GMappedFile *mapped;
  int          err;

  if (! path)
    return TRUE;
  manifest = lookup (PARASITE_MANIFEST, user_data);
  if (manifest)
    {
      g_bytes_unref (manifest);
      return TRUE;
    }
  if (! g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  mapped = g_mapped_file_new (path, FALSE, NULL);
  if (! mapped)
    return TRUE;
  err = RAIIAF_OK;
  if (g_mapped_file_get_length (mapped) <= (gsize) SOURCE_PNG_MAX &&
      raiiaf_check_signature (g_mapped_file_get_contents (mapped),
                              g_mapped_file_get_length (mapped)) == 0)
    {
      if (keep_texts)
        err = keep_source_texts (w, g_mapped_file_get_contents (mapped),
                                 g_mapped_file_get_length (mapped), lookup, user_data);
      else
        err = raiiaf_writer_import_png_bytes (w, g_mapped_file_get_contents (mapped),
                                              g_mapped_file_get_length (mapped));
      if (err == RAIIAF_ENOTPNG)
        err = RAIIAF_OK;
    }
  g_mapped_file_unref (mapped);
  if (err)
    return raiiaf_export_error (error, display_name, w, err, "the imported PNG's text");
  return TRUE;
}

gboolean
raiiaf_writer_finish (raiiaf_writer              *w,
                      const RaiiafExportSettings *s,
                      gboolean                    unchanged,
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

  /* Pixels as opened: the latents still describe the image, nothing to
   * record. Otherwise the manifest says GIMP edited it. */
  err = raiiaf_writer_set_software (w, "GIMP", gimp_version, unchanged ? NULL : "edited");
  if (err)
    return raiiaf_export_error (error, display_name, w, err, "software");

  /* Written beside the target and renamed over it: a failure here leaves
   * whatever file was there untouched. */
  err = raiiaf_writer_write_file (w, path);
  if (err)
    return raiiaf_export_error (error, display_name, w, err, "writing");
  return TRUE;
}

guchar *
raiiaf_export_pixels_new (const raiiaf_pixels *px,
                          gsize              *size,
                          const gchar        *display_name,
                          GError            **error)
{
  guchar *pixels = NULL;

  if (! g_size_checked_mul (size, px->width, px->height) ||
      ! g_size_checked_mul (size, *size, raiiaf_format_pixel_size (px->format)) ||
      ! (pixels = g_try_malloc (*size)))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                 "Could not export '%s': not enough memory for the pixels",
                 display_name);
  return pixels;
}
