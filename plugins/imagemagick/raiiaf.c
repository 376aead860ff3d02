/* ImageMagick 7 coder for .raiiaf files.
 *
 * SPDX-License-Identifier: MIT
 *
 * A translator between ImageMagick and libraiiaf; it knows nothing of the
 * file layout itself.
 *
 * Reading hands the embedded PNG bytes to ImageMagick's own PNG coder, so
 * pixels, depth, palette, ICC profile and gamma come out exactly as
 * `magick embedded.png` gives them. The library adds what a person reads as
 * `raiiaf:*` properties (plus the AUTOMATIC1111 `parameters` text as the
 * plain properties `parameters` and `comment`), and what re-writing needs
 * (manifest, environment, latents in stored form) as `raiiaf-*` profiles.
 *
 * Writing exports the pixels, lets the library encode them as PNG and
 * assemble the file in memory, and only then opens the output and writes
 * it with one WriteBlob: a failure while building the file never touches
 * the output.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "magick-compat.h" /* MagickCore 7, or 6 with RAIIAF_MAGICK6 */

#include <raiiaf.h>

/* ImageMagick exports its blob I/O (MagickExport) but does not install
 * blob-private.h, so an out-of-tree coder declares the few functions it
 * uses. OpenBlob is what gives us "-" for stdin/stdout, in-memory blobs,
 * compressed streams, +adjoin file naming and the path policy. The mode
 * values are those of the BlobMode enum, unchanged since ImageMagick 6. */
enum raiiaf_im_blob_mode {
    RAIIAF_IM_READ_BINARY_BLOB_MODE = 2,
    RAIIAF_IM_WRITE_BINARY_BLOB_MODE = 4
};
extern MagickBooleanType OpenBlob(const ImageInfo *, Image *, const enum raiiaf_im_blob_mode,
                                  ExceptionInfo *);
extern MagickBooleanType CloseBlob(Image *);
extern ssize_t ReadBlob(Image *, const size_t, void *);
extern ssize_t WriteBlob(Image *, const size_t, const void *);

ModuleExport size_t RegisterRAIIAFImage(void);
ModuleExport void UnregisterRAIIAFImage(void);

/* Prefix of the properties made from raiiaf_get_text() pairs. */
#define PROPERTY_PREFIX "raiiaf:"
/* Profiles that carry what re-writing the file needs. */
#define PROFILE_MANIFEST "raiiaf-manifest"
#define PROFILE_ENVIRONMENT "raiiaf-environment"
#define PROFILE_LATENT_PREFIX "raiiaf-latent-"

/* -define keys that steer the coder; every other raiiaf:KEY define is a
 * metadata field handed to raiiaf_writer_set_text(). */
#define DEFINE_PROFILES "raiiaf:profiles"
#define DEFINE_COMPRESSION_LEVEL "raiiaf:compression-level"
#define DEFINE_LATENT_STORAGE "raiiaf:latent-storage"

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

/* Which ImageMagick exception class a library error belongs to. */
static ExceptionType exception_type_for(int err, int writing)
{
    switch (err) {
    case RAIIAF_ENOMEM:
    case RAIIAF_ELIMIT:
        return ResourceLimitError;
    case RAIIAF_EIO:
        return writing ? FileOpenError : BlobError;
    case RAIIAF_EINVAL:
    case RAIIAF_EVALUE:
        return writing ? OptionError : CoderError;
    case RAIIAF_ENOTPNG:
    case RAIIAF_EUNSUPPORTED:
    case RAIIAF_EVERSION:
        return CoderError;
    case RAIIAF_ERANGE:
    case RAIIAF_EBADSTATE:
        return writing ? ImageError : CorruptImageError;
    default:
        return writing ? ImageError : CorruptImageError;
    }
}

/* Throws `err` with the library's sentence and the message naming the
 * failing record; `what` says what we were doing. */
static void throw_raiiaf_error(ExceptionInfo *exception, const char *module, const char *function,
                               size_t line, int err, int writing, const char *what,
                               const char *detail, const char *filename)
{
    char reason[MagickPathExtent];

    (void) FormatLocaleString(reason, sizeof reason, "raiiaf: %s: %s (%s)", what,
                              raiiaf_strerror(err), detail);
    (void) ThrowMagickException(exception, module, function, line,
                                exception_type_for(err, writing), reason, "`%s'", filename);
}

#define THROW_READ_ERROR(exception, err, what, ctx, filename)                                  \
    throw_raiiaf_error((exception), GetMagickModule(), (err), 0, (what),                       \
                       raiiaf_ctx_message(ctx), (filename))
#define THROW_WRITE_ERROR(exception, err, what, w, filename)                                   \
    throw_raiiaf_error((exception), GetMagickModule(), (err), 1, (what),                       \
                       raiiaf_writer_message(w), (filename))

/* A plain message of our own (bad define, resource limit, ...). */
static void throw_message(ExceptionInfo *exception, const char *module, const char *function,
                          size_t line, ExceptionType type, const char *reason,
                          const char *filename)
{
    (void) ThrowMagickException(exception, module, function, line, type, reason, "`%s'",
                                filename);
}
#define THROW_MESSAGE(exception, type, reason, filename)                                       \
    throw_message((exception), GetMagickModule(), (type), (reason), (filename))

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

/* ImageMagick's resource limits (policy.xml, -limit) become the library's,
 * so that a file over them fails before memory is spent, even when only
 * pinged. */
static void limits_from_magick(raiiaf_limits *limits)
{
    MagickSizeType width, height, area;

    raiiaf_limits_default(limits);
    width = GetMagickResourceLimit(WidthResource);
    height = GetMagickResourceLimit(HeightResource);
    area = GetMagickResourceLimit(AreaResource);
    if (width < limits->max_image_width)
        limits->max_image_width = (uint32_t) width;
    if (height < limits->max_image_height)
        limits->max_image_height = (uint32_t) height;
    if (area < limits->max_image_pixels)
        limits->max_image_pixels = area;
}

/* Reads a stream that ImageMagick could not map (pipe, stdin, compressed
 * file) through the library's stream helper: the magic and header are
 * checked with the first bytes, reading stops one byte after the header's
 * file size (more data there is refused, as for a file on disk),
 * and every byte kept is counted against ImageMagick's memory resource
 * (-limit memory) before it is read. *accounted receives what to
 * relinquish. fd >= 0 reads a FIFO of our own opening instead of the
 * blob. */
