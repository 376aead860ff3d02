/* Qt 6 image plugin for .raiiaf files (read only).
 *
 * SPDX-License-Identifier: MIT
 *
 * Translates between Qt and libraiiaf: the library opens and checks the
 * file (limits, records, sha256 of the image chunk); the embedded PNG is
 * then read by Qt's own PNG handler, so a QImageReader gives for a .raiiaf
 * exactly what it gives for the PNG inside it: the same QImage format
 * (Mono, Indexed8, Grayscale8/16, RGB32, ARGB32, RGBX64, RGBA64), pixels,
 * colour space (ICC profile, sRGB, gAMA/cHRM), text keys, resolution and
 * scaled reads. The plugin adds the generation data as text keys:
 * "parameters" (the AUTOMATIC1111 text, unless the PNG has its own) and
 * "raiiaf.KEY" for each of the library's text pairs.
 *
 * A file named by a path is opened with raiiaf_open_file (latents are not
 * read); any other device goes through a raiiaf_stream, which takes exactly
 * the file and checks its header with the first bytes. */
#include "qraiiaf.h"

#include <raiiaf.h>

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QLoggingCategory>
#include <QVariant>

Q_LOGGING_CATEGORY(lcRaiiaf, "qt.gui.imageio.raiiaf")

namespace {

class RaiiafHandler : public QImageIOHandler
{
public:
    RaiiafHandler() = default;
    ~RaiiafHandler() override;

    bool canRead() const override;
    bool read(QImage *image) override;
    QVariant option(ImageOption option) const override;
    void setOption(ImageOption option, const QVariant &value) override;
    bool supportsOption(ImageOption option) const override;
    int imageCount() const override { return 1; }

    static bool canRead(QIODevice *device);

private:
    enum State { Unopened, Opened, Failed };

    bool open() const;
    bool fail(const char *message) const;
    QList<QPair<QString, QString>> generationTexts() const;

