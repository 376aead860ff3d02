/* The ImageMagick 7 calls the coder makes, for ImageMagick 6 as well.
 *
 * SPDX-License-Identifier: MIT
 *
 * raiiaf.c is written against MagickCore 7. Built against MagickCore 6
 * (Debian 12, Ubuntu 22.04 and 24.04 ship 6.9; meson defines
 * RAIIAF_MAGICK6), this header maps the few calls whose form differs:
 * ImageMagick 6 takes no exception argument where 7 added one (the image
 * carries its own, image->exception), names a few predicates differently,
 * keeps alpha as `matte` and resolution as two fields, and registers a coder
 * with SetMagickInfo. Each macro below calls the ImageMagick 6 function of
 * the same name (the parentheses stop the macro from expanding again).
 * Pixels never go through these calls: ImageMagick's own PNG coder decodes
 * the embedded PNG, and ExportImagePixels, the same in both, hands pixels
 * to the library.
 */
#ifndef RAIIAF_MAGICK_COMPAT_H
#define RAIIAF_MAGICK_COMPAT_H

#ifdef RAIIAF_MAGICK6

#include <magick/MagickCore.h>

#define AcquireImage(image_info, exception) (AcquireImage)(image_info)
#define SetImageProfile(image, name, profile, exception) \
    (SetImageProfile)(image, name, profile)
#define SetImageProperty(image, name, value, exception) \
    (SetImageProperty)(image, name, value)
#define GetImageProperty(image, name, exception) (GetImageProperty)(image, name)
#define SetImageDepth(image, depth, exception) (SetImageDepth)(image, depth)
#define TransformImageColorspace(image, colorspace, exception) \
    (TransformImageColorspace)(image, colorspace)
#define IsImageGray(image) IsGrayImage(image, &(image)->exception)
#define IsImageOpaque(image, exception) IsOpaqueImage(image, exception)
#define IsStringFalse(text) (IsStringNotFalse(text) == MagickFalse)

/* MagickTrue when the blob was closed without error: ImageMagick 6's
 * CloseBlob returns the blob's error flag instead (MagickTrue on error). */
#define RAIIAF_CLOSE_BLOB(image) (CloseBlob(image) == MagickFalse ? MagickTrue : MagickFalse)
#define RAIIAF_IMAGE_HAS_ALPHA(image) ((image)->matte != MagickFalse)
#define RAIIAF_RESOLUTION_X(image) ((image)->x_resolution)
#define RAIIAF_RESOLUTION_Y(image) ((image)->y_resolution)

static inline MagickInfo *AcquireMagickInfo(const char *module, const char *name,
                                            const char *description)
{
    MagickInfo *entry = SetMagickInfo(name);

    entry->module = ConstantString(module);
    entry->description = ConstantString(description);
    return entry;
}

/* ImageMagick 6 encoders take no exception argument: the image's own. */
#define RAIIAF_ENCODER(name)                                                   \
    static MagickBooleanType name##6(const ImageInfo *image_info, Image *image) \
    {                                                                          \
        return name(image_info, image, &image->exception);                     \
    }
#define RAIIAF_ENCODER_HANDLER(name) name##6

#else

#include <MagickCore/MagickCore.h>

#define RAIIAF_CLOSE_BLOB(image) CloseBlob(image)
#define RAIIAF_IMAGE_HAS_ALPHA(image) ((image)->alpha_trait != UndefinedPixelTrait)
#define RAIIAF_RESOLUTION_X(image) ((image)->resolution.x)
#define RAIIAF_RESOLUTION_Y(image) ((image)->resolution.y)
#define RAIIAF_ENCODER(name)
#define RAIIAF_ENCODER_HANDLER(name) name

#endif

#endif