static raiiaf_stream *read_stream(Image *image, int fd, const raiiaf_limits *limits,
                                  MagickSizeType *accounted, ExceptionInfo *exception)
{
    raiiaf_stream *stream = raiiaf_stream_new();
    unsigned char piece[65536];
    int err;

    *accounted = 0;
    if (stream == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return NULL;
    }
    err = raiiaf_stream_set_limits(stream, limits);
    while (err == RAIIAF_OK) {
        uint64_t wanted = raiiaf_stream_wanted(stream);
        size_t n = wanted < sizeof piece ? (size_t) wanted : sizeof piece;
        ssize_t count;

        if (n == 0) {
            /* Complete: one more byte tells a file from a file with more
             * after it, which a file read from disk would fail on too. */
            if (fd >= 0 ? read(fd, piece, 1) == 1 : ReadBlob(image, 1, piece) == 1)
                err = raiiaf_stream_push(stream, piece, 1);
            break;
        }
        if (AcquireMagickResource(MemoryResource, (MagickSizeType) n) == MagickFalse) {
            THROW_MESSAGE(exception, ResourceLimitError,
                          "raiiaf: buffering the input exceeds the memory resource limit "
                          "(-limit memory)",
                          image->filename);
            raiiaf_stream_free(stream);
            return NULL;
        }
        *accounted += (MagickSizeType) n;
        count = fd >= 0 ? read(fd, piece, n) : ReadBlob(image, n, piece);
        if (count < 0 && fd >= 0 && errno == EINTR)
            continue;
        if (count <= 0)
            break;
        err = raiiaf_stream_push(stream, piece, (size_t) count);
    }
    if (err != RAIIAF_OK) {
        throw_raiiaf_error(exception, GetMagickModule(), err, 0, "reading the input",
                           raiiaf_stream_message(stream), image->filename);
        raiiaf_stream_free(stream);
        return NULL;
    }
    return stream;
}

static MagickBooleanType attach_profile(Image *image, const char *name, const void *data,
                                        size_t size, ExceptionInfo *exception)
{
    StringInfo *profile;
    MagickBooleanType status;

    if (size == 0)
        return MagickTrue;
    profile = BlobToStringInfo(data, size);
    if (profile == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return MagickFalse;
    }
    status = SetImageProfile(image, name, profile, exception);
    profile = DestroyStringInfo(profile);
    /* ImageMagick drops a profile over the policy's system:max-profile-size
     * with only a warning; a file re-written from this image would then
     * lose it without a word, so refuse instead. */
    if (status != MagickFalse && GetImageProfile(image, name) == NULL) {
        char reason[MagickPathExtent];

        (void) FormatLocaleString(reason, sizeof reason,
                                  "raiiaf: ImageMagick refused the %zu-byte profile %s (policy "
                                  "system:max-profile-size); read with -define "
                                  "raiiaf:profiles=false to leave the profiles out",
                                  size, name);
        THROW_MESSAGE(exception, ResourceLimitError, reason, image->filename);
        status = MagickFalse;
    }
    return status;
}

/* What a person reads: raiiaf:KEY for every text pair, and the
 * AUTOMATIC1111 text under the plain names that other formats carry
 * (PNG text `parameters`, JPEG/GIF/TIFF `comment`). */
static MagickBooleanType attach_properties(Image *image, raiiaf_ctx *ctx,
                                           ExceptionInfo *exception)
{
    size_t count = 0, i;
    const char *parameters = NULL;
    raiiaf_png_metadata *source = NULL;
    int err;

    err = raiiaf_get_text_count(ctx, &count);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the metadata", ctx, image->filename);
        return MagickFalse;
    }
    for (i = 0; i < count; i++) {
        const char *key, *value;
        char name[MagickPathExtent];

        err = raiiaf_get_text(ctx, i, &key, &value);
        if (err != RAIIAF_OK) {
            THROW_READ_ERROR(exception, err, "reading the metadata", ctx, image->filename);
            return MagickFalse;
        }
        (void) FormatLocaleString(name, sizeof name, PROPERTY_PREFIX "%s", key);
        (void) SetImageProperty(image, name, value, exception);
    }
    err = raiiaf_get_parameters_text(ctx, &parameters);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the generation parameters", ctx,
                         image->filename);
        return MagickFalse;
    }
    if (parameters != NULL && *parameters != '\0') {
        (void) SetImageProperty(image, "parameters", parameters, exception);
        (void) SetImageProperty(image, "comment", parameters, exception);
    }
    /* The AI tool's own text chunks as the file recorded them (a ComfyUI
     * prompt and workflow, the original parameters), under their keywords:
     * ImageMagick's PNG coder writes them back as text chunks. */
    err = raiiaf_get_source_texts(ctx, &source);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the AI tool's text", ctx, image->filename);
        return MagickFalse;
    }
    for (i = 0; i < source->text_count; i++)
        (void) SetImageProperty(image, source->texts[i].keyword, source->texts[i].text,
                                exception);
    raiiaf_free(source);
    return MagickTrue;
}

/* The latents in their stored form. Getting one checks it, which decodes
 * it (a zfp latent of the reference takes milliseconds), so the check runs
 * on a second thread while ImageMagick's PNG coder decodes the pixels. It
 * uses the reader's own context (the manifest is parsed once per read):
 * the reading thread does not touch the context until it has joined the
 * check (latent_job_join). */
typedef struct latent_job {
    raiiaf_ctx *ctx;
    size_t count;
    void **blobs;
    size_t *sizes;
    MagickSizeType accounted; /* against ImageMagick's memory resource */
    int err;
    char message[MagickPathExtent];
    pthread_t thread;
    int threaded;
} latent_job;

static void *check_latents(void *arg)
{
    latent_job *job = arg;
    size_t i;

    job->err = RAIIAF_OK;
    for (i = 0; job->err == RAIIAF_OK && i < job->count; i++)
        job->err = raiiaf_get_latent_stored(job->ctx, i, &job->blobs[i], &job->sizes[i]);
    if (job->err != RAIIAF_OK)
        (void) snprintf(job->message, sizeof job->message, "%s", raiiaf_ctx_message(job->ctx));
    return NULL;
}

static void latent_job_join(latent_job *job)
{
    if (job->threaded) {
        (void) pthread_join(job->thread, NULL);
        job->threaded = 0;
    }
}

static void latent_job_free(latent_job *job)
{
    size_t i;

    latent_job_join(job);
    for (i = 0; job->blobs != NULL && i < job->count; i++)
        raiiaf_free(job->blobs[i]);
    free(job->blobs);
    free(job->sizes);
    job->blobs = NULL;
    job->sizes = NULL;
    if (job->accounted != 0)
        RelinquishMagickResource(MemoryResource, job->accounted);
    job->accounted = 0;
}

/* Starts the check: counts the memory it takes against -limit memory first
 * (decoded values, our blob, the profile's copy), as for any coder's
 * pixels. */
