/* The gdk-pixbuf loader through the real gdk-pixbuf (the module found
 * through GDK_PIXBUF_MODULE_FILE, a cache naming the build tree's loader).
 *
 *   test-pixbuf check FILE...       every way of loading FILE gives the
 *                                   pixels and options gdk-pixbuf's own
 *                                   PNG loader gives for the embedded PNG
 *   test-pixbuf error FILE          FILE is refused whole and in pieces;
 *                                   prints the GError message
 *   test-pixbuf png FILE OUT        writes the embedded PNG (the library)
 *   test-pixbuf same A B            two image files (any gdk-pixbuf format)
 *                                   hold the same pixels
 *   test-pixbuf orientation DIR     PNGs with an eXIf Orientation of
 *                                   1, 3, 6, 8 and none, packed into DIR:
 *                                   the "orientation" option as the PNG
 *                                   loader's (glycin's: the Exif value, 1
 *                                   without), whole and in pieces
 *   test-pixbuf find SHOT FILE X Y W H
 *                                   the screenshot SHOT shows FILE's pixels
 *                                   (opaque ones exactly) at 100 % somewhere
 *                                   inside the rectangle X Y W H
 *
 * Exit status 0 when every check passed. */
#include <raiiaf.h>

#include "testlib.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Same size, channels and pixel bytes (rowstride padding ignored). */
static gboolean
same_pixels (GdkPixbuf *a, GdkPixbuf *b, const char *what)
{
    int w = gdk_pixbuf_get_width (a), h = gdk_pixbuf_get_height (a), y;
    int n = gdk_pixbuf_get_n_channels (a);

    if (w != gdk_pixbuf_get_width (b) || h != gdk_pixbuf_get_height (b)
        || n != gdk_pixbuf_get_n_channels (b)
        || gdk_pixbuf_get_has_alpha (a) != gdk_pixbuf_get_has_alpha (b)
        || gdk_pixbuf_get_bits_per_sample (a) != 8 || gdk_pixbuf_get_bits_per_sample (b) != 8) {
        fprintf (stderr, "%s: %dx%d/%d against %dx%d/%d\n", what, w, h, n,
                 gdk_pixbuf_get_width (b), gdk_pixbuf_get_height (b),
                 gdk_pixbuf_get_n_channels (b));
        return FALSE;
    }
    const guchar *pa = gdk_pixbuf_read_pixels (a), *pb = gdk_pixbuf_read_pixels (b);
    for (y = 0; y < h; y++) {
        const guchar *ra = pa + (gsize) y * gdk_pixbuf_get_rowstride (a);
        const guchar *rb = pb + (gsize) y * gdk_pixbuf_get_rowstride (b);
        if (memcmp (ra, rb, (gsize) w * n) != 0) {
            int x = 0;
            while (x < w * n && ra[x] == rb[x])
                x++;
            fprintf (stderr, "%s: row %d sample %d: %u against %u\n", what, y, x, ra[x], rb[x]);
            return FALSE;
        }
    }
    return TRUE;
}

typedef struct {
    int prepared, updated_rows;
    gboolean bad_area;
} Events;

static void
on_prepared (GdkPixbufLoader *loader G_GNUC_UNUSED, gpointer data)
{
    ((Events *) data)->prepared++;
}

static void
on_updated (GdkPixbufLoader *loader, gint x, gint y, gint w, gint h, gpointer data)
{
    Events *ev = data;
    GdkPixbuf *p = gdk_pixbuf_loader_get_pixbuf (loader);
    if (!p || x != 0 || w != gdk_pixbuf_get_width (p) || y < 0 || h <= 0
        || y + h > gdk_pixbuf_get_height (p))
        ev->bad_area = TRUE;
    ev->updated_rows += h;
}

static void
on_size (GdkPixbufLoader *loader, gint w G_GNUC_UNUSED, gint h G_GNUC_UNUSED, gpointer data)
{
    const int *size = data;
    if (size[0] > 0)
        gdk_pixbuf_loader_set_size (loader, size[0], size[1]);
}

