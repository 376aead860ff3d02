/* gdk-pixbuf loader for .raiiaf files (read only).
 *
 * SPDX-License-Identifier: MIT
 *
 * Translates between gdk-pixbuf and libraiiaf: the library reads and checks
 * the file (limits, sha256, the embedded PNG); this module hands its pixels
 * to gdk-pixbuf as 8-bit RGB or RGBA, converted as gdk-pixbuf's own PNG
 * loader converts the same PNG (grey is repeated into R, G and B, palettes
 * and tRNS expand to RGB(A); 16-bit samples as below), and its metadata as
 * pixbuf options under the PNG loader's keys ("tEXt::KEY", "icc-profile",
 * "x-dpi", "y-dpi", and "orientation" where the PNG loader sets it) plus
 * "raiiaf::KEY" for each of the library's text pairs (prompt, model, seed,
 * ...).
 *
 * Whole-file loads (load) and incremental ones (begin_load,
 * load_increment, stop_load) share one path: the bytes go into a
 * raiiaf_stream, which checks the magic and the header with the first
 * bytes and takes exactly the file; once complete, the context is opened
 * on them and the image decoded row by row. */
#include <raiiaf.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GDK_PIXBUF_ENABLE_BACKEND
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gdk-pixbuf/gdk-pixbuf-io.h>
#undef GDK_PIXBUF_ENABLE_BACKEND

/* gdk-pixbuf 2.43 and later read PNG through glycin instead of libpng:
 * 16-bit samples are rounded to 8 bits (v + 128) >> 8, up to 255, where
 * libpng's strip_16 keeps the high byte, and every image gets the option
 * "orientation": the Exif Orientation of the PNG's eXIf, else 1. */
#if GDK_PIXBUF_MAJOR > 2 || (GDK_PIXBUF_MAJOR == 2 && GDK_PIXBUF_MINOR >= 43)
#define PNG_LOADER_GLYCIN 1
#else
#define PNG_LOADER_GLYCIN 0
#endif

typedef struct {
    GdkPixbufModuleSizeFunc size_func;
    GdkPixbufModulePreparedFunc prepared_func;
    GdkPixbufModuleUpdatedFunc updated_func;
    gpointer user_data;
    raiiaf_stream *stream;
    GdkPixbuf *pixbuf;  /* the finished image, once decoded */
    gboolean failed;
} RaiiafLoad;

/* Rows decoded between two area-updated callbacks. */
#define ROWS_PER_UPDATE 64

static void
set_error (GError **error, int code, const char *message)
{
    g_set_error (error, GDK_PIXBUF_ERROR, code, "raiiaf: %s", message);
}

static int
error_code_for (int err)
{
    switch (err) {
    case RAIIAF_ENOMEM:
        return GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY;
    case RAIIAF_EUNSUPPORTED:
    case RAIIAF_EVERSION:
        return GDK_PIXBUF_ERROR_UNKNOWN_TYPE;
    default:
        return GDK_PIXBUF_ERROR_CORRUPT_IMAGE;
    }
}

static void
set_ctx_error (GError **error, raiiaf_ctx *ctx, int err)
{
    set_error (error, error_code_for (err), raiiaf_ctx_message (ctx));
}

/* The options gdk-pixbuf's PNG loader sets for the same PNG, then the
 * generation data. gdk_pixbuf_set_option() keeps the first value of a key,
 * so a "parameters" text the PNG holds itself wins over the one built from
 * the manifest (they are the same in files the suite writes). */