static MagickBooleanType start_latent_job(latent_job *job, raiiaf_ctx *ctx, Image *image,
                                          ExceptionInfo *exception)
{
    size_t i;
    int err;

    memset(job, 0, sizeof *job);
    job->ctx = ctx;
    err = raiiaf_get_latent_count(ctx, &job->count);
    for (i = 0; err == RAIIAF_OK && i < job->count; i++) {
        raiiaf_latent_info latent;

        err = raiiaf_get_latent_info(ctx, i, &latent);
        if (err == RAIIAF_OK)
            job->accounted += (MagickSizeType) latent.decoded_size +
                              2 * (MagickSizeType) latent.stored_size;
    }
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the latents", ctx, image->filename);
        return MagickFalse;
    }
    if (job->count == 0)
        return MagickTrue;
    if (AcquireMagickResource(MemoryResource, job->accounted) == MagickFalse) {
        job->accounted = 0;
        THROW_MESSAGE(exception, ResourceLimitError,
                      "raiiaf: the latents exceed the memory resource limit", image->filename);
        return MagickFalse;
    }
    job->blobs = calloc(job->count, sizeof *job->blobs);
    job->sizes = calloc(job->count, sizeof *job->sizes);
    if (job->blobs == NULL || job->sizes == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return MagickFalse;
    }
    if (pthread_create(&job->thread, NULL, check_latents, job) == 0)
        job->threaded = 1;
    else
        (void) check_latents(job); /* no thread to be had: check here */
    return MagickTrue;
}

/* What re-writing needs: manifest, environment and each latent as stored. */
static MagickBooleanType attach_profiles(Image *image, raiiaf_ctx *ctx, latent_job *job,
                                         ExceptionInfo *exception)
{
    const char *json;
    size_t size, i;
    int err;

    err = raiiaf_get_manifest_json(ctx, &json, &size);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the manifest", ctx, image->filename);
        return MagickFalse;
    }
    if (attach_profile(image, PROFILE_MANIFEST, json, size, exception) == MagickFalse)
        return MagickFalse;
    err = raiiaf_get_env_json(ctx, &json, &size);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the environment", ctx, image->filename);
        return MagickFalse;
    }
    if (json != NULL &&
        attach_profile(image, PROFILE_ENVIRONMENT, json, size, exception) == MagickFalse)
        return MagickFalse;

    latent_job_join(job);
    if (job->err != RAIIAF_OK) {
        throw_raiiaf_error(exception, GetMagickModule(), job->err, 0, "reading a latent",
                           job->message, image->filename);
        return MagickFalse;
    }
    for (i = 0; i < job->count; i++) {
        char name[MagickPathExtent];

        (void) FormatLocaleString(name, sizeof name, PROFILE_LATENT_PREFIX "%zu", i);
        if (attach_profile(image, name, job->blobs[i], job->sizes[i], exception) == MagickFalse)
            return MagickFalse;
    }
    return MagickTrue;
}

/* Decodes (or pings) the embedded PNG with ImageMagick's own PNG coder. A
 * fresh ImageInfo keeps the user's -extract and png:* defines from being
 * applied twice or to the wrong image; errors of the PNG coder are kept. */
static Image *read_embedded_png(const ImageInfo *image_info, const Image *image,
                                const void *png, size_t png_size, ExceptionInfo *exception)
{
    ImageInfo *read_info;
    ExceptionInfo *png_exception;
    Image *png_image;

    read_info = AcquireImageInfo();
    if (read_info == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return NULL;
    }
    (void) CopyMagickString(read_info->magick, "PNG", MagickPathExtent);
    (void) CopyMagickString(read_info->filename, image->filename, MagickPathExtent);
    read_info->ping = image_info->ping;
    png_exception = AcquireExceptionInfo();
    png_image = BlobToImage(read_info, png, png_size, png_exception);
    read_info = DestroyImageInfo(read_info);
    /* A PNG coder that hit an error may still hand back part of an image:
     * never pass that on as if it were the file. */
    if (png_image != NULL && png_exception->severity >= ErrorException)
        png_image = DestroyImageList(png_image);
    if (png_image == NULL && png_exception->severity < ErrorException)
        (void) ThrowMagickException(png_exception, GetMagickModule(), CorruptImageError,
                                    "raiiaf: the embedded PNG could not be decoded", "`%s'",
                                    image->filename);
    InheritException(exception, png_exception);
    png_exception = DestroyExceptionInfo(png_exception);
    return png_image;
}

/* A named FIFO is opened here, without blocking: ImageMagick's blob layer
 * would wait forever in open() for a writer that may never come. A FIFO
 * whose writer is connected (a pipe given as /dev/stdin, or a FIFO being
 * fed) is then read as a stream; one without a writer reads as empty and
 * is refused as not a .raiiaf file. Returns the descriptor, -1 when the input is not a FIFO
 * by name, -2 after an error. */