    /* Opened on first need (option() is const, as Qt declares it). */
    mutable State state = Unopened;
    mutable bool done = false;
    mutable raiiaf_stream *stream = nullptr;
    mutable raiiaf_ctx *ctx = nullptr;
    mutable raiiaf_image_info info {};
    mutable QByteArray png;     /* the embedded PNG, borrowed from ctx */
    mutable QBuffer pngDevice;
    mutable QImageReader pngReader;
    QSize scaledSize;
};

RaiiafHandler::~RaiiafHandler()
{
    pngReader.setDevice(nullptr);
    pngDevice.close();
    raiiaf_ctx_free(ctx);       /* before the stream that holds its bytes */
    raiiaf_stream_free(stream);
}

bool RaiiafHandler::fail(const char *message) const
{
    qCWarning(lcRaiiaf, "raiiaf: %s", message);
    state = Failed;
    return false;
}

bool RaiiafHandler::canRead(QIODevice *device)
{
    if (!device)
        return false;
    const QByteArray head = device->peek(RAIIAF_MAGIC_SIZE);
    return head.size() == RAIIAF_MAGIC_SIZE && raiiaf_check_signature(head.constData(), head.size());
}

bool RaiiafHandler::canRead() const
{
    if (state == Opened && !done)
        return true;
    if (state != Unopened || !canRead(device()))
        return false;
    const_cast<RaiiafHandler *>(this)->setFormat("raiiaf");
    return true;
}

bool RaiiafHandler::open() const
{
    if (state != Unopened)
        return state == Opened;
    QIODevice *dev = device();
    if (!dev)
        return fail("no device to read from");
    ctx = raiiaf_ctx_new();
    if (!ctx)
        return fail(raiiaf_ctx_message(nullptr));
    raiiaf_limits limits;
    raiiaf_limits_default(&limits);
    raiiaf_ctx_set_limits(ctx, &limits);

    int err;
    const QFile *file = qobject_cast<const QFile *>(dev);
    const QFileInfo path(file ? file->fileName() : QString());
    if (file && !dev->isSequential() && dev->pos() == 0 && path.isNativePath() && path.isFile()) {
        err = raiiaf_open_file(ctx, QFile::encodeName(path.filePath()).constData());
        if (err != RAIIAF_OK)
            return fail(raiiaf_ctx_message(ctx));
    } else {
        stream = raiiaf_stream_new();
        if (!stream)
            return fail("out of memory");
        raiiaf_stream_set_limits(stream, &limits);
        char buf[65536];
        for (uint64_t wanted; (wanted = raiiaf_stream_wanted(stream)) != 0;) {
            qint64 n = dev->read(buf, qint64(qMin<uint64_t>(wanted, sizeof buf)));
            if (n == 0 && dev->isSequential() && dev->waitForReadyRead(30000))
                continue;
            if (n < 0)
                return fail(qUtf8Printable(dev->errorString()));
            if (n == 0)
                break;
            if (raiiaf_stream_push(stream, buf, size_t(n)) != RAIIAF_OK)
                return fail(raiiaf_stream_message(stream));
        }
        /* One byte more: a file longer than its header says is refused,
         * as by raiiaf_open_file(). */
        if (raiiaf_stream_wanted(stream) == 0 && dev->read(buf, 1) == 1 &&
            raiiaf_stream_push(stream, buf, 1) != RAIIAF_OK)
            return fail(raiiaf_stream_message(stream));
        err = raiiaf_stream_open(stream, ctx);
        if (err != RAIIAF_OK) {
            /* The stream's message when the input ended early, the
             * context's when the bytes are there but wrong. */
            const char *msg = raiiaf_ctx_message(ctx);
            return fail(msg[0] ? msg : raiiaf_stream_message(stream));
        }
    }

    const void *data;
    size_t size;
    if (raiiaf_get_image_info(ctx, &info) != RAIIAF_OK ||
        raiiaf_get_image_data(ctx, &data, &size) != RAIIAF_OK)
        return fail(raiiaf_ctx_message(ctx));
    if (size > size_t(std::numeric_limits<qsizetype>::max()))
        return fail("image chunk too large");
    png = QByteArray::fromRawData(static_cast<const char *>(data), qsizetype(size));
    pngDevice.setBuffer(&png);
    if (!pngDevice.open(QIODevice::ReadOnly))
        return fail("cannot read the embedded PNG");
    pngReader.setDevice(&pngDevice);
    pngReader.setFormat("png");
    state = Opened;
    return true;
}

/* "parameters" (unless the PNG holds one) and "raiiaf.KEY" for each of the
 * library's text pairs: the keys hold no ':' so that QImageReader::text()
 * reads them back from the Description option. */
QList<QPair<QString, QString>> RaiiafHandler::generationTexts() const
{
    QList<QPair<QString, QString>> texts;
    const char *params;
    if (raiiaf_get_parameters_text(ctx, &params) == RAIIAF_OK && params[0])
        texts.append({ QStringLiteral("parameters"), QString::fromUtf8(params) });
    size_t count = 0;
    if (raiiaf_get_text_count(ctx, &count) != RAIIAF_OK)
        return texts;
    for (size_t i = 0; i < count; i++) {
        const char *k, *v;
        if (raiiaf_get_text(ctx, i, &k, &v) == RAIIAF_OK)
            texts.append({ QLatin1String("raiiaf.") + QString::fromUtf8(k), QString::fromUtf8(v) });
    }
    return texts;
}

bool RaiiafHandler::read(QImage *image)
{
    if (done || !open())
        return false;
    done = true;
    if (scaledSize.isValid())
        pngReader.setScaledSize(scaledSize);
    /* Qt's PNG handler answers Description only before its read. */
    pngReader.textKeys();
    QImage img;
    if (!pngReader.read(&img))
        return fail(qUtf8Printable(QLatin1String("the embedded PNG: ") + pngReader.errorString()));
    const QString pngParameters = img.text(QStringLiteral("parameters"));
    for (const auto &[key, value] : generationTexts()) {
        if (key == QLatin1String("parameters") && !pngParameters.isEmpty())
            continue;
        img.setText(key, value);
    }
    *image = img;
    return true;
}

QVariant RaiiafHandler::option(ImageOption option) const
{
    switch (option) {
    case Size:
        if (open())
            return QSize(int(info.width), int(info.height));
        break;
    case ScaledSize:
        return scaledSize;
    case ImageFormat:
        if (open())
            return pngReader.imageFormat();
        break;
    case Description:
        /* As Qt's PNG handler words it: "KEY: VALUE" pairs, blank-line
         * separated, values simplified. */
        if (open()) {
            QStringList pairs;
            const QStringList keys = pngReader.textKeys();
            for (const QString &key : keys)
                pairs << key + QLatin1String(": ") + pngReader.text(key);
            for (const auto &[key, value] : generationTexts()) {
                if (key == QLatin1String("parameters") && keys.contains(key))
                    continue;
                pairs << key + QLatin1String(": ") + value.simplified();
            }
            return pairs.join(QLatin1String("\n\n"));
        }
        break;
    default:
        break;
    }
    return QVariant();
}

void RaiiafHandler::setOption(ImageOption option, const QVariant &value)
{
    if (option == ScaledSize)
        scaledSize = value.toSize();
}

bool RaiiafHandler::supportsOption(ImageOption option) const
{
    return option == Size || option == ScaledSize || option == ImageFormat ||
           option == Description;
}

} // namespace

QImageIOPlugin::Capabilities RaiiafPlugin::capabilities(QIODevice *device,
                                                        const QByteArray &format) const
{
    if (format == "raiiaf")
        return CanRead;
    if (!format.isEmpty() || !device || !device->isReadable())
        return {};
    return RaiiafHandler::canRead(device) ? CanRead : Capabilities();
}

QImageIOHandler *RaiiafPlugin::create(QIODevice *device, const QByteArray &format) const
{
    auto *handler = new RaiiafHandler;
    handler->setDevice(device);
    handler->setFormat(format.isEmpty() ? QByteArray("raiiaf") : format);
    return handler;
}