static gboolean
set_options (GdkPixbuf *pixbuf, raiiaf_ctx *ctx, const raiiaf_image_info *info,
             GError **error)
{
    raiiaf_png_metadata *meta = NULL;
    const void *icc;
    size_t icc_size, count, i;
    const char *icc_name, *params;
    int err;

    err = raiiaf_get_png_metadata (ctx, &meta);
    if (err != RAIIAF_OK) {
        set_ctx_error (error, ctx, err);
        return FALSE;
    }
    for (i = 0; i < meta->text_count; i++) {
        char *key = g_strconcat ("tEXt::", meta->texts[i].keyword, NULL);
        gdk_pixbuf_set_option (pixbuf, key, meta->texts[i].text);
        g_free (key);
    }
    /* libpng hands the XMP packet to the PNG loader as one more text. */
    if (meta->xmp) {
        char *xmp = g_strndup (meta->xmp, meta->xmp_size);
        gdk_pixbuf_set_option (pixbuf, "tEXt::XML:com.adobe.xmp", xmp);
        g_free (xmp);
    }
    if (PNG_LOADER_GLYCIN) {
        int orientation = raiiaf_exif_orientation (meta->exif, meta->exif_size);
        char value[4];
        g_snprintf (value, sizeof value, "%d", orientation ? orientation : 1);
        gdk_pixbuf_set_option (pixbuf, "orientation", value);
    }
    raiiaf_free (meta);

    if (info->has_icc) {
        err = raiiaf_get_icc_profile (ctx, &icc, &icc_size, &icc_name);
        if (err != RAIIAF_OK) {
            set_ctx_error (error, ctx, err);
            return FALSE;
        }
        char *b64 = g_base64_encode (icc, icc_size);
        gdk_pixbuf_set_option (pixbuf, "icc-profile", b64);
        g_free (b64);
    }
    if (info->ppm_x && info->ppm_y) {
        /* dots per inch from pixels per metre, rounded as the PNG loader does */
        char dpi[16];
        g_snprintf (dpi, sizeof dpi, "%d", (int) (info->ppm_x * 25.4 / 1000 + 0.5));
        gdk_pixbuf_set_option (pixbuf, "x-dpi", dpi);
        g_snprintf (dpi, sizeof dpi, "%d", (int) (info->ppm_y * 25.4 / 1000 + 0.5));
        gdk_pixbuf_set_option (pixbuf, "y-dpi", dpi);
    }

    if (raiiaf_get_parameters_text (ctx, &params) == RAIIAF_OK && params[0])
        gdk_pixbuf_set_option (pixbuf, "tEXt::parameters", params);
    err = raiiaf_get_text_count (ctx, &count);
    if (err != RAIIAF_OK) {
        set_ctx_error (error, ctx, err);
        return FALSE;
    }
    for (i = 0; i < count; i++) {
        const char *k, *v;
        if (raiiaf_get_text (ctx, i, &k, &v) != RAIIAF_OK)
            continue;
        char *key = g_strconcat ("raiiaf::", k, NULL);
        gdk_pixbuf_set_option (pixbuf, key, v);
        g_free (key);
    }
    return TRUE;
}

/* One decoded row (16 or 8 bits per sample) into a pixbuf row. */
static void
store_row (guchar *dst, const guchar *src, size_t samples, gboolean sixteen)
{
    size_t i;

    if (!sixteen) {
        memcpy (dst, src, samples);
        return;
    }
    /* As the PNG loader: glycin rounds, libpng's png_set_strip_16 keeps
     * the high byte. */
    for (i = 0; i < samples; i++) {
        uint16_t v;
        memcpy (&v, src + 2 * i, 2);
        dst[i] = PNG_LOADER_GLYCIN ? (guchar) (MIN ((guint) v + 128, 65535u) >> 8)
                                   : (guchar) (v >> 8);
    }
}

/* Opens the complete file held by the stream and builds the pixbuf,
 * calling the size-prepared, area-prepared and area-updated callbacks. */