/* Feeds data to a loader in pieces of `piece` bytes; type NULL: sniffed. */
static GdkPixbuf *
load_pieces (const char *type, const guchar *data, gsize size, gsize piece,
             const int *want_size, Events *ev, char **format, GError **error)
{
    GdkPixbufLoader *loader = type ? gdk_pixbuf_loader_new_with_type (type, error)
                                   : gdk_pixbuf_loader_new ();
    GdkPixbuf *pixbuf = NULL;
    gsize at;
    gboolean ok = TRUE;
    static const int no_size[2] = { 0, 0 };

    if (!loader)
        return NULL;
    g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size),
                      (gpointer) (want_size ? want_size : no_size));
    if (ev) {
        g_signal_connect (loader, "area-prepared", G_CALLBACK (on_prepared), ev);
        g_signal_connect (loader, "area-updated", G_CALLBACK (on_updated), ev);
    }
    for (at = 0; ok && at < size; at += piece)
        ok = gdk_pixbuf_loader_write (loader, data + at, MIN (piece, size - at), error);
    if (ok)
        ok = gdk_pixbuf_loader_close (loader, error);
    else
        gdk_pixbuf_loader_close (loader, NULL);
    if (ok) {
        pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
        if (pixbuf)
            g_object_ref (pixbuf);
        if (format) {
            GdkPixbufFormat *f = gdk_pixbuf_loader_get_format (loader);
            *format = f ? gdk_pixbuf_format_get_name (f) : NULL;
        }
    }
    g_object_unref (loader);
    return pixbuf;
}

/* Every option the PNG loader set is there with the same value (but for
 * the original size GdkPixbufLoader adds when `whole` came through
 * gdk_pixbuf_new_from_file). */
static void
check_png_options (const char *file, GdkPixbuf *ours, GdkPixbuf *png, gboolean whole)
{
    GHashTable *opts = gdk_pixbuf_get_options (png);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init (&it, opts);
    while (g_hash_table_iter_next (&it, &k, &v)) {
        const char *mine = gdk_pixbuf_get_option (ours, k);
        if (whole && (strcmp (k, "original-width") == 0 || strcmp (k, "original-height") == 0))
            continue;
        CHECK (mine && strcmp (mine, v) == 0, "%s: option %s: %.60s against the PNG loader's %.60s",
               file, (char *) k, mine ? mine : "(none)", (char *) v);
    }
    g_hash_table_unref (opts);
}

/* The generation data: raiiaf::KEY for each library text, and
 * tEXt::parameters. */
static void
check_raiiaf_options (const char *file, GdkPixbuf *ours, raiiaf_ctx *ctx)
{
    size_t count = 0, i;
    const char *params;

    CHECK (raiiaf_get_text_count (ctx, &count) == RAIIAF_OK, "%s: text count", file);
    CHECK (count > 0, "%s: the fixture has generation data", file);
    for (i = 0; i < count; i++) {
        const char *k, *v;
        if (raiiaf_get_text (ctx, i, &k, &v) != RAIIAF_OK)
            continue;
        char *key = g_strconcat ("raiiaf::", k, NULL);
        const char *mine = gdk_pixbuf_get_option (ours, key);
        CHECK (mine && strcmp (mine, v) == 0, "%s: %s = %.60s", file, key, mine ? mine : "(none)");
        g_free (key);
    }
    if (raiiaf_get_parameters_text (ctx, &params) == RAIIAF_OK && params[0]) {
        const char *mine = gdk_pixbuf_get_option (ours, "tEXt::parameters");
        CHECK (mine != NULL, "%s: tEXt::parameters", file);
    }
}