static int open_fifo(const ImageInfo *image_info, Image *image, ExceptionInfo *exception)
{
    struct stat st;
    int fd, flags;

    /* /dev/stdin and /dev/fd/N stay ImageMagick's: it maps them to the
     * descriptors it already has. */
    if (image_info->file != NULL || image_info->blob != NULL ||
        strcmp(image_info->filename, "-") == 0 || strncmp(image_info->filename, "/dev/", 5) == 0 ||
        stat(image_info->filename, &st) != 0 || !S_ISFIFO(st.st_mode))
        return -1;
    if (IsRightsAuthorized(PathPolicyDomain, ReadPolicyRights, image_info->filename) ==
        MagickFalse) {
        THROW_MESSAGE(exception, PolicyError, "NotAuthorized", image->filename);
        return -2;
    }
    fd = open(image_info->filename, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        THROW_MESSAGE(exception, FileOpenError, "UnableToOpenFile", image->filename);
        return -2;
    }
    /* Reading blocks again from here: with a writer connected, a read
     * waits for its data; without one, it returns end of file at once. */
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

static Image *ReadRAIIAFImage(const ImageInfo *image_info, ExceptionInfo *exception)
{
    Image *image, *png_image = NULL, *next;
    raiiaf_ctx *ctx = NULL;
    raiiaf_limits limits;
    raiiaf_image_info info;
    const void *file_data, *png;
    raiiaf_stream *stream = NULL;
    MagickSizeType stream_accounted = 0;
    size_t file_size = 0, png_size = 0;
    int fifo;
    const char *option;
    MagickBooleanType want_profiles;
    latent_job latents;
    int err;

    memset(&latents, 0, sizeof latents);
    image = AcquireImage(image_info, exception);
    fifo = open_fifo(image_info, image, exception);
    if (fifo == -2 || (fifo == -1 && OpenBlob(image_info, image, RAIIAF_IM_READ_BINARY_BLOB_MODE,
                                              exception) == MagickFalse))
        return DestroyImageList(image);

    limits_from_magick(&limits);
    /* A regular file or an in-memory blob is mapped by OpenBlob; anything
     * else (pipe, stdin, .gz, a FIFO) goes through the library's stream
     * helper. */
    file_data = fifo >= 0 ? NULL : GetBlobStreamData(image);
    if (file_data != NULL) {
        file_size = (size_t) GetBlobSize(image);
    } else {
        stream = read_stream(image, fifo, &limits, &stream_accounted, exception);
        if (fifo >= 0)
            (void) close(fifo);
        fifo = -1;
        if (stream == NULL)
            goto fail;
        (void) raiiaf_stream_get_data(stream, &file_data, &file_size);
    }

    ctx = raiiaf_ctx_new();
    if (ctx == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        goto fail;
    }
    err = raiiaf_ctx_set_limits(ctx, &limits);
    /* "-limit thread 1" (or a policy) keeps the decode on this thread. */
    if (err == RAIIAF_OK && GetMagickResourceLimit(ThreadResource) <= 1)
        err = raiiaf_ctx_set_threads(ctx, 1);
    if (err == RAIIAF_OK)
        err = stream != NULL ? raiiaf_stream_open(stream, ctx)
                             : raiiaf_open_memory(ctx, file_data, file_size);
    if (err != RAIIAF_OK && stream != NULL && *raiiaf_ctx_message(ctx) == '\0') {
        throw_raiiaf_error(exception, GetMagickModule(), err, 0, "opening the file",
                           raiiaf_stream_message(stream), image->filename);
        goto fail;
    }
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "opening the file", ctx, image->filename);
        goto fail;
    }
    /* The size and colour information, read without decoding pixels; this
     * also rejects a DATA chunk that is not PNG, naming it. */
    err = raiiaf_get_image_info(ctx, &info);
    if (err == RAIIAF_OK)
        err = raiiaf_get_image_data(ctx, &png, &png_size);
    if (err != RAIIAF_OK) {
        THROW_READ_ERROR(exception, err, "reading the image", ctx, image->filename);
        goto fail;
    }
    option = GetImageOption(image_info, DEFINE_PROFILES);
    want_profiles = (option == NULL || IsStringFalse(option) == MagickFalse) ? MagickTrue
                                                                             : MagickFalse;
    /* A ping promises not to read latents, so it carries no profiles. */
    if (image_info->ping != MagickFalse)
        want_profiles = MagickFalse;
    if (want_profiles != MagickFalse &&
        start_latent_job(&latents, ctx, image, exception) == MagickFalse)
        goto fail;
    png_image = read_embedded_png(image_info, image, png, png_size, exception);
    latent_job_join(&latents); /* ctx is ours again */
    if (png_image == NULL)
        goto fail;
    for (next = png_image; next != NULL; next = GetNextImageInList(next)) {
        (void) CopyMagickString(next->magick, "RAIIAF", MagickPathExtent);
        (void) CopyMagickString(next->filename, image->filename, MagickPathExtent);
        (void) CopyMagickString(next->magick_filename, image->magick_filename,
                                MagickPathExtent);
        next->extent = (MagickSizeType) file_size;
        if (attach_properties(next, ctx, exception) == MagickFalse)
            goto fail;
        if (want_profiles != MagickFalse &&
            attach_profiles(next, ctx, &latents, exception) == MagickFalse)
            goto fail;
    }

    latent_job_free(&latents);
    raiiaf_ctx_free(ctx);
    raiiaf_stream_free(stream);
    if (stream_accounted != 0)
        RelinquishMagickResource(MemoryResource, stream_accounted);
    (void) CloseBlob(image);
    /* Let the decoded image refer to the file's blob, so that the date:*
     * properties describe the .raiiaf file, not the in-memory PNG. */
    for (next = png_image; next != NULL; next = GetNextImageInList(next))
        DuplicateBlob(next, image);
    image = DestroyImageList(image);
    return GetFirstImageInList(png_image);

fail:
    latent_job_free(&latents); /* joins the check first */
    if (png_image != NULL)
        png_image = DestroyImageList(png_image);
    raiiaf_ctx_free(ctx);
    raiiaf_stream_free(stream);
    if (stream_accounted != 0)
        RelinquishMagickResource(MemoryResource, stream_accounted);
    (void) CloseBlob(image);
    return DestroyImageList(image);
}

static MagickBooleanType IsRAIIAF(const unsigned char *magick, const size_t length)
{
    return raiiaf_check_signature(magick, length) ? MagickTrue : MagickFalse;
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

/* "7.1.1-43" out of "ImageMagick 7.1.1-43 Q16 x86_64 ...": the version
 * running, not the one compiled against. */
static void magick_version(char *out, size_t out_size)
{
    const char *text = GetMagickVersion(NULL);
    const char *start = strchr(text != NULL ? text : "", ' ');
    size_t n;

    if (start == NULL) {
        (void) CopyMagickString(out, MagickLibVersionText MagickLibAddendum, out_size);
        return;
    }
    start++;
    n = strcspn(start, " ");
    if (n >= out_size)
        n = out_size - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

static int is_control_define(const char *key)
{
    return LocaleCompare(key, DEFINE_PROFILES) == 0 ||
           LocaleCompare(key, DEFINE_COMPRESSION_LEVEL) == 0 ||
           LocaleCompare(key, DEFINE_LATENT_STORAGE) == 0;
}

/* The latent profiles in index order, whatever order ImageMagick keeps
 * them in. Returns the count, or -1 when out of memory. */
typedef struct latent_profile {
    unsigned long index;
    const StringInfo *profile;
} latent_profile;

static int compare_latent_profiles(const void *a, const void *b)
{
    const latent_profile *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

static long collect_latent_profiles(Image *image, latent_profile **out)
{
    const char *name;
    latent_profile *list = NULL;
    size_t count = 0, capacity = 0;
    const size_t prefix_length = strlen(PROFILE_LATENT_PREFIX);

    ResetImageProfileIterator(image);
    for (name = GetNextImageProfile(image); name != NULL; name = GetNextImageProfile(image)) {
        char *end;
        unsigned long index;

        if (LocaleNCompare(name, PROFILE_LATENT_PREFIX, prefix_length) != 0)
            continue;
        errno = 0;
        index = strtoul(name + prefix_length, &end, 10);
        if (errno != 0 || end == name + prefix_length || *end != '\0')
            continue;
        if (count == capacity) {
            size_t grown = capacity == 0 ? 4 : capacity * 2;
            latent_profile *bigger = realloc(list, grown * sizeof *list);
            if (bigger == NULL) {
                free(list);
                return -1;
            }
            list = bigger;
            capacity = grown;
        }
        list[count].index = index;
        list[count].profile = GetImageProfile(image, name);
        count++;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, compare_latent_profiles);
    *out = list;
    return (long) count;
}

/* The manifest, environment and latents of the file the image came from. */
static MagickBooleanType apply_profiles(raiiaf_writer *w, Image *image,
                                        ExceptionInfo *exception)
{
    const StringInfo *profile;
    latent_profile *latents = NULL;
    long count, i;
    int err;

    profile = GetImageProfile(image, PROFILE_MANIFEST);
    if (profile == NULL)
        return MagickTrue;
    err = raiiaf_writer_set_metadata_json(w, (const char *) GetStringInfoDatum(profile),
                                          GetStringInfoLength(profile));
    if (err != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "profile " PROFILE_MANIFEST, w, image->filename);
        return MagickFalse;
    }
    profile = GetImageProfile(image, PROFILE_ENVIRONMENT);
    if (profile != NULL) {
        err = raiiaf_writer_set_env_json(w, (const char *) GetStringInfoDatum(profile),
                                         GetStringInfoLength(profile));
        if (err != RAIIAF_OK) {
            THROW_WRITE_ERROR(exception, err, "profile " PROFILE_ENVIRONMENT, w,
                              image->filename);
            return MagickFalse;
        }
    }
    count = collect_latent_profiles(image, &latents);
    if (count < 0) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return MagickFalse;
    }
    for (i = 0; i < count; i++) {
        err = raiiaf_writer_add_latent_stored(w, GetStringInfoDatum(latents[i].profile),
                                              GetStringInfoLength(latents[i].profile));
        if (err != RAIIAF_OK) {
            char what[MagickPathExtent];

            (void) FormatLocaleString(what, sizeof what, "profile " PROFILE_LATENT_PREFIX "%lu",
                                      latents[i].index);
            THROW_WRITE_ERROR(exception, err, what, w, image->filename);
            free(latents);
            return MagickFalse;
        }
    }
    free(latents);
    return MagickTrue;
}

/* The texts of an image: its properties that are not ImageMagick's own
 * (no "png:", "date:", "raiiaf:", ... namespace) and that are either an AI
 * tool's keyword (parameters, prompt, workflow, invokeai_metadata, ...) or,
 * with `known` given, a property of `known` too (or, `known` being the
 * image itself, every such property). The strings are the image's.
 * Returns the count, or -1 out of memory. */
static long collect_texts(Image *image, Image *known, raiiaf_png_text **out,
                          ExceptionInfo *exception)
{
    raiiaf_png_text *list = NULL, *grown;
    const char *name, *value;
    size_t count = 0, capacity = 0;

    (void) exception; /* ImageMagick 6's GetImageProperty takes none */
    ResetImagePropertyIterator(image);
    for (name = GetNextImageProperty(image); name != NULL; name = GetNextImageProperty(image)) {
        if (strchr(name, ':') != NULL ||
            !(raiiaf_is_ai_text_keyword(name) || known == image ||
              (known != NULL && GetImageProperty(known, name, exception) != NULL)) ||
            (value = GetImageProperty(image, name, exception)) == NULL)
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            grown = realloc(list, capacity * sizeof *list);
            if (grown == NULL) {
                free(list);
                return -1;
            }
            list = grown;
        }
        memset(&list[count], 0, sizeof list[count]);
        list[count].keyword = name;
        list[count].text = value;
        list[count].size = strlen(value);
        list[count].compressed = list[count].size >= 1024;
        count++;
    }
    *out = list;
    return (long) count;
}

