/* The Qt image plugin through Qt's own QImageReader, loaded by Qt from
 * QT_PLUGIN_PATH (tests/qt/meson.build points it at the build tree).
 *
 *   test-qt same RAIIAF PNG    RAIIAF opens as Qt's PNG handler opens PNG
 *                              (the embedded image): QImage format, pixels,
 *                              colour table, colour space, resolution and
 *                              text keys (plus "parameters" and the
 *                              library's pairs as "raiiaf.KEY"); Size and
 *                              ImageFormat before the read; read by path,
 *                              from a sequential device in pieces of 1, 7
 *                              and 4096 bytes, and at a ScaledSize
 *   test-qt error RAIIAF       refused by path and in pieces, never a
 *                              crash; prints the plugin's message (the
 *                              library's, "raiiaf: ...")
 *   test-qt size-only          a 4200x4200 image with a 16 MB allocation
 *                              limit: Size and ImageFormat answer, read
 *                              refuses (no pixel is decoded for the size)
 *   test-qt find SHOT RAIIAF X Y W H
 *                              the screenshot SHOT holds RAIIAF's pixels
 *                              (as opaque RGB) at 100 % inside the
 *                              rectangle; prints where
 *
 * Exit status 0 when every check passed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <raiiaf.h>

#include <QBuffer>
#include <QColorSpace>
#include <QCoreApplication>
#include <QFile>
#include <QImage>
#include <QImageReader>
#include <QStringList>

#include <cstdio>
#include <cstring>
#include <vector>

static int failures;
static QStringList warnings;

/* Bytes of each row Qt's PNG handler defines. For a 16-bit RGB PNG with
 * a tRNS chunk it allocates Format_RGBA64 (8 bytes a pixel) but has libpng
 * write 6 bytes a pixel into it (no filler, no tRNS expansion; seen with
 * Qt 6.8.2), so the last quarter of each row is whatever the memory
 * held, different from one read to the next, and a scaled read mixes it
 * into every pixel. Only the first width x 6 bytes are compared then, and
 * scaled reads only by size and format. 0: every byte. */
static qsizetype qt_defined_row_bytes;

static void check(bool ok, const QString &what)
{
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL: %s\n", qUtf8Printable(what));
    }
}

static void handler(QtMsgType type, const QMessageLogContext &, const QString &msg)
{
    if (type != QtDebugMsg && type != QtInfoMsg)
        warnings << msg;
}

/* A sequential device giving its bytes `piece` at a time, as a pipe or a
 * network reply does. */
class Pieces : public QIODevice
{
public:
    Pieces(const QByteArray &data, qint64 piece) : data(data), piece(piece) { open(ReadOnly); }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return data.size() - pos + QIODevice::bytesAvailable(); }

protected:
    qint64 readData(char *out, qint64 max) override
    {
        qint64 n = qMin(qMin(max, piece), qint64(data.size()) - pos);
        if (n <= 0)
            return pos >= data.size() ? -1 : 0;
        memcpy(out, data.constData() + pos, size_t(n));
        pos += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray data;
    qint64 piece;
    qint64 pos = 0;
};

