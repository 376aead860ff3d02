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

/* Where the image came from (see raiiaf_origin_read). It is not file
 * content, so it lives outside the "raiiaf/" names. */
#define PARASITE_ORIGIN        "raiiaf-gimp/origin"

/* The pixel limit the plug-ins give the library: 2^28 pixels (16384 x
 * 16384; 2 GiB as 16-bit RGBA), a quarter of the library's default. GIMP
 * has no pixel limit of its own that a plug-in can read. */
#define RAIIAF_GIMP_MAX_IMAGE_PIXELS ((uint64_t) 1 << 28)

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
/* A buffer for the pixels of `px` (its width, height and format set), its
 * size in *size; NULL with *error set when the size overflows or the
 * memory is not there. Both plug-ins' exports take their pixels in it. */
guchar   *raiiaf_export_pixels_new (const raiiaf_pixels *px,
                                    gsize              *size,
                                    const gchar        *display_name,
                                    GError            **error);
const RaiiafFormat *raiiaf_format_for  (gboolean is_gray,
                                        gboolean has_alpha,
                                        gboolean sixteen);

/* px as palette pixels (both plug-ins' INDEXED export): `indices`, the
 * `palette` of n_colors R, G, B entries and, with `alpha` (NULL: none),
 * tRNS up to the last entry that is not opaque, at least one, so that the
 * image opens with its alpha channel again. */
void      raiiaf_pixels_set_palette (raiiaf_pixels *px,
                                     const guchar  *indices,
                                     const guint8  *palette,
                                     guint          n_colors,
                                     const guint8  *alpha);

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

/* Opens `path` (within RAIIAF_GIMP_MAX_IMAGE_PIXELS), checks the image fits
 * `max_side` and decodes it into *pixels (g_free); *format is the image's. */
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
 * the file has none). Prints nothing (the GIMP 3 plug-in calls it on a
 * worker thread): problems come back in *error. */
gboolean raiiaf_read_attachments   (raiiaf_ctx   *ctx,
                                    const gchar  *display_name,
                                    GPtrArray   **attachments,
                                    gchar       **comment,
                                    GError      **error);

/* The resolution GIMP's PNG loader takes from pHYs: in metres, as dots
 * per inch, the image's unit then millimetres (*in_mm); of unknown unit,
 * the aspect ratio applied to *xres, *yres (the image's default
 * resolution on entry). FALSE (nothing changed) without a usable pHYs. */
gboolean raiiaf_phys_resolution    (const raiiaf_png_physical *p,
                                    gdouble                   *xres,
                                    gdouble                   *yres,
                                    gboolean                  *in_mm);

/* The image comment ("gimp-comment"), as GIMP's PNG loader takes it: the
 * PNG's first "Comment" text, else the generation parameters; NULL when
 * there is neither. */
const gchar *raiiaf_comment_text   (const raiiaf_png_metadata *meta,
                                    const gchar               *parameters);

/* Tells the user (g_message, so on GIMP's main thread) when an attachment
 * is too large for GIMP's XCF loader: the image opens, an XCF of it would
 * not reopen. */
void     raiiaf_attachment_warn_xcf (const RaiiafAttachment *a,
                                     const gchar            *display_name);

/* ---- origin record: what export needs to keep what the file held ---------- */

/* A digest of pixels (rows packed) and the ICC profile they are in: the
 * same digest at open and at export means the picture was not changed. */
guint64   raiiaf_pixel_digest     (const guchar *data, guint32 width, guint32 height,
                                   gsize pixel_size, const guint8 *icc, gsize icc_size);
/* The same digest fed strip by strip while decoding: start from
 * RAIIAF_DIGEST_SEED, add strips of RAIIAF_DIGEST_STRIP_ROWS rows (the last
 * may be shorter), then raiiaf_digest_finish adds the profile (icc or NULL)
 * and gives the digest as text (g_free), as the origin record keeps it. */
#define RAIIAF_DIGEST_STRIP_ROWS 64
#define RAIIAF_DIGEST_SEED       0x6A09E667F3BCC908ULL
guint64   raiiaf_digest_add       (guint64 h, const guchar *data, gsize size);
gchar    *raiiaf_digest_finish    (guint64 h, const guint8 *icc, gsize icc_size);

/* Where the image came from: the file (by path and image digest, to copy
 * its PNG bytes back when nothing changed), resolution, the latents in
 * file order and the embedded PNG's metadata as stored (*png_meta, free
 * with raiiaf_free; kept for the caller). The caller adds the pixels'
 * digest as the record's "pixels" key once it has the pixels as the image
 * holds them (raiiaf_pixel_digest / raiiaf_digest_add, then
 * raiiaf_digest_finish). */
gboolean  raiiaf_origin_read      (raiiaf_ctx               *ctx,
                                   const gchar              *path,
                                   const raiiaf_image_info  *info,
                                   raiiaf_png_metadata     **png_meta,
                                   GKeyFile                **origin,
                                   const gchar              *display_name,
                                   GError                  **error);