/* -strip (which sets the png:exclude-chunk artifact) or -define
 * png:exclude-chunk naming a text chunk, or all: no text goes out, as
 * with ImageMagick's PNG writer. */
static int texts_excluded(const ImageInfo *image_info, const Image *image)
{
    const char *lists[2];
    size_t i;

    lists[0] = GetImageArtifact(image, "png:exclude-chunk");
    lists[1] = GetImageOption(image_info, "png:exclude-chunk");
    for (i = 0; i < 2; i++) {
        const char *p = lists[i];

        while (p != NULL && *p != '\0') {
            size_t n = strcspn(p, ", ");

            if ((n == 3 && LocaleNCompare(p, "all", 3) == 0) ||
                (n == 4 && (LocaleNCompare(p, "tEXt", 4) == 0 ||
                            LocaleNCompare(p, "zTXt", 4) == 0 ||
                            LocaleNCompare(p, "iTXt", 4) == 0)))
                return 1;
            p += n;
            p += strspn(p, ", ");
        }
    }
    return 0;
}

/* What the library takes as a PNG at most: its image chunk limit. */
#define SOURCE_PNG_MAX ((off_t) 1 << 30)

/* The PNG file the image was read from (its magick_filename), mapped, and
 * what ImageMagick's PNG reader makes of its texts (no pixels decoded),
 * for raiiaf_writer_keep_png_texts(). Nothing (0) when it is not a plain,
 * readable PNG file. */
typedef struct source_png {
    void *map;
    size_t size;
    Image *read;
} source_png;

static int source_png_open(const Image *image, source_png *src)
{
    const char *path = image->magick_filename;
    struct stat st;
    ImageInfo *info;
    ExceptionInfo *quiet;
    void *texts = NULL;
    size_t texts_size = 0;
    int fd;

    memset(src, 0, sizeof *src);
    if (*path == '\0' || strcmp(path, "-") == 0 ||
        IsRightsAuthorized(PathPolicyDomain, ReadPolicyRights, path) == MagickFalse)
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 8 ||
        st.st_size > SOURCE_PNG_MAX) {
        (void) close(fd);
        return 0;
    }
    src->size = (size_t) st.st_size;
    src->map = mmap(NULL, src->size, PROT_READ, MAP_PRIVATE, fd, 0);
    (void) close(fd);
    if (src->map == MAP_FAILED) {
        src->map = NULL;
        return 0;
    }
    /* ImageMagick's ping reads no text: its PNG coder reads the file's
     * text chunks from a one-pixel PNG of them instead. */
    if (raiiaf_png_texts_only(src->map, src->size, &texts, &texts_size) == RAIIAF_OK) {
        info = AcquireImageInfo();
        quiet = AcquireExceptionInfo();
        if (info != NULL && quiet != NULL) {
            (void) CopyMagickString(info->filename, "png:", MagickPathExtent);
            (void) CopyMagickString(info->magick, "PNG", MagickPathExtent);
            src->read = BlobToImage(info, texts, texts_size, quiet);
        }
        if (info != NULL)
            info = DestroyImageInfo(info);
        if (quiet != NULL)
            quiet = DestroyExceptionInfo(quiet);
        raiiaf_free(texts);
    }
    if (src->read == NULL) {
        (void) munmap(src->map, src->size);
        src->map = NULL;
        return 0;
    }
    return 1;
}

static void source_png_close(source_png *src)
{
    if (src->read != NULL)
        src->read = DestroyImageList(src->read);
    if (src->map != NULL)
        (void) munmap(src->map, src->size);
    src->map = NULL;
}

/* The image's texts into the writer's image (given before) and manifest,
 * the image being read from the PNG file `src`: that file's text chunks
 * byte for byte, unless the user changed, removed or added a text (the
 * properties now against what ImageMagick read). -1 when the file turns
 * out to be no PNG (the caller then writes what the properties hold),
 * else MagickTrue/False. */
static int keep_source_texts(raiiaf_writer *w, Image *image, const source_png *src,
                             ExceptionInfo *exception)
{
    raiiaf_png_text *now = NULL, *read = NULL;
    long now_count, read_count;
    int err;

    now_count = collect_texts(image, src->read, &now, exception);
    read_count = now_count < 0 ? -1 : collect_texts(src->read, src->read, &read, exception);
    if (now_count < 0 || read_count < 0) {
        free(now);
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return MagickFalse;
    }
    err = raiiaf_writer_keep_png_texts(w, src->map, src->size, now, (size_t) now_count, read,
                                       (size_t) read_count);
    free(now);
    free(read);
    if (err == RAIIAF_ENOTPNG)
        return -1;
    if (err == RAIIAF_OK)
        err = raiiaf_writer_import_png_text(w);
    if (err != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "keeping the PNG's text", w, image->filename);
        return MagickFalse;
    }
    return MagickTrue;
}