static void
check_file (const char *file)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new ();
    const void *png_data;
    size_t png_size;
    GError *error = NULL;
    gchar *data = NULL;
    gsize size = 0;
    static const gsize pieces[] = { 1, 7, 4096 };
    unsigned i;

    if (raiiaf_open_file (ctx, file) != RAIIAF_OK
        || raiiaf_get_image_data (ctx, &png_data, &png_size) != RAIIAF_OK) {
        CHECK (0, "%s: the library opens it: %s", file, raiiaf_ctx_message (ctx));
        raiiaf_ctx_free (ctx);
        return;
    }
    /* gdk-pixbuf's own PNG loader on the embedded PNG: the reference. */
    GdkPixbuf *ref = load_pieces ("png", png_data, png_size, png_size, NULL, NULL, NULL, &error);
    CHECK (ref != NULL, "%s: the PNG loader reads the embedded PNG: %s", file,
           error ? error->message : "");
    g_clear_error (&error);
    if (!ref) {
        raiiaf_ctx_free (ctx);
        return;
    }
    int w = gdk_pixbuf_get_width (ref), h = gdk_pixbuf_get_height (ref);

    /* gdk_pixbuf_new_from_file: the module's load() from a FILE *. */
    GdkPixbuf *whole = gdk_pixbuf_new_from_file (file, &error);
    CHECK (whole != NULL, "%s: gdk_pixbuf_new_from_file: %s", file, error ? error->message : "");
    g_clear_error (&error);
    if (whole) {
        CHECK (same_pixels (whole, ref, file), "%s: whole-file pixels as the PNG loader's", file);
        check_png_options (file, whole, ref, TRUE);
        check_raiiaf_options (file, whole, ctx);
        g_object_unref (whole);
    }

    /* Format detection and the size without decoding. */
    gint iw = 0, ih = 0;
    GdkPixbufFormat *fmt = gdk_pixbuf_get_file_info (file, &iw, &ih);
    CHECK (fmt && strcmp (gdk_pixbuf_format_get_name (fmt), "raiiaf") == 0 && iw == w && ih == h,
           "%s: gdk_pixbuf_get_file_info: %s %dx%d", file,
           fmt ? gdk_pixbuf_format_get_name (fmt) : "(none)", iw, ih);

    /* Incremental, the type sniffed from the bytes, in pieces. */
    CHECK (g_file_get_contents (file, &data, &size, &error), "%s: read", file);
    g_clear_error (&error);
    for (i = 0; data && i < G_N_ELEMENTS (pieces); i++) {
        Events ev = { 0 };
        char *format = NULL;
        GdkPixbuf *p = load_pieces (NULL, (guchar *) data, size, pieces[i], NULL, &ev, &format, &error);
        CHECK (p != NULL, "%s: pieces of %zu: %s", file, pieces[i], error ? error->message : "");
        g_clear_error (&error);
        if (!p)
            continue;
        CHECK (format && strcmp (format, "raiiaf") == 0, "%s: sniffed as %s", file, format);
        CHECK (ev.prepared == 1, "%s: area-prepared %d times", file, ev.prepared);
        CHECK (ev.updated_rows == h && !ev.bad_area, "%s: area-updated covers %d of %d rows",
               file, ev.updated_rows, h);
        char what[256];
        g_snprintf (what, sizeof what, "%s: pieces of %zu", file, pieces[i]);
        CHECK (same_pixels (p, ref, what), "%s: pixels as the PNG loader's", what);
        check_png_options (what, p, ref, FALSE);
        g_free (format);
        g_object_unref (p);
    }

    /* A size asked in size-prepared is honoured (GdkPixbufLoader scales
     * what the loader gives, as for PNG): the same as the PNG loader's. */
    int half[2] = { MAX (1, w / 2), MAX (1, h / 3) };
    if (data) {
        GdkPixbuf *p = load_pieces ("raiiaf", (guchar *) data, size, 4096, half, NULL, NULL, &error);
        GdkPixbuf *q = load_pieces ("png", png_data, png_size, 4096, half, NULL, NULL, NULL);
        CHECK (p && gdk_pixbuf_get_width (p) == half[0] && gdk_pixbuf_get_height (p) == half[1],
               "%s: size-prepared %dx%d honoured: %s", file, half[0], half[1],
               error ? error->message : "");
        g_clear_error (&error);
        if (p && q)
            CHECK (same_pixels (p, q, file), "%s: scaled as the PNG loader's", file);
        g_clear_object (&p);
        g_clear_object (&q);
        GdkPixbuf *s = gdk_pixbuf_new_from_file_at_size (file, half[0], -1, &error);
        CHECK (s && gdk_pixbuf_get_width (s) == half[0], "%s: new_from_file_at_size: %s", file,
               error ? error->message : "");
        g_clear_error (&error);
        g_clear_object (&s);
    }
    g_free (data);
    g_object_unref (ref);
    raiiaf_ctx_free (ctx);
}

/* A damaged file: refused whole and in pieces, with a message. */
static int
check_error (const char *file)
{
    GError *error = NULL;
    gchar *data = NULL;
    gsize size = 0;
    static const gsize pieces[] = { 1, 7, 4096 };
    unsigned i;

    GdkPixbuf *p = gdk_pixbuf_new_from_file (file, &error);
    /* gdk-pixbuf refuses an empty file itself, before any loader. */
    gboolean empty = g_file_test (file, G_FILE_TEST_IS_REGULAR)
                     && g_file_get_contents (file, &data, &size, NULL) && size == 0;
    g_free (data);
    data = NULL;
    const char *msg = error ? strstr (error->message, "raiiaf: ") : NULL;
    CHECK (p == NULL && error && (empty || (msg && msg[8])),
           "%s: refused with the library's message: %s", file, error ? error->message : "(none)");
    if (error && strstr (error->message, "raiiaf: "))
        printf ("%s\n", strstr (error->message, "raiiaf: "));
    g_clear_error (&error);
    g_clear_object (&p);
    if (!g_file_get_contents (file, &data, &size, NULL))
        return 1;
    for (i = 0; i < G_N_ELEMENTS (pieces); i++) {
        p = load_pieces ("raiiaf", (guchar *) data, size, pieces[i], NULL, NULL, NULL, &error);
        CHECK (p == NULL && error && g_str_has_prefix (error->message, "raiiaf: ")
               && error->message[8], "%s: refused in pieces of %zu: %s", file,
               pieces[i], error ? error->message : "(none)");
        g_clear_error (&error);
        g_clear_object (&p);
    }
    g_free (data);
    return tl_failed ? 1 : 0;
}

