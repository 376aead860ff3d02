/* Qt 6 image plugin for .raiiaf files (read only).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QRAIIAF_H
#define QRAIIAF_H

#include <QImageIOHandler>
#include <QImageIOPlugin>

class RaiiafPlugin : public QImageIOPlugin
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID QImageIOHandlerFactoryInterface_iid FILE "raiiaf.json")

public:
    Capabilities capabilities(QIODevice *device, const QByteArray &format) const override;
    QImageIOHandler *create(QIODevice *device, const QByteArray &format = QByteArray()) const override;
};

#endif