static gboolean
decode (RaiiafLoad *load, GError **error)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new ();
    raiiaf_image_info info;
    raiiaf_limits limits;
    GdkPixbuf *pixbuf = NULL;
    gboolean has_alpha, sixteen, ok = FALSE;
    guchar *rowbuf = NULL, *whole = NULL;
    size_t samples, row_bytes;
    int format, err, channels;
    guint y;

    if (!ctx) {
        set_error (error, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY, raiiaf_ctx_message (NULL));
        return FALSE;
    }
    raiiaf_limits_default (&limits);
    raiiaf_ctx_set_limits (ctx, &limits);
    err = raiiaf_stream_open (load->stream, ctx);
    if (err != RAIIAF_OK) {
        /* The stream's message when the input ended early, the context's
         * when the bytes are there but wrong. */
        const char *msg = raiiaf_ctx_message (ctx);
        set_error (error, error_code_for (err), msg[0] ? msg : raiiaf_stream_message (load->stream));
        goto out;
    }
    err = raiiaf_get_image_info (ctx, &info);
    if (err != RAIIAF_OK) {
        set_ctx_error (error, ctx, err);
        goto out;
    }
    if (info.width > G_MAXINT || info.height > G_MAXINT) {
        set_error (error, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "image too large for gdk-pixbuf");
        goto out;
    }

    /* Asked like the PNG loader asks: a size of 0 (gdk_pixbuf_get_file_info
     * once it has the size) stops the load before any pixel is decoded;
     * another size is honoured by GdkPixbufLoader, which scales the
     * full-size pixbuf given here. */
    if (load->size_func) {
        gint w = (gint) info.width, h = (gint) info.height;
        load->size_func (&w, &h, load->user_data);
        if (w == 0 || h == 0) {
            set_error (error, GDK_PIXBUF_ERROR_FAILED,
                       "loading stopped: zero width or height requested");
            goto out;
        }
    }

    /* tRNS counts as alpha (info.format says so), as in the PNG loader. */
    switch (info.format) {
    case RAIIAF_FMT_GA8: case RAIIAF_FMT_RGBA8:
    case RAIIAF_FMT_GA16: case RAIIAF_FMT_RGBA16:
        has_alpha = TRUE;
        break;
    default:
        has_alpha = FALSE;
    }
    sixteen = info.png_bit_depth == 16;
    format = sixteen ? (has_alpha ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGB16)
                     : (has_alpha ? RAIIAF_FMT_RGBA8 : RAIIAF_FMT_RGB8);
    channels = has_alpha ? 4 : 3;

    pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, has_alpha, 8,
                             (int) info.width, (int) info.height);
    if (!pixbuf) {
        char msg[96];
        g_snprintf (msg, sizeof msg, "not enough memory for a %u by %u image",
                    info.width, info.height);
        set_error (error, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY, msg);
        goto out;
    }
    if (!set_options (pixbuf, ctx, &info, error))
        goto out;

    samples = (size_t) info.width * channels;
    row_bytes = samples * raiiaf_format_pixel_size (format) / channels;
    guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
    gsize stride = (gsize) gdk_pixbuf_get_rowstride (pixbuf);

    err = raiiaf_decode_rows_begin (ctx, format);
    if (err == RAIIAF_EUNSUPPORTED) {
        /* An interlaced PNG: decoded whole (within the library's limits). */
        size_t size;
        err = raiiaf_decoded_image_size (ctx, format, &size);
        if (err == RAIIAF_OK) {
            whole = g_try_malloc (size);
            if (!whole) {
                set_error (error, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY,
                           "not enough memory to decode the image");
                goto out;
            }
            err = raiiaf_decode_image (ctx, format, whole, size);
        }
    } else if (err == RAIIAF_OK) {
        rowbuf = g_try_malloc (row_bytes);
        if (!rowbuf) {
            set_error (error, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY,
                       "not enough memory to decode the image");
            goto out;
        }
    }
    if (err != RAIIAF_OK) {
        set_ctx_error (error, ctx, err);
        goto out;
    }

    if (load->prepared_func)
        load->prepared_func (pixbuf, NULL, load->user_data);

    guint first = 0;
    for (y = 0; y < info.height; y++) {
        const guchar *src;
        if (whole) {
            src = whole + (size_t) y * row_bytes;
        } else {
            err = raiiaf_decode_row (ctx, rowbuf, row_bytes);
            if (err != RAIIAF_OK) {
                set_ctx_error (error, ctx, err);
                goto out;
            }
            src = rowbuf;
        }
        store_row (pixels + (gsize) y * stride, src, samples, sixteen);
        if (load->updated_func && (y + 1 - first == ROWS_PER_UPDATE || y + 1 == info.height)) {
            load->updated_func (pixbuf, 0, (int) first, (int) info.width,
                                (int) (y + 1 - first), load->user_data);
            first = y + 1;
        }
    }
    load->pixbuf = g_object_ref (pixbuf);
    ok = TRUE;

out:
    g_free (rowbuf);
    g_free (whole);
    if (pixbuf)
        g_object_unref (pixbuf);
    raiiaf_ctx_free (ctx);
    return ok;
}

static gpointer
raiiaf_begin_load (GdkPixbufModuleSizeFunc size_func,
                   GdkPixbufModulePreparedFunc prepared_func,
                   GdkPixbufModuleUpdatedFunc updated_func,
                   gpointer user_data, GError **error)
{
    RaiiafLoad *load = g_new0 (RaiiafLoad, 1);
    raiiaf_limits limits;

    load->size_func = size_func;
    load->prepared_func = prepared_func;
    load->updated_func = updated_func;
    load->user_data = user_data;
    load->stream = raiiaf_stream_new ();
    if (!load->stream) {
        set_error (error, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY, "out of memory");
        g_free (load);
        return NULL;
    }
    raiiaf_limits_default (&limits);
    raiiaf_stream_set_limits (load->stream, &limits);
    return load;
}