/* Does `img` sit at (x, y) of `shot`? Opaque pixels must match exactly. */
static gboolean
shown_at (GdkPixbuf *shot, GdkPixbuf *img, int x, int y, int rows)
{
    int w = gdk_pixbuf_get_width (img), n = gdk_pixbuf_get_n_channels (img);
    int sn = gdk_pixbuf_get_n_channels (shot), r, c;
    const guchar *sp = gdk_pixbuf_read_pixels (shot), *ip = gdk_pixbuf_read_pixels (img);

    for (r = 0; r < rows; r++) {
        const guchar *srow = sp + (gsize) (y + r) * gdk_pixbuf_get_rowstride (shot) + (gsize) x * sn;
        const guchar *irow = ip + (gsize) r * gdk_pixbuf_get_rowstride (img);
        for (c = 0; c < w; c++) {
            const guchar *a = srow + (gsize) c * sn, *b = irow + (gsize) c * n;
            if ((n == 3 || b[3] == 255) && (a[0] != b[0] || a[1] != b[1] || a[2] != b[2]))
                return FALSE;
        }
    }
    return TRUE;
}

static int
find_image (const char *shot_path, const char *file, int wx, int wy, int ww, int wh)
{
    GError *error = NULL;
    GdkPixbuf *shot = gdk_pixbuf_new_from_file (shot_path, &error);
    GdkPixbuf *img = shot ? gdk_pixbuf_new_from_file (file, &error) : NULL;
    int x, y, found = 0;

    if (!img) {
        fprintf (stderr, "%s\n", error ? error->message : "cannot load");
        return 1;
    }
    int w = gdk_pixbuf_get_width (img), h = gdk_pixbuf_get_height (img);
    int x1 = MIN (wx + ww, gdk_pixbuf_get_width (shot)) - w;
    int y1 = MIN (wy + wh, gdk_pixbuf_get_height (shot)) - h;
    for (y = MAX (0, wy); !found && y <= y1; y++)
        for (x = MAX (0, wx); !found && x <= x1; x++)
            if (shown_at (shot, img, x, y, 1) && shown_at (shot, img, x, y, h)) {
                printf ("%dx%d image at %d,%d\n", w, h, x, y);
                found = 1;
            }
    if (!found)
        printf ("%dx%d image not found in %dx%d+%d+%d\n", w, h, ww, wh, wx, wy);
    g_object_unref (shot);
    g_object_unref (img);
    return found ? 0 : 1;
}

/* The "orientation" option of a .raiiaf whose PNG has an eXIf Orientation
 * (0: no eXIf) against the PNG loader's for that PNG. */