static QByteArray slurp(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

static QString describe(const QImage &img)
{
    return QStringLiteral("%1x%2 format %3 colours %4")
        .arg(img.width()).arg(img.height()).arg(int(img.format())).arg(img.colorCount());
}

/* What the plugin adds to the PNG's own text keys, from the library. */
static QMap<QString, QString> generation_texts(const QString &path)
{
    QMap<QString, QString> texts;
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    if (raiiaf_open_file(ctx, QFile::encodeName(path).constData()) == RAIIAF_OK) {
        raiiaf_image_info info;
        if (raiiaf_get_image_info(ctx, &info) == RAIIAF_OK && info.png_color_type == 2 &&
            info.png_bit_depth == 16 && info.format == RAIIAF_FMT_RGBA16)
            qt_defined_row_bytes = qsizetype(info.width) * 6;
        const char *params;
        if (raiiaf_get_parameters_text(ctx, &params) == RAIIAF_OK && params[0])
            texts.insert(QStringLiteral("parameters"), QString::fromUtf8(params));
        size_t count = 0;
        raiiaf_get_text_count(ctx, &count);
        for (size_t i = 0; i < count; i++) {
            const char *k, *v;
            if (raiiaf_get_text(ctx, i, &k, &v) == RAIIAF_OK)
                texts.insert(QLatin1String("raiiaf.") + QString::fromUtf8(k), QString::fromUtf8(v));
        }
    }
    raiiaf_ctx_free(ctx);
    return texts;
}

/* Where two images of the same size and format differ first, "" if not. */
static QString first_difference(const QImage &a, const QImage &b)
{
    if (a.size() != b.size() || a.format() != b.format())
        return QStringLiteral(" (size or format)");
    if (a.colorTable() != b.colorTable())
        return QStringLiteral(" (colour tables differ)");
    const qsizetype bytes = qt_defined_row_bytes ? qt_defined_row_bytes
                                                 : qsizetype(a.width()) * a.depth() / 8;
    for (int y = 0; y < a.height(); y++) {
        const uchar *p = a.constScanLine(y), *q = b.constScanLine(y);
        for (qsizetype i = 0; i < bytes; i++)
            if (p[i] != q[i])
                return QStringLiteral(" (row %1 byte %2: %3, PNG %4)").arg(y).arg(i).arg(p[i]).arg(q[i]);
    }
    return QString();
}

static void compare(const QString &what, const QImage &got, const QImage &want,
                    const QMap<QString, QString> &extra, bool pixels = true)
{
    check(!got.isNull(), what + ": read");
    if (got.isNull())
        return;
    check(got.format() == want.format() && got.size() == want.size() &&
              got.colorCount() == want.colorCount(),
          what + ": " + describe(got) + ", Qt's PNG handler: " + describe(want));
    if (pixels) {
        const QString diff = first_difference(got, want);
        check(diff.isEmpty(), what + ": pixels and colour table equal to Qt's PNG handler's" + diff);
    }
    check(got.colorSpace() == want.colorSpace(),
          what + ": colour space " + got.colorSpace().description() + ", PNG: " +
              want.colorSpace().description());
    check(got.dotsPerMeterX() == want.dotsPerMeterX() && got.dotsPerMeterY() == want.dotsPerMeterY(),
          what + ": resolution");
    QStringList wantKeys = want.textKeys();
    for (auto it = extra.begin(); it != extra.end(); ++it)
        if (!wantKeys.contains(it.key()))
            wantKeys << it.key();
    QStringList gotKeys = got.textKeys();
    gotKeys.sort();
    wantKeys.sort();
    check(gotKeys == wantKeys, what + ": text keys " + gotKeys.join(',') + ", want " + wantKeys.join(','));
    for (const QString &key : want.textKeys())
        check(got.text(key) == want.text(key), what + ": text " + key + " as in the PNG");
    for (auto it = extra.begin(); it != extra.end(); ++it)
        if (!want.textKeys().contains(it.key()))
            check(got.text(it.key()) == it.value(), what + ": text " + it.key() + " from the library");
}

static int cmd_same(const QString &raiiaf, const QString &png)
{
    const QMap<QString, QString> extra = generation_texts(raiiaf);

    QImageReader ref(png);
    QMap<QString, QString> refTexts;  /* asked before the read, as Qt's PNG handler wants */
    for (const QString &key : ref.textKeys())
        refTexts.insert(key, ref.text(key));
    const QImage want = ref.read();
    check(!want.isNull(), "Qt's PNG handler reads " + png + ": " + ref.errorString());
    if (want.isNull())
        return 1;

    /* By path: format from the suffix, Size and ImageFormat before the read. */
    QImageReader r(raiiaf);
    check(r.canRead() && r.format() == "raiiaf", "canRead, format " + QString::fromLatin1(r.format()));
    check(r.supportsOption(QImageIOHandler::Size) && r.size() == want.size(), "Size before the read");
    check(r.imageFormat() == want.format(), "ImageFormat before the read");
    check(r.imageCount() == 1, "imageCount 1");
    for (auto it = refTexts.begin(); it != refTexts.end(); ++it)
        check(r.text(it.key()) == it.value(), "QImageReader::text(" + it.key() + ") before the read");
    for (auto it = extra.begin(); it != extra.end(); ++it)
        if (!refTexts.contains(it.key()))
            check(r.text(it.key()) == it.value().simplified(),
                  "QImageReader::text(" + it.key() + ") before the read");
    compare("by path", r.read(), want, extra);
    check(r.read().isNull(), "a second read gives nothing (one image)");

    /* From a device that is not a file: the format named (as a program
     * knowing the MIME type does), and sniffed from the content where the
     * first piece holds the signature (Qt's handlers peek at the first
     * bytes, which a device giving 1 or 7 at a time does not have yet). */
    const QByteArray bytes = slurp(raiiaf);
    for (qint64 piece : { 1, 7, 4096 }) {
        Pieces dev(bytes, piece);
        QImageReader p(&dev, piece < 4096 ? "raiiaf" : QByteArray());
        check(p.format() == "raiiaf", "format " + QString::fromLatin1(p.format()));
        compare(QStringLiteral("pieces of %1").arg(piece), p.read(), want, extra);
    }

    /* ScaledSize: as Qt's PNG handler scales (decode once, then scale). */
    const QList<QSize> sizes = { want.size() / 3, QSize(64, 64 * want.height() / want.width() + 1),
                                 want.size() * 2 };
    for (const QSize &size : sizes) {
        if (size.isEmpty())
            continue;
        QImageReader rs(png), os(raiiaf);
        rs.setScaledSize(size);
        os.setScaledSize(size);
        const QImage scaledWant = rs.read();
        compare(QStringLiteral("ScaledSize %1x%2").arg(size.width()).arg(size.height()), os.read(),
                scaledWant, extra, qt_defined_row_bytes == 0);
    }
    check(warnings.isEmpty(), "no warnings: " + warnings.join(" | "));
    return failures ? 1 : 0;
}

static int cmd_error(const QString &raiiaf)
{
    QImageReader r(raiiaf, "raiiaf");
    QImage img = r.read();
    check(img.isNull(), "refused by path");
    const QString first = warnings.value(0);
    check(first.startsWith(QLatin1String("raiiaf: ")), "a message from the plugin: " + first);
    const QByteArray bytes = slurp(raiiaf);
    for (qint64 piece : { 1, 7, 4096 }) {
        Pieces dev(bytes, piece);
        QImageReader p(&dev, "raiiaf");
        check(p.read().isNull(), QStringLiteral("refused in pieces of %1").arg(piece));
    }
    printf("%s\n", qUtf8Printable(first));
    return failures ? 1 : 0;
}

static int cmd_size_only()
{
    const uint32_t side = 4200;
    std::vector<uint8_t> pixels(size_t(side) * side, 0x80);
    raiiaf_pixels px {};
    px.width = px.height = side;
    px.format = RAIIAF_FMT_G8;
    px.data = pixels.data();
    raiiaf_writer *w = raiiaf_writer_new();
    void *file = nullptr;
    size_t size = 0;
    if (!w || raiiaf_writer_set_image_pixels(w, &px, 9) != RAIIAF_OK ||
        raiiaf_writer_write_memory(w, &file, &size) != RAIIAF_OK) {
        fprintf(stderr, "writing the test file: %s\n", raiiaf_writer_message(w));
        return 1;
    }
    raiiaf_writer_free(w);
    QByteArray bytes(static_cast<const char *>(file), qsizetype(size));
    raiiaf_free(file);
    QImageReader::setAllocationLimit(16);   /* MB: less than 4200 x 4200 */
    QBuffer buf(&bytes);
    buf.open(QIODevice::ReadOnly);
    QImageReader r(&buf);
    check(r.size() == QSize(side, side), "Size without decoding");
    check(r.imageFormat() == QImage::Format_Grayscale8, "ImageFormat without decoding");
    check(r.read().isNull(), "the read refused by the allocation limit");
    return failures ? 1 : 0;
}

static int cmd_find(const QString &shot, const QString &raiiaf, int x0, int y0, int w, int h)
{
    QImage screen(shot);
    QImage img = QImageReader(raiiaf).read();
    if (screen.isNull() || img.isNull()) {
        fprintf(stderr, "cannot read %s or %s\n", qUtf8Printable(shot), qUtf8Printable(raiiaf));
        return 1;
    }
    screen = screen.convertToFormat(QImage::Format_RGB32);
    img = img.convertToFormat(QImage::Format_RGB32);
    const QRect area = QRect(x0, y0, w, h).intersected(screen.rect());
    const QRgb first = img.pixel(0, 0) & 0xffffff;
    for (int y = area.top(); y + img.height() - 1 <= area.bottom(); y++) {
        for (int x = area.left(); x + img.width() - 1 <= area.right(); x++) {
            if ((screen.pixel(x, y) & 0xffffff) != first)
                continue;
            bool all = true;
            for (int iy = 0; iy < img.height() && all; iy++)
                for (int ix = 0; ix < img.width() && all; ix++)
                    all = (screen.pixel(x + ix, y + iy) & 0xffffff) == (img.pixel(ix, iy) & 0xffffff);
            if (all) {
                printf("at %d,%d\n", x, y);
                return 0;
            }
        }
    }
    printf("not found in %dx%d+%d+%d\n", area.width(), area.height(), area.x(), area.y());
    return 1;
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    qInstallMessageHandler(handler);
    const QStringList a = app.arguments();
    int rc = 2;
    if (a.size() == 4 && a[1] == QLatin1String("same"))
        rc = cmd_same(a[2], a[3]);
    else if (a.size() == 3 && a[1] == QLatin1String("error"))
        rc = cmd_error(a[2]);
    else if (a.size() == 2 && a[1] == QLatin1String("size-only"))
        rc = cmd_size_only();
    else if (a.size() == 8 && a[1] == QLatin1String("find"))
        rc = cmd_find(a[2], a[3], a[4].toInt(), a[5].toInt(), a[6].toInt(), a[7].toInt());
    else
        fprintf(stderr, "usage: test-qt same RAIIAF PNG | error RAIIAF | size-only | find SHOT RAIIAF X Y W H\n");
    if (rc == 1 && !warnings.isEmpty())
        fprintf(stderr, "warnings: %s\n", qUtf8Printable(warnings.join(" | ")));
    return rc;
}