/* Every -define raiiaf:KEY=VALUE that is not a coder control is a metadata
 * field (prompt, model, model-version, tags, seed, ...). */
static MagickBooleanType apply_defines(raiiaf_writer *w, const ImageInfo *image_info,
                                       Image *image, ExceptionInfo *exception)
{
    const char *key;
    const size_t prefix_length = strlen(PROPERTY_PREFIX);

    ResetImageOptionIterator(image_info);
    for (key = GetNextImageOption(image_info); key != NULL;
         key = GetNextImageOption(image_info)) {
        char field[MagickPathExtent];
        int err;

        if (LocaleNCompare(key, PROPERTY_PREFIX, prefix_length) != 0 || is_control_define(key))
            continue;
        /* ImageMagick matches option names without regard to case; so do
         * we, the library's keys being lower case. */
        (void) CopyMagickString(field, key + prefix_length, sizeof field);
        LocaleLower(field);
        err = raiiaf_writer_set_text(w, field, GetImageOption(image_info, key));
        if (err != RAIIAF_OK) {
            char what[MagickPathExtent];

            (void) FormatLocaleString(what, sizeof what, "-define %s", key);
            THROW_WRITE_ERROR(exception, err, what, w, image->filename);
            return MagickFalse;
        }
    }
    return MagickTrue;
}

/* -define raiiaf:compression-level=0..9 (zlib level of the PNG); else
 * -quality as ImageMagick's PNG coder reads its tens digit (level
 * quality / 10, at most 9); -1 is the library's default. */
static MagickBooleanType compression_level_option(const ImageInfo *image_info, Image *image,
                                                  int *level, ExceptionInfo *exception)
{
    const char *option = GetImageOption(image_info, DEFINE_COMPRESSION_LEVEL);
    char *end;
    long value;

    *level = -1;
    if (option == NULL) {
        if (image_info->quality > 0) /* 0: no -quality given */
            *level = image_info->quality / 10 > 9 ? 9 : (int) (image_info->quality / 10);
        return MagickTrue;
    }
    errno = 0;
    value = strtol(option, &end, 10);
    if (errno != 0 || end == option || *end != '\0' || value < 0 || value > 9) {
        THROW_MESSAGE(exception, OptionError,
                      "raiiaf: -define raiiaf:compression-level wants an integer 0-9",
                      image->filename);
        return MagickFalse;
    }
    *level = (int) value;
    return MagickTrue;
}

/* -define raiiaf:latent-storage=keep|auto|raw|zfp; keep (the default)
 * copies latents bit for bit as they were stored. Returns -1 for keep. */
static MagickBooleanType latent_storage_option(const ImageInfo *image_info, Image *image,
                                               int *storage, ExceptionInfo *exception)
{
    const char *option = GetImageOption(image_info, DEFINE_LATENT_STORAGE);

    *storage = -1;
    if (option == NULL || LocaleCompare(option, "keep") == 0)
        return MagickTrue;
    if (LocaleCompare(option, "auto") == 0)
        *storage = RAIIAF_STORAGE_AUTO;
    else if (LocaleCompare(option, "raw") == 0)
        *storage = RAIIAF_STORAGE_RAW;
    else if (LocaleCompare(option, "zfp") == 0)
        *storage = RAIIAF_STORAGE_ZFP;
    else {
        THROW_MESSAGE(exception, OptionError,
                      "raiiaf: -define raiiaf:latent-storage wants keep, auto, raw or zfp",
                      image->filename);
        return MagickFalse;
    }
    return MagickTrue;
}

/* Exports the pixels in the smallest raiiaf format that keeps them: grey
 * when the image is grey, alpha only when some pixel is not opaque, 16 bits
 * when the image depth (or -depth) is over 8. `ours` says the image is our
 * own copy, which may be changed. */
static void *export_pixels(Image *image, MagickBooleanType ours, raiiaf_pixels *pixels,
                           ExceptionInfo *exception)
{
    MagickBooleanType grey, alpha, sixteen, status;
    const char *map;
    size_t bytes;
    void *data;
    Image *source;

    grey = (image->colorspace == GRAYColorspace || IsImageGray(image) != MagickFalse)
               ? MagickTrue
               : MagickFalse;
    alpha = (RAIIAF_IMAGE_HAS_ALPHA(image) && IsImageOpaque(image, exception) == MagickFalse)
                ? MagickTrue
                : MagickFalse;
    sixteen = image->depth > 8 ? MagickTrue : MagickFalse;
    if (grey != MagickFalse) {
        /* In a grey image the red channel is the grey channel. */
        map = alpha != MagickFalse ? "RA" : "R";
        pixels->format = alpha != MagickFalse ? (sixteen ? RAIIAF_FMT_GA16 : RAIIAF_FMT_GA8)
                                              : (sixteen ? RAIIAF_FMT_G16 : RAIIAF_FMT_G8);
    } else {
        map = alpha != MagickFalse ? "RGBA" : "RGB";
        pixels->format = alpha != MagickFalse ? (sixteen ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGBA8)
                                              : (sixteen ? RAIIAF_FMT_RGB16 : RAIIAF_FMT_RGB8);
    }
    pixels->width = (uint32_t) image->columns;
    pixels->height = (uint32_t) image->rows;
    pixels->stride = 0;
    bytes = raiiaf_format_pixel_size(pixels->format);
    if (image->columns > UINT32_MAX || image->rows > UINT32_MAX ||
        (image->rows != 0 && image->columns > SIZE_MAX / bytes / image->rows)) {
        THROW_MESSAGE(exception, ResourceLimitError, "raiiaf: the image is too large",
                      image->filename);
        return NULL;
    }
    bytes *= image->columns * image->rows;
    data = malloc(bytes != 0 ? bytes : 1);
    if (data == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return NULL;
    }
    /* Reduce to 8 bits the way ImageMagick does for -depth 8 and its PNG
     * writer (SetImageDepth, -dither honoured), on a copy-on-write clone so
     * that the caller's image is left as it was. */
    source = image;
    if (sixteen == MagickFalse) {
        if (ours == MagickFalse)
            source = CloneImage(image, 0, 0, MagickTrue, exception);
        if (source == NULL || SetImageDepth(source, 8, exception) == MagickFalse) {
            if (source != NULL && source != image)
                source = DestroyImage(source);
            free(data);
            return NULL;
        }
    }
    status = ExportImagePixels(source, 0, 0, image->columns, image->rows, map,
                               sixteen != MagickFalse ? ShortPixel : CharPixel, data, exception);
    if (source != image)
        source = DestroyImage(source);
    if (status == MagickFalse) {
        free(data);
        return NULL;
    }
    pixels->data = data;
    return data;
}