/* The record from a parasite's bytes, or NULL. */
GKeyFile *raiiaf_origin_parse     (gconstpointer data, gsize size);
/* Whether `pixels` (in `format`, with profile `icc`) are those opened. */
gboolean  raiiaf_origin_unchanged (GKeyFile *origin, int format,
                                   const guchar *pixels, guint32 width, guint32 height,
                                   const guint8 *icc, gsize icc_size);
/* Whether the resolution (dots per inch) is the file's; a file without
 * pHYs opens at the host's default, so then only "not dirty" tells. */
gboolean  raiiaf_origin_same_resolution (GKeyFile *origin, gdouble xres,
                                         gdouble yres, gboolean dirty);
/* The PNG bytes of the file the image came from, when it still holds the
 * image the user opened; NULL otherwise. */
GBytes   *raiiaf_origin_png_bytes (GKeyFile *origin);
guint64   raiiaf_resolution_ppm   (gdouble dpi);

/* Which pieces of the PNG's metadata go out again (the export options
 * include-exif, include-xmp, include-text, include-color-profile,
 * include-resolution). */
typedef struct
{
  gboolean exif;
  gboolean xmp;
  gboolean text;
  gboolean color_profile;
  gboolean resolution;
} RaiiafMetadataChoice;

#define RAIIAF_METADATA_ALL ((RaiiafMetadataChoice) { TRUE, TRUE, TRUE, TRUE, TRUE })

gboolean  raiiaf_metadata_all_kept (const RaiiafMetadataChoice *choice);

/* The embedded PNG's metadata to write: what the file had (the origin
 * record), less what the user unticked. */
typedef struct
{
  raiiaf_png_metadata  meta;
  GArray              *texts;   /* raiiaf_png_text */
  GPtrArray           *strings; /* what the texts point to */
  guchar              *exif;
} RaiiafExportMetadata;

void      raiiaf_export_metadata_build (RaiiafExportMetadata       *em,
                                        GKeyFile                   *origin,
                                        const RaiiafMetadataChoice *choice);
void      raiiaf_export_metadata_clear (RaiiafExportMetadata       *em);

/* ---- export ------------------------------------------------------------- */

typedef struct
{
  gint      compression;     /* PNG deflate level 0-9 */
  gint      latent_storage;  /* -1: as stored, else enum raiiaf_storage */
  gboolean  keep_latents;
  gchar    *prompt;          /* "" or NULL: the image's own */
  gchar    *model;
  RaiiafMetadataChoice metadata;  /* what of the PNG's metadata goes out */
} RaiiafExportSettings;

void     raiiaf_export_settings_default (RaiiafExportSettings *s);
void     raiiaf_export_settings_clear   (RaiiafExportSettings *s);
/* Remembered settings are applied to an image only when they are its own:
 * for an image that carries a file's manifest or latents and has no export
 * of its own yet, a prompt, model, "no latents", storage or metadata left
 * out, remembered from another image's export, must not change what its
 * file had. */
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
 * lists the image's parasite names. The latents go in the file's order
 * (the origin record's list, when there is one), then any a script
 * attached since, in the order GIMP lists them. */
typedef GBytes *(*RaiiafParasiteLookup) (const gchar *name, gpointer user_data);

gboolean raiiaf_writer_add_parasites (raiiaf_writer              *w,
                                      GKeyFile                   *origin,
                                      const gchar * const        *names,
                                      RaiiafParasiteLookup        lookup,
                                      gpointer                    user_data,
                                      gboolean                    keep_latents,
                                      gint                        latent_storage,
                                      const gchar                *display_name,
                                      GError                    **error);

/* The text chunks of the PNG the image was imported from (ComfyUI's
 * prompt and workflow, AUTOMATIC1111's parameters, ...): GIMP's PNG loader
 * keeps only a "Comment" chunk, so the export reads them from that file
 * (`path`, may be NULL), when it is a PNG and the image carries no
 * manifest of its own. With `keep_texts` (the export's text option) they
 * go into the embedded PNG as they were (a comment the user changed in
 * GIMP wins over the file's "Comment") and into the manifest from there;
 * without, into the manifest only. Call it once the writer has the image.
 * A file that cannot be read is skipped: it never fails the export. */
gboolean raiiaf_writer_import_source_png (raiiaf_writer        *w,
                                          const gchar          *path,
                                          RaiiafParasiteLookup  lookup,
                                          gpointer              user_data,
                                          gboolean              keep_texts,
                                          const gchar          *display_name,
                                          GError              **error);

/* Prompt and model from the settings, the software ("GIMP", version; an
 * edit recorded unless the pixels are those opened), then writes `path`
 * atomically. */
gboolean raiiaf_writer_finish      (raiiaf_writer              *w,
                                    const RaiiafExportSettings *s,
                                    gboolean                    unchanged,
                                    const gchar                *gimp_version,
                                    const gchar                *path,
                                    const gchar                *display_name,
                                    GError                    **error);

#endif