static void
check_orientation (const char *dir, int orientation)
{
    /* Big-endian TIFF, IFD0 with one entry: Orientation, SHORT, 1 value */
    const uint8_t exif[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1,
                            0, (uint8_t) orientation, 0, 0, 0, 0, 0, 0};
    uint8_t rgb[4 * 2 * 3];
    raiiaf_pixels px = {.width = 4, .height = 2, .format = RAIIAF_FMT_RGB8, .data = rgb};
    raiiaf_png_metadata meta = {.exif = exif, .exif_size = sizeof exif};
    char message[256] = "", path[4096], *expect;
    void *png = NULL;
    size_t size = 0;
    GError *error = NULL;

    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t) (i * 10);
    g_snprintf (path, sizeof path, "%s/orientation-%d.raiiaf", dir, orientation);
    raiiaf_writer *w = raiiaf_writer_new ();
    CHECK (raiiaf_encode_png (&px, 6, orientation ? &meta : NULL, &png, &size, message,
                              sizeof message) == RAIIAF_OK
           && raiiaf_writer_set_image_png (w, png, size) == RAIIAF_OK
           && raiiaf_writer_write_file (w, path) == RAIIAF_OK,
           "orientation %d: written: %s %s", orientation, message, raiiaf_writer_message (w));
    raiiaf_writer_free (w);

    GdkPixbuf *ref = load_pieces ("png", png, size, size, NULL, NULL, NULL, &error);
    CHECK (ref != NULL, "orientation %d: the PNG loader reads the PNG: %s", orientation,
           error ? error->message : "");
    g_clear_error (&error);
    const char *theirs = ref ? gdk_pixbuf_get_option (ref, "orientation") : NULL;
    /* glycin sets one on every image: the Exif value, else 1 */
    expect = g_strdup_printf ("%d", orientation ? orientation : 1);
    CHECK (!theirs || strcmp (theirs, expect) == 0,
           "orientation %d: the PNG loader says %s", orientation, theirs ? theirs : "(none)");
    printf ("# orientation %d: the PNG loader's option: %s\n", orientation,
            theirs ? theirs : "(none)");

    gchar *data = NULL;
    gsize fsize = 0;
    GdkPixbuf *whole = gdk_pixbuf_new_from_file (path, &error);
    GdkPixbuf *pieces = g_file_get_contents (path, &data, &fsize, NULL)
                            ? load_pieces (NULL, (guchar *) data, fsize, 7, NULL, NULL, NULL, NULL)
                            : NULL;
    CHECK (whole && pieces, "orientation %d: our loader reads it: %s", orientation,
           error ? error->message : "");
    for (int k = 0; k < 2; k++) {
        GdkPixbuf *ours = k ? pieces : whole;
        const char *mine = ours ? gdk_pixbuf_get_option (ours, "orientation") : NULL;
        CHECK (g_strcmp0 (mine, theirs) == 0, "orientation %d, %s: ours %s, the PNG loader's %s",
               orientation, k ? "in pieces" : "whole", mine ? mine : "(none)",
               theirs ? theirs : "(none)");
    }
    g_clear_error (&error);
    g_clear_object (&whole);
    g_clear_object (&pieces);
    g_clear_object (&ref);
    g_free (data);
    g_free (expect);
    raiiaf_free (png);
}

int
main (int argc, char **argv)
{
    int i;

    if (argc >= 3 && strcmp (argv[1], "check") == 0) {
        for (i = 2; i < argc; i++)
            check_file (argv[i]);
        return tl_finish ();
    }
    if (argc == 3 && strcmp (argv[1], "error") == 0)
        return check_error (argv[2]);
    if (argc == 3 && strcmp (argv[1], "orientation") == 0) {
        static const int orientations[] = { 0, 1, 3, 6, 8 };
        for (i = 0; i < (int) G_N_ELEMENTS (orientations); i++)
            check_orientation (argv[2], orientations[i]);
        return tl_finish ();
    }
    if (argc == 4 && strcmp (argv[1], "png") == 0) {
        raiiaf_ctx *ctx = raiiaf_ctx_new ();
        const void *png;
        size_t size;
        int ok = raiiaf_open_file (ctx, argv[2]) == RAIIAF_OK
                 && raiiaf_get_image_data (ctx, &png, &size) == RAIIAF_OK
                 && g_file_set_contents (argv[3], png, (gssize) size, NULL);
        if (!ok)
            fprintf (stderr, "%s: %s\n", argv[2], raiiaf_ctx_message (ctx));
        raiiaf_ctx_free (ctx);
        return ok ? 0 : 1;
    }
    if (argc == 4 && strcmp (argv[1], "same") == 0) {
        GError *error = NULL;
        GdkPixbuf *a = gdk_pixbuf_new_from_file (argv[2], &error);
        GdkPixbuf *b = a ? gdk_pixbuf_new_from_file (argv[3], &error) : NULL;
        int ok = a && b && same_pixels (a, b, argv[2]);
        if (error)
            fprintf (stderr, "%s\n", error->message);
        g_clear_object (&a);
        g_clear_object (&b);
        return ok ? 0 : 1;
    }
    if (argc == 8 && strcmp (argv[1], "find") == 0)
        return find_image (argv[2], argv[3], atoi (argv[4]), atoi (argv[5]), atoi (argv[6]),
                           atoi (argv[7]));
    fprintf (stderr, "usage: test-pixbuf check FILE... | error FILE | orientation DIR |"
             " png FILE OUT | same A B | find SHOT FILE X Y W H\n");
    return 2;
}