static gboolean
raiiaf_load_increment (gpointer data, const guchar *buf, guint size, GError **error)
{
    RaiiafLoad *load = data;
    int err;

    if (load->failed)
        return FALSE;
    /* Bytes past the file are refused by the stream, as by the library
     * everywhere (a .raiiaf ends where its header says). */
    err = raiiaf_stream_push (load->stream, buf, size);
    if (err != RAIIAF_OK) {
        set_error (error, error_code_for (err), raiiaf_stream_message (load->stream));
        load->failed = TRUE;
        return FALSE;
    }
    if (!load->pixbuf && raiiaf_stream_wanted (load->stream) == 0) {
        if (!decode (load, error)) {
            load->failed = TRUE;
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
raiiaf_stop_load (gpointer data, GError **error)
{
    RaiiafLoad *load = data;
    gboolean ok = TRUE;

    if (!load->failed && !load->pixbuf) {
        /* The input ended before the file did: the stream's message says
         * how many bytes were missing. */
        ok = decode (load, error);
    } else if (load->failed) {
        ok = FALSE;
    }
    if (load->pixbuf)
        g_object_unref (load->pixbuf);
    raiiaf_stream_free (load->stream);
    g_free (load);
    return ok;
}

/* The whole file from a FILE *: read in blocks through the same stream
 * (which stops at the header's file size and refuses more than the limits
 * allow before it is buffered). */
static GdkPixbuf *
raiiaf_load (FILE *f, GError **error)
{
    RaiiafLoad *load = raiiaf_begin_load (NULL, NULL, NULL, NULL, error);
    GdkPixbuf *pixbuf = NULL;
    guchar buf[65536];
    gboolean ok = TRUE;

    if (!load)
        return NULL;
    while (ok) {
        uint64_t wanted = raiiaf_stream_wanted (load->stream);
        /* Once complete, one byte more: a file longer than its header
         * says is refused here as by raiiaf_open_file(). */
        size_t want = load->pixbuf ? 1 : wanted == 0 || wanted > sizeof buf ? sizeof buf
                                                                          : (size_t) wanted;
        size_t n = fread (buf, 1, want, f);
        if (n == 0)
            break;
        ok = raiiaf_load_increment (load, buf, (guint) n, error);
    }
    if (ok && ferror (f)) {
        set_error (error, GDK_PIXBUF_ERROR_FAILED, g_strerror (errno));
        ok = FALSE;
    }
    if (ok && load->pixbuf)
        pixbuf = g_object_ref (load->pixbuf);
    if (!raiiaf_stop_load (load, ok ? error : NULL))
        ok = FALSE;
    if (!ok && pixbuf) {
        g_object_unref (pixbuf);
        pixbuf = NULL;
    }
    return pixbuf;
}

G_MODULE_EXPORT void fill_vtable (GdkPixbufModule *module);
G_MODULE_EXPORT void fill_info (GdkPixbufFormat *info);

G_MODULE_EXPORT void
fill_vtable (GdkPixbufModule *module)
{
    module->load = raiiaf_load;
    module->begin_load = raiiaf_begin_load;
    module->load_increment = raiiaf_load_increment;
    module->stop_load = raiiaf_stop_load;
}

G_MODULE_EXPORT void
fill_info (GdkPixbufFormat *info)
{
    static GdkPixbufModulePattern signature[] = {
        { (char *) RAIIAF_MAGIC, NULL, 100 },
        { NULL, NULL, 0 }
    };
    static gchar *mime_types[] = { (gchar *) RAIIAF_MIME_TYPE, NULL };
    static gchar *extensions[] = { (gchar *) "raiiaf", NULL };

    info->name = (gchar *) "raiiaf";
    info->signature = signature;
    info->description = (gchar *) "RAIIAF AI image artifact";
    info->mime_types = mime_types;
    info->extensions = extensions;
    info->flags = GDK_PIXBUF_FORMAT_THREADSAFE;
    info->license = (gchar *) "MIT";
}