/* Writes one image as one .raiiaf file. */
/* The colour chunks ImageMagick's PNG reader found (its png:* properties
 * say which) go back into the embedded PNG, with the values ImageMagick
 * holds for them; resolution goes to pHYs when its unit is known. After a
 * colour space conversion (`converted`) the old colour chunks no longer
 * describe the pixels and are left out. */
static void colour_chunks(Image *image, MagickBooleanType converted, raiiaf_pixels *pixels,
                          ExceptionInfo *exception)
{
    double ppm_x = 0.0, ppm_y = 0.0;

    (void) exception; /* ImageMagick 6's GetImageProperty takes none */
    if (converted == MagickFalse) {
        if (GetImageProperty(image, "png:gAMA", exception) != NULL && image->gamma > 0.0)
            pixels->gamma = image->gamma;
        if (GetImageProperty(image, "png:sRGB", exception) != NULL) {
            pixels->has_srgb = 1;
            switch (image->rendering_intent) {
            case RelativeIntent: pixels->srgb_intent = 1; break;
            case SaturationIntent: pixels->srgb_intent = 2; break;
            case AbsoluteIntent: pixels->srgb_intent = 3; break;
            default: pixels->srgb_intent = 0; break; /* perceptual */
            }
        }
        if (GetImageProperty(image, "png:cHRM", exception) != NULL) {
            const ChromaticityInfo *c = &image->chromaticity;

            pixels->has_chromaticities = 1;
            pixels->white_x = c->white_point.x;
            pixels->white_y = c->white_point.y;
            pixels->red_x = c->red_primary.x;
            pixels->red_y = c->red_primary.y;
            pixels->green_x = c->green_primary.x;
            pixels->green_y = c->green_primary.y;
            pixels->blue_x = c->blue_primary.x;
            pixels->blue_y = c->blue_primary.y;
        }
    }
    if (image->units == PixelsPerInchResolution) {
        ppm_x = RAIIAF_RESOLUTION_X(image) * 100.0 / 2.54;
        ppm_y = RAIIAF_RESOLUTION_Y(image) * 100.0 / 2.54;
    } else if (image->units == PixelsPerCentimeterResolution) {
        ppm_x = RAIIAF_RESOLUTION_X(image) * 100.0;
        ppm_y = RAIIAF_RESOLUTION_Y(image) * 100.0;
    }
    if (ppm_x >= 1.0 && ppm_y >= 1.0 && ppm_x < 4e9 && ppm_y < 4e9) {
        pixels->ppm_x = (uint32_t) (ppm_x + 0.5);
        pixels->ppm_y = (uint32_t) (ppm_y + 0.5);
    }
}

/* Whether the output is a plain file by name that we may replace ourselves:
 * not stdout, a pipe command, a descriptor, an in-memory blob or a stream
 * ImageMagick compresses, not a device or FIFO, and not one of the numbered
 * names that ImageMagick makes for +adjoin (its blob layer names those). */
static int writes_plain_file(const ImageInfo *image_info, const Image *image)
{
    static const char *const compressed[] = {".gz", ".Z", ".svgz", ".bz2", ".xz", ".zst",
                                             ".lzma"};
    const char *name = image->filename;
    size_t length = strlen(name), i;
    struct stat st;

    if (image_info->file != NULL || image_info->blob != NULL || *name == '\0' ||
        strcmp(name, "-") == 0 || *name == '|' || LocaleNCompare(name, "fd:", 3) == 0)
        return 0;
    if (image_info->adjoin == MagickFalse &&
        (GetNextImageInList(image) != NULL || GetPreviousImageInList(image) != NULL))
        return 0;
    for (i = 0; i < sizeof compressed / sizeof *compressed; i++) {
        size_t n = strlen(compressed[i]);
        if (length > n && strcmp(name + length - n, compressed[i]) == 0)
            return 0;
    }
    return stat(name, &st) != 0 || S_ISREG(st.st_mode);
}

static MagickBooleanType write_file_atomically(Image *image, const void *file,
                                               size_t file_size, ExceptionInfo *exception)
{
    raiiaf_output *output;
    int err;

    if (IsRightsAuthorized(PathPolicyDomain, WritePolicyRights, image->filename) ==
        MagickFalse) {
        errno = EPERM;
        THROW_MESSAGE(exception, PolicyError, "NotAuthorized", image->filename);
        return MagickFalse;
    }
    output = raiiaf_output_new();
    if (output == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        return MagickFalse;
    }
    err = raiiaf_output_open(output, image->filename, 0);
    if (err == RAIIAF_OK)
        err = raiiaf_output_write(output, file, file_size);
    if (err == RAIIAF_OK)
        err = raiiaf_output_commit(output);
    if (err != RAIIAF_OK)
        throw_raiiaf_error(exception, GetMagickModule(), err, 1, "writing the file",
                           raiiaf_output_message(output), image->filename);
    raiiaf_output_free(output);
    return err == RAIIAF_OK ? MagickTrue : MagickFalse;
}

