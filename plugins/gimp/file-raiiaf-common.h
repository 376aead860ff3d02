/* file-raiiaf-common: what the GIMP 2.10 and GIMP 3 plug-ins share.
 *
 * SPDX-License-Identifier: MIT
 *
 * Host-independent (GLib and libraiiaf only): the parasite names, the
 * pixel formats, what a file gives the image (manifest, environment and
 * latents in the file's order, the comment), what an image gives the
 * writer back, the export settings and the rule that protects an image's
 * own latents and metadata from settings remembered for another image.
 * The plug-ins translate these to and from their GIMP's API only.
 */
#ifndef FILE_RAIIAF_COMMON_H
#define FILE_RAIIAF_COMMON_H

#include <glib.h>
#include <raiiaf.h>

/* Parasite names: the same in GIMP 2.10 and 3, so an XCF carries them
 * between the two. */
#define PARASITE_MANIFEST      "raiiaf/manifest"
#define PARASITE_ENVIRONMENT   "raiiaf/environment"
#define PARASITE_LATENT_PREFIX "raiiaf/latent/"

/* GIMP's XCF loader refuses parasites larger than this, so a bigger latent
 * would open but be lost when the image is saved as XCF. */
#define XCF_MAX_PARASITE_SIZE ((guint64) 256 << 20)

/* ---- pixel formats ---------------------------------------------------- */

typedef struct
{
  int          format;     /* enum raiiaf_format */
  gboolean     is_gray;
  gboolean     has_alpha;
  gboolean     sixteen;
  const gchar *babl_name;  /* primed: samples as the PNG stores them */
} RaiiafFormat;

const RaiiafFormat *raiiaf_format_find (int format);
/* The library's format for pixels being exported. */
const RaiiafFormat *raiiaf_format_for  (gboolean is_gray,
                                        gboolean has_alpha,
                                        gboolean sixteen);

/* ---- open --------------------------------------------------------------- */

/* One parasite's worth of data, in the order it is to be attached. */
typedef struct
{
  gchar          *name;
  gconstpointer   data;
  gsize           size;
  gpointer        owned;   /* freed with raiiaf_free(), or NULL */
} RaiiafAttachment;

/* GError for a library error on file `display_name`. */
void     raiiaf_set_ctx_error      (GError          **error,
                                    const gchar      *display_name,
                                    const raiiaf_ctx *ctx,
                                    int               err);

/* Opens `path`, checks the image fits `max_side` and decodes it into
 * *pixels (g_free); *format is the image's. */
gboolean raiiaf_open_and_decode    (raiiaf_ctx         **ctx,
                                    const gchar         *path,
                                    const gchar         *display_name,
                                    gint                 max_side,
                                    raiiaf_image_info   *info,
                                    const RaiiafFormat **format,
                                    guchar             **pixels,
                                    GError             **error);

/* The manifest, environment and latents (in the file's order) as a
 * GPtrArray of RaiiafAttachment (free with g_ptr_array_unref), and the
 * generation parameters as UTF-8 comment text (*comment, g_free; NULL when
 * the file has none). Warns with g_message() about parasites too large for
 * XCF. */
gboolean raiiaf_read_attachments   (raiiaf_ctx   *ctx,
                                    const gchar  *display_name,
                                    GPtrArray   **attachments,
                                    gchar       **comment,
                                    GError      **error);

/* ---- export ------------------------------------------------------------- */

typedef struct
{
  gint      compression;     /* PNG deflate level 0-9 */
  gint      latent_storage;  /* -1: as stored, else enum raiiaf_storage */
  gboolean  keep_latents;
  gchar    *prompt;          /* "" or NULL: the image's own */
  gchar    *model;
} RaiiafExportSettings;

void     raiiaf_export_settings_default (RaiiafExportSettings *s);
void     raiiaf_export_settings_clear   (RaiiafExportSettings *s);
/* Remembered settings are applied to an image only when they are its own:
 * for an image that carries a file's manifest or latents and has no export
 * of its own yet, a prompt, model, "no latents" or storage remembered from
 * another image's export must not change what its file had. */
void     raiiaf_export_settings_protect (RaiiafExportSettings *s,
                                         gboolean              image_has_raiiaf,
                                         gboolean              settings_are_own);
/* "keep", "auto", "raw", "zfp" <-> -1 and enum raiiaf_storage. */
gint         raiiaf_storage_from_name   (const gchar *name);
const gchar *raiiaf_storage_name        (gint storage);

gboolean raiiaf_export_error       (GError              **error,
                                    const gchar          *display_name,
                                    const raiiaf_writer  *w,
                                    int                   err,
                                    const gchar          *what);

/* Gives the writer the parasites an image carries: `lookup` returns a
 * parasite's bytes (or NULL when the image has none by that name), `names`
 * lists the image's parasite names. */
typedef GBytes *(*RaiiafParasiteLookup) (const gchar *name, gpointer user_data);

gboolean raiiaf_writer_add_parasites (raiiaf_writer              *w,
                                      const gchar * const        *names,
                                      RaiiafParasiteLookup        lookup,
                                      gpointer                    user_data,
                                      const RaiiafExportSettings *s,
                                      const gchar                *display_name,
                                      GError                    **error);

/* Prompt and model from the settings, the software ("GIMP", version), then
 * writes `path` atomically. */
gboolean raiiaf_writer_finish      (raiiaf_writer              *w,
                                    const RaiiafExportSettings *s,
                                    const gchar                *gimp_version,
                                    const gchar                *path,
                                    const gchar                *display_name,
                                    GError                    **error);

#endif