static MagickBooleanType write_one(const ImageInfo *image_info, Image *image,
                                   ExceptionInfo *exception)
{
    raiiaf_writer *w = NULL;
    raiiaf_pixels pixels;
    Image *srgb = NULL;
    const StringInfo *icc;
    void *pixel_data = NULL, *file = NULL;
    size_t file_size = 0;
    int level, storage, err;
    char version[64];
    MagickBooleanType status = MagickFalse;
    ssize_t written;
    raiiaf_png_text *texts = NULL;
    long text_count = 0;
    int excluded, kept = -1;
    source_png source = {NULL, 0, NULL};

    if (compression_level_option(image_info, image, &level, exception) == MagickFalse ||
        latent_storage_option(image_info, image, &storage, exception) == MagickFalse)
        return MagickFalse;
    /* PNG holds grey or sRGB: convert anything else (CMYK, Lab, linear
     * RGB, ...) on a copy, leaving the caller's image as it was. */
    if (image->colorspace != sRGBColorspace && image->colorspace != GRAYColorspace) {
        srgb = CloneImage(image, 0, 0, MagickTrue, exception);
        if (srgb == NULL ||
            TransformImageColorspace(srgb,
                                     image->colorspace == LinearGRAYColorspace ? GRAYColorspace
                                                                               : sRGBColorspace,
                                     exception) == MagickFalse) {
            if (srgb != NULL)
                srgb = DestroyImage(srgb);
            return MagickFalse;
        }
    }

    w = raiiaf_writer_new();
    if (w == NULL) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        goto done;
    }
    if (apply_profiles(w, image, exception) == MagickFalse ||
        apply_defines(w, image_info, image, exception) == MagickFalse)
        goto done;
    magick_version(version, sizeof version);
    /* The latents no longer reproduce these pixels exactly: say so. */
    err = raiiaf_writer_set_software(w, "ImageMagick", version, "re-encoded");
    if (err != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "recording the software", w, image->filename);
        goto done;
    }
    /* keep (-1): the stored latents are copied bit for bit */
    if (storage >= 0 && (err = raiiaf_writer_set_latent_storage(w, storage)) != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "choosing the latent storage", w, image->filename);
        goto done;
    }

    memset(&pixels, 0, sizeof pixels);
    pixel_data = export_pixels(srgb != NULL ? srgb : image, srgb != NULL ? MagickTrue : MagickFalse,
                               &pixels, exception);
    if (pixel_data == NULL)
        goto done;
    /* After a colour space conversion the old profile describes the old
     * space: leave it out, as the conversion already applied it. */
    icc = srgb == NULL ? GetImageProfile(image, "icc") : NULL;
    if (icc != NULL) {
        pixels.icc = GetStringInfoDatum(icc);
        pixels.icc_size = GetStringInfoLength(icc);
    }
    colour_chunks(image, srgb != NULL ? MagickTrue : MagickFalse, &pixels, exception);
    /* The AI tools' text (a PNG from ComfyUI, AUTOMATIC1111, ...): into
     * the manifest's fields and record, and into the embedded PNG, which
     * so keeps a text too large for the manifest. Read from the PNG file
     * itself where ImageMagick's reader dropped or changed chunks;
     * nothing after -strip. */
    excluded = texts_excluded(image_info, image);
    /* An image from a .raiiaf (perhaps through a PNG ImageMagick wrote)
     * has its record in the manifest and its texts as properties. */
    if (!excluded && GetImageProfile(image, PROFILE_MANIFEST) == NULL &&
        source_png_open(image, &source)) {
        err = raiiaf_writer_set_image_pixels(w, &pixels, level);
        if (err != RAIIAF_OK) {
            THROW_WRITE_ERROR(exception, err, "encoding the image", w, image->filename);
            goto done;
        }
        kept = keep_source_texts(w, image, &source, exception);
        if (kept == MagickFalse)
            goto done;
    }
    text_count = excluded || kept == MagickTrue ? 0 : collect_texts(image, NULL, &texts, exception);
    if (text_count < 0) {
        THROW_MESSAGE(exception, ResourceLimitError, "MemoryAllocationFailed", image->filename);
        goto done;
    }
    /* An image read from a .raiiaf has its record in the manifest already
     * (and a parameters text the coder made from it): nothing to import. */
    if (text_count > 0 && GetImageProfile(image, PROFILE_MANIFEST) == NULL &&
        (err = raiiaf_writer_import_texts(w, texts, (size_t) text_count)) != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "importing the AI tool's text", w, image->filename);
        goto done;
    }
    if (text_count > 0) {
        raiiaf_png_metadata meta;
        void *png = NULL;
        size_t png_size = 0;
        char message[512];

        memset(&meta, 0, sizeof meta);
        meta.texts = texts;
        meta.text_count = (size_t) text_count;
        err = raiiaf_encode_png(&pixels, level, &meta, &png, &png_size, message, sizeof message);
        if (err != RAIIAF_OK) {
            throw_raiiaf_error(exception, GetMagickModule(), err, 1, "encoding the image",
                               message, image->filename);
            goto done;
        }
        err = raiiaf_writer_set_image_png(w, png, png_size);
        raiiaf_free(png);
    } else if (kept != MagickTrue) {
        err = raiiaf_writer_set_image_pixels(w, &pixels, level);
    }
    free(pixel_data);
    pixel_data = NULL;
    if (err != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "encoding the image", w, image->filename);
        goto done;
    }
    err = raiiaf_writer_write_memory(w, &file, &file_size);
    if (err != RAIIAF_OK) {
        THROW_WRITE_ERROR(exception, err, "building the file", w, image->filename);
        goto done;
    }

    /* A file by name goes through the library's atomic writer: beside the
     * target, synced, renamed into place, so a full disk or a killed
     * process leaves the old file whole. */
    if (writes_plain_file(image_info, image)) {
        status = write_file_atomically(image, file, file_size, exception);
        goto done;
    }
    /* Everything else (stdout, a pipe, an in-memory blob, a device, .gz)
     * goes through ImageMagick's blob, opened only now, when the whole file
     * is ready: an error while building it writes nothing. */
    if (OpenBlob(image_info, image, RAIIAF_IM_WRITE_BINARY_BLOB_MODE, exception) == MagickFalse)
        goto done;
    written = WriteBlob(image, file_size, file);
    status = RAIIAF_CLOSE_BLOB(image);
    if (written < 0 || (size_t) written != file_size || status == MagickFalse) {
        THROW_MESSAGE(exception, CorruptImageError, "UnableToWriteBlob", image->filename);
        status = MagickFalse;
    }

done:
    source_png_close(&source);
    if (srgb != NULL)
        srgb = DestroyImage(srgb);
    free(texts);
    free(pixel_data);
    raiiaf_free(file);
    raiiaf_writer_free(w);
    return status;
}

static MagickBooleanType WriteRAIIAFImage(const ImageInfo *image_info, Image *image,
                                          ExceptionInfo *exception)
{
    /* A .raiiaf file holds one image. With adjoin (the default) we write
     * the first and say so; +adjoin makes ImageMagick call us once per frame
     * with numbered file names. */
    if (image_info->adjoin != MagickFalse && GetNextImageInList(image) != NULL) {
        char reason[MagickPathExtent];

        (void) FormatLocaleString(reason, sizeof reason,
                                  "raiiaf: a .raiiaf file holds one image; writing the first of "
                                  "%zu (use +adjoin for one file per image)",
                                  GetImageListLength(image));
        THROW_MESSAGE(exception, CoderWarning, reason, image->filename);
    }
    return write_one(image_info, image, exception);
}

/* ------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------- */

RAIIAF_ENCODER(WriteRAIIAFImage)

ModuleExport size_t RegisterRAIIAFImage(void)
{
    MagickInfo *entry;
    char version[MagickPathExtent];

    entry = AcquireMagickInfo("RAIIAF", "RAIIAF",
                              "AI image artifact (image, latents and generation metadata)");
    entry->decoder = (DecodeImageHandler *) ReadRAIIAFImage;
    entry->encoder = (EncodeImageHandler *) RAIIAF_ENCODER_HANDLER(WriteRAIIAFImage);
    entry->magick = (IsImageFormatHandler *) IsRAIIAF;
    entry->mime_type = ConstantString(RAIIAF_MIME_TYPE);
    (void) FormatLocaleString(version, sizeof version, "libraiiaf %s", raiiaf_version_string());
    entry->version = ConstantString(version);
    /* The library decodes from memory; ImageMagick's blob layer already
     * maps files or reads streams for us, so no seekable-stream flag. */
    (void) RegisterMagickInfo(entry);
    return MagickImageCoderSignature;
}

ModuleExport void UnregisterRAIIAFImage(void)
{
    (void) UnregisterMagickInfo("RAIIAF");
}
