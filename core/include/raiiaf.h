/* libraiiaf: read and write .raiiaf files (image + latents + metadata).
 *
 * SPDX-License-Identifier: MIT
 *
 * One reader context (raiiaf_ctx) opens one file from a path or a memory
 * buffer; one writer (raiiaf_writer) builds one file. Every call returns an
 * int: RAIIAF_OK (0) or a value of enum raiiaf_errno, described in general
 * terms by raiiaf_strerror() and for the failing record by
 * raiiaf_ctx_message() / raiiaf_writer_message(). The library keeps no
 * global state, never prints and never exits. A context or writer must not
 * be used from two threads at once; distinct ones are independent.
 *
 * Strings and buffers returned by a context belong to it and stay valid
 * until raiiaf_ctx_free(); those returned by a writer, until
 * raiiaf_writer_free(). Buffers the caller must release say so and are
 * released with raiiaf_free().
 *
 * Untrusted input: every size, count and offset in a file is checked against
 * the real file size and the limits (raiiaf_limits) before memory is spent,
 * and every payload against its sha256. The defaults suit untrusted files.
 */
#ifndef RAIIAF_H
#define RAIIAF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RAIIAF_BUILDING) && defined(__GNUC__)
#define RAIIAF_API __attribute__((visibility("default")))
#else
#define RAIIAF_API
#endif

#define RAIIAF_VERSION_MAJOR 0
#define RAIIAF_VERSION_MINOR 1
#define RAIIAF_VERSION_PATCH 0
#define RAIIAF_VERSION_STRING "0.1.0"

/* Runtime version of the library, e.g. "0.1.0". */
RAIIAF_API const char *raiiaf_version_string(void);
/* Versions of the libraries libraiiaf runs with, one line each
 * ("zstd 1.5.7\nzfp 1.0.1\n..."): zstd, zfp, libpng and nettle as the
 * libraries loaded say at run time; json-c is linked into libraiiaf (the
 * version built in) and libdeflate has no run-time call (the version built
 * against). Made on the first call; valid for the life of the process. */
RAIIAF_API const char *raiiaf_dependency_versions(void);

/* The file's first bytes: "raiiaf" at offset 0. */
#define RAIIAF_MAGIC "raiiaf"
#define RAIIAF_MAGIC_SIZE 6
/* MIME type used by the suite's desktop files. */
#define RAIIAF_MIME_TYPE "image/x-raiiaf"

/* Non-zero when data (size bytes, may be fewer than 6) starts like a
 * .raiiaf file. */
RAIIAF_API int raiiaf_check_signature(const void *data, size_t size);

enum raiiaf_errno {
    RAIIAF_OK = 0,
    RAIIAF_EINVAL,       /* invalid argument */
    RAIIAF_ENOMEM,       /* out of memory */
    RAIIAF_EIO,          /* reading or writing the file failed (errno kept) */
    RAIIAF_EMAGIC,       /* not a .raiiaf file: bad magic */
    RAIIAF_EVERSION,     /* unsupported format version */
    RAIIAF_ETRUNCATED,   /* the file is shorter than its header says */
    RAIIAF_EHEADER,      /* file header fields are inconsistent */
    RAIIAF_EMANIFEST,    /* META chunk: bad JSON or missing/ill-typed fields */
    RAIIAF_ERECORD,      /* a chunk record lies: offset, size, type, shape */
    RAIIAF_ECHUNK,       /* a chunk's inner header disagrees with its record */
    RAIIAF_EZSTD,        /* zstd frame is corrupt or its size lies */
    RAIIAF_EZFP,         /* zfp stream is corrupt or its shape lies */
    RAIIAF_EHASH,        /* sha256 of a payload differs from the manifest */
    RAIIAF_ELIMIT,       /* a size or count exceeds the context's limits */
    RAIIAF_ENOTPNG,      /* the image chunk holds something other than PNG */
    RAIIAF_EPNG,         /* the embedded PNG is corrupt */
    RAIIAF_ENOIMAGE,     /* the file has no image chunk */
    RAIIAF_ERANGE,       /* index out of range, or output buffer too small */
    RAIIAF_EBADSTATE,    /* call not valid now (nothing opened, or an earlier
                            error left the context unusable) */
    RAIIAF_EVALUE,       /* a value is not allowed by the format: given to
                            the writer (NaN latent, negative seed, ...) or
                            found in a file (NaN or infinite latent values) */
    RAIIAF_EUNSUPPORTED, /* valid but not supported by this build */
    RAIIAF_EDUPLICATE    /* two latents of a file share a key */
};

/* A fixed English sentence for an error code; never NULL. */
RAIIAF_API const char *raiiaf_strerror(int err);

/* ---------------------------------------------------------------------
 * Limits: checked before memory is spent. 0 in a field means "no limit"
 * only where stated.
 * ------------------------------------------------------------------- */
typedef struct raiiaf_limits {
    uint64_t max_file_size;        /* bytes of the whole file */
    uint32_t max_chunk_count;      /* manifest records */
    uint64_t max_json_size;        /* decompressed manifest or environment */
    uint64_t max_image_size;       /* decompressed image chunk (PNG bytes) */
    uint32_t max_image_width;      /* pixels */
    uint32_t max_image_height;     /* pixels */
    uint64_t max_image_pixels;     /* width * height */
    uint64_t max_latent_size;      /* one latent, decoded bytes */
    uint32_t max_latent_dim;       /* each dimension of a latent shape */
    uint64_t max_total_latent_size;/* all latents of a file, decoded bytes */
    /* What one manifest or environment may cost once parsed, checked by a
     * scan of the text before anything is built (a few kB of "[]," inflate
     * a thousandfold). 0: no limit. */
    uint32_t max_json_depth;       /* nesting of arrays and objects */
    uint64_t max_json_values;      /* values: objects, arrays, strings,
                                      numbers, literals (keys not counted) */
    uint64_t max_json_memory;      /* bytes the parsed values take,
                                      estimated from what json-c allocates */
} raiiaf_limits;

/* Fills *limits with the defaults: 4 GiB file, 4096 records,
 * 8 MiB JSON, 1 GiB image chunk, 65535 x 65535 and 2^30 pixels, 1 GiB per
 * latent and 4 GiB in all, dimensions up to 65536; JSON nested at most 64
 * deep, 500,000 values and 64 MiB once parsed. */
RAIIAF_API void raiiaf_limits_default(raiiaf_limits *limits);

/* ---------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------- */
typedef struct raiiaf_ctx raiiaf_ctx;

RAIIAF_API raiiaf_ctx *raiiaf_ctx_new(void);
RAIIAF_API void raiiaf_ctx_free(raiiaf_ctx *ctx);

/* Before opening. */
RAIIAF_API int raiiaf_ctx_set_limits(raiiaf_ctx *ctx, const raiiaf_limits *limits);

/* The host's own limit on the image's width x height (its preference, its
 * resource policy), instead of max_image_pixels' 2^30: a larger image
 * fails with RAIIAF_ELIMIT before any pixel memory is spent. Before
 * opening, or after it until the first image call; 0 restores the
 * default. */
RAIIAF_API int raiiaf_ctx_set_pixel_limit(raiiaf_ctx *ctx, uint64_t max_pixels);

/* The most raiiaf_decode_rows_begin() may hold to inflate an image whole
 * (default 64 MiB of rows): a caller that must stay small whatever the
 * image (a thumbnailer a file manager runs many of at once) sets less, and
 * an image whose rows take more is decoded in the memory of a few rows.
 * 0 restores the default. Takes effect at the next begin. */
RAIIAF_API int raiiaf_ctx_set_row_buffer_limit(raiiaf_ctx *ctx, uint64_t max_bytes);

/* How many threads reading the image may use. 0, the default, is two for
 * an image of megabytes: while the calling thread decompresses the image
 * chunk from the file, a second one computes its sha256; while the calling
 * thread inflates the PNG, a second one faults in the pages of the output
 * buffer (Linux 5.14 and later), which otherwise costs a large image about
 * as much as unfiltering it. 1 keeps all the work on the calling thread,
 * for a host that runs a decode per core or limits its threads. The
 * results are the same either way. Set it before the image is read. */
RAIIAF_API int raiiaf_ctx_set_threads(raiiaf_ctx *ctx, int threads);

/* The last error's message, naming the record and what was wrong
 * ("chunk 2 (DATA): sha256 mismatch"). Never empty after a failed call, so
 * a host shows it alone; "" after a call that succeeded. For a NULL ctx (a
 * failed raiiaf_ctx_new()) it says "no context: out of memory". */
RAIIAF_API const char *raiiaf_ctx_message(const raiiaf_ctx *ctx);

/* Open a file by path. The file stays open until raiiaf_ctx_free(); chunks
 * are read from it only when asked for. Parses and checks the header, the
 * manifest and every record (bounds, types, shapes, sizes, counts); the
 * payloads are checked (decompressed sizes, sha256) when they are read. */
RAIIAF_API int raiiaf_open_file(raiiaf_ctx *ctx, const char *path);

/* Open a file held in memory. The buffer is borrowed: it must stay valid
 * and unchanged until raiiaf_ctx_free(). */
RAIIAF_API int raiiaf_open_memory(raiiaf_ctx *ctx, const void *data, size_t size);

/* Input that arrives in pieces (a pipe, stdin, a host's incremental
 * loader such as gdk-pixbuf's load_increment): push the bytes as they come;
 * the stream checks the magic with the first 6 and the header with the
 * first 33 (version, file size against max_file_size, META chunk inside),
 * keeps only what has arrived (never what the header claims), and takes no
 * byte past the header's file size. raiiaf_stream_wanted() says how many
 * more it needs (0 when complete or failed), so a reader of a pipe reads
 * exactly the file and stops. raiiaf_stream_open() then opens a context on
 * the buffered bytes: the stream must outlive that context. A failed push
 * leaves the stream failed; its message says why. */
typedef struct raiiaf_stream raiiaf_stream;

RAIIAF_API raiiaf_stream *raiiaf_stream_new(void);
RAIIAF_API void raiiaf_stream_free(raiiaf_stream *s);
/* Before the first push; the defaults otherwise. Only max_file_size is
 * used here: give the context the same limits. */
RAIIAF_API int raiiaf_stream_set_limits(raiiaf_stream *s, const raiiaf_limits *limits);
RAIIAF_API int raiiaf_stream_push(raiiaf_stream *s, const void *data, size_t size);
RAIIAF_API uint64_t raiiaf_stream_wanted(const raiiaf_stream *s);
/* The header's file size; RAIIAF_EBADSTATE before the header is in. */
RAIIAF_API int raiiaf_stream_file_size(const raiiaf_stream *s, uint64_t *size);
/* The bytes buffered so far (borrowed; valid until the next push). */
RAIIAF_API int raiiaf_stream_get_data(const raiiaf_stream *s, const void **data, size_t *size);
/* RAIIAF_ETRUNCATED (or EMAGIC for no bytes) when the input ended early. */
RAIIAF_API int raiiaf_stream_open(raiiaf_stream *s, raiiaf_ctx *ctx);
RAIIAF_API const char *raiiaf_stream_message(const raiiaf_stream *s);

/* Reads and checks every payload (image, environment, each latent) and
 * decodes every pixel of the image, row by row in the memory of one row:
 * what `raiiaf verify` does. */
RAIIAF_API int raiiaf_verify(raiiaf_ctx *ctx);

typedef struct raiiaf_header {
    uint8_t version_major;
    uint8_t version_minor;
    uint8_t flags;
    uint32_t chunk_table_offset;
    uint32_t chunk_table_size;
    uint32_t chunk_count;
    uint64_t file_size;
    uint32_t reserved;
} raiiaf_header;

RAIIAF_API int raiiaf_get_header(raiiaf_ctx *ctx, raiiaf_header *header);

/* The manifest exactly as stored (JSON, not NUL-terminated in the file but
 * NUL-terminated here; *size excludes the NUL). */
RAIIAF_API int raiiaf_get_manifest_json(raiiaf_ctx *ctx, const char **json, size_t *size);

/* The environment JSON exactly as stored (read and checked on first call).
 * RAIIAF_ENOIMAGE is not used here: a file without an ENVC chunk gives
 * *json = NULL, *size = 0 and RAIIAF_OK. */
RAIIAF_API int raiiaf_get_env_json(raiiaf_ctx *ctx, const char **json, size_t *size);

/* What a person reads, flattened to key/value text pairs in a stable order:
 *   model, model-version, date, prompt, tags (", "-joined),
 *   each generation setting by its key with '_' turned to '-' (seed, steps,
 *     sampler, cfg-scale, ...),
 *   hardware-os, hardware-cpu, hardware-gpu, ... (hardware_info),
 *   latent-N ("KEY DTYPE AxBxCxD STORAGE"),
 *   env-NAME (each environment component's version string),
 *   and edit-history, when the file was edited after generation.
 * Keys are ASCII, at most 64 characters; values are UTF-8. Pairs with an
 * empty value are left out. The environment pairs need the ENVC chunk: if it
 * is unreadable they are left out and the rest still returned. */
RAIIAF_API int raiiaf_get_text_count(raiiaf_ctx *ctx, size_t *count);
RAIIAF_API int raiiaf_get_text(raiiaf_ctx *ctx, size_t index, const char **key, const char **value);
/* One value by key, or NULL. */
RAIIAF_API const char *raiiaf_find_text(raiiaf_ctx *ctx, const char *key);

/* The generation parameters in the AUTOMATIC1111 "parameters" layout that
 * AI-image tools read from PNG text:
 *   PROMPT\nNegative prompt: ...\nSteps: 20, Sampler: ..., Seed: 42, ...
 * NUL-terminated, owned by the context. */
RAIIAF_API int raiiaf_get_parameters_text(raiiaf_ctx *ctx, const char **text);

/* ---- Latents: decoded only when asked for ---- */
enum raiiaf_dtype { RAIIAF_FLOAT32 = 0, RAIIAF_FLOAT16 = 1 };
/* Bytes per element of a dtype, 0 for an unknown one. */
RAIIAF_API size_t raiiaf_dtype_size(int dtype);
/* "float32", "float16" (the manifest's extra.dtype); NULL for an unknown
 * dtype, so that `for (d = 0; raiiaf_dtype_name(d); d++)` lists them all. */
RAIIAF_API const char *raiiaf_dtype_name(int dtype);
/* NumPy's descr of the dtype, little-endian ("<f4"); NULL for an unknown one. */
RAIIAF_API const char *raiiaf_dtype_npy_descr(int dtype);
enum raiiaf_storage {
    RAIIAF_STORAGE_AUTO = 0, /* writer only: the smaller of ZFP and RAW */
    RAIIAF_STORAGE_RAW = 1,  /* uncompressed array bytes */
    RAIIAF_STORAGE_ZFP = 2   /* zstd(inner header) + zfp stream (lossless) */
};

#define RAIIAF_MAX_DIMS 8

typedef struct raiiaf_latent_info {
    const char *key;          /* e.g. "initial_noise"; owned by the context.
                                 A record without a key reads as
                                 "latent_N", N its position in the
                                 manifest. Keys are not unique in every
                                 file: hosts naming files after them must
                                 sanitise them. */
    int dtype;                /* enum raiiaf_dtype */
    int storage;              /* RAIIAF_STORAGE_RAW or _ZFP */
    unsigned ndim;
    uint64_t shape[RAIIAF_MAX_DIMS];
    uint64_t decoded_size;    /* bytes of the array in its dtype */
    uint64_t stored_size;     /* bytes of the chunk in the file */
} raiiaf_latent_info;

RAIIAF_API int raiiaf_get_latent_count(raiiaf_ctx *ctx, size_t *count);
RAIIAF_API int raiiaf_get_latent_info(raiiaf_ctx *ctx, size_t index, raiiaf_latent_info *info);

/* Decodes latent `index` into out (size >= decoded_size): C order, host
 * byte order, in the stored dtype (float16 as IEEE binary16 bit patterns in
 * uint16_t). Checks the sha256. */
RAIIAF_API int raiiaf_decode_latent(raiiaf_ctx *ctx, size_t index, void *out, size_t out_size);

/* The latent in its stored, still-encoded form, as one self-describing blob
 * (the chunk's record and its bytes) that raiiaf_writer_add_latent_stored()
 * copies into a new file bit for bit. The blob is malloc'd: release it with
 * raiiaf_free(). Checks the payload first. */
RAIIAF_API int raiiaf_get_latent_stored(raiiaf_ctx *ctx, size_t index, void **blob, size_t *size);

/* ---- The image ---- */
enum raiiaf_format {
    /* 8 bits per sample */
    RAIIAF_FMT_G8 = 1, RAIIAF_FMT_GA8, RAIIAF_FMT_RGB8, RAIIAF_FMT_RGBA8,
    /* 16 bits per sample, host byte order */
    RAIIAF_FMT_G16, RAIIAF_FMT_GA16, RAIIAF_FMT_RGB16, RAIIAF_FMT_RGBA16,
    /* one palette index per byte: decoding a palette PNG as it is stored
     * (raiiaf_get_png_colour() has the palette), or writing one
     * (raiiaf_pixels.palette) */
    RAIIAF_FMT_INDEX8
};

/* Bytes per pixel of a format, 0 for an invalid one. */
RAIIAF_API size_t raiiaf_format_pixel_size(int format);

typedef struct raiiaf_image_info {
    uint32_t width, height;
    int format;             /* the format that keeps everything the PNG
                               holds: grey/RGB, alpha if it has any (tRNS
                               included), 16 bits if it has 16 */
    int png_bit_depth;      /* as in IHDR: 1, 2, 4, 8, 16 */
    int png_color_type;     /* as in IHDR: 0, 2, 3, 4, 6 */
    int interlaced;
    int has_icc;            /* an iCCP profile: see raiiaf_get_icc_profile */
    int srgb_intent;        /* sRGB chunk rendering intent, -1 if none */
    double gamma;           /* gAMA as a file gamma (0.45455), 0 if none */
    uint64_t image_size;    /* bytes of the embedded image (PNG) */
    uint32_t ppm_x, ppm_y;  /* pHYs in pixels per metre, 0 if none */
} raiiaf_image_info;

/* Size and colour information of the embedded PNG without decoding pixels
 * (the image chunk is read and its sha256 checked; latents are not read).
 * RAIIAF_ENOTPNG when the chunk holds something else: its bytes are still
 * available from raiiaf_get_image_data(). */
RAIIAF_API int raiiaf_get_image_info(raiiaf_ctx *ctx, raiiaf_image_info *info);

/* The embedded image bytes exactly as stored (PNG in practice). */
RAIIAF_API int raiiaf_get_image_data(raiiaf_ctx *ctx, const void **data, size_t *size);

/* The PNG's ICC profile (iCCP, decompressed) and its name. */
RAIIAF_API int raiiaf_get_icc_profile(raiiaf_ctx *ctx, const void **data, size_t *size,
                                      const char **name);

/* What the PNG's own chunks say about its colours, as libpng reads them
 * (chunks libpng finds invalid are left out). A host that keeps palettes
 * or builds a colour profile from gAMA/cHRM, as GIMP does, needs these. */
typedef struct raiiaf_png_colour {
    unsigned palette_count;      /* PLTE entries (1-256), 0 without PLTE */
    uint8_t palette[256][3];     /* R, G, B of each entry */
    unsigned palette_alpha_count;/* tRNS of a palette PNG: alpha of the */
    uint8_t palette_alpha[256];  /* first entries; the others are opaque */
    int has_trns_value;          /* tRNS of a grey or RGB PNG: the one */
    uint16_t trns_gray, trns_red, trns_green, trns_blue; /* transparent value */
    int has_gamma;               /* gAMA */
    double gamma;                /* file gamma, e.g. 0.45455 */
    int has_chromaticities;      /* cHRM */
    double white_x, white_y, red_x, red_y, green_x, green_y, blue_x, blue_y;
    int srgb_intent;             /* sRGB rendering intent 0-3, -1 without sRGB */
    int has_icc;                 /* iCCP: raiiaf_get_icc_profile() */
    /* sBIT and bKGD as the chunk holds them: the fields of channels the
     * colour type lacks are 0. */
    int has_sbit;                /* sBIT: significant bits per channel */
    uint8_t sbit_gray, sbit_red, sbit_green, sbit_blue, sbit_alpha;
    int has_background;          /* bKGD, at the PNG's bit depth, or */
    uint16_t background_gray, background_red, background_green, background_blue;
    uint8_t background_index;    /* the palette index of a palette PNG */
} raiiaf_png_colour;

/* Reads the embedded PNG's chunks up to its pixels (no pixel is decoded). */
RAIIAF_API int raiiaf_get_png_colour(raiiaf_ctx *ctx, raiiaf_png_colour *colour);

/* The PNG's pHYs and oFFs as the chunks hold them, unit included (a pHYs of
 * unknown unit gives only the pixels' aspect ratio; raiiaf_image_info's
 * ppm_x/ppm_y are set for metres only). Hosts that size or place the image
 * from them as their own PNG loader does (GIMP) need these. */
typedef struct raiiaf_png_physical {
    int has_phys;                /* pHYs */
    uint32_t phys_x, phys_y;     /* pixels per unit */
    int phys_unit;               /* 0 unknown (aspect ratio only), 1 metre */
    int has_offset;              /* oFFs */
    int32_t offset_x, offset_y;
    int offset_unit;             /* 0 pixels, 1 micrometres */
} raiiaf_png_physical;

/* Reads the embedded PNG's chunks up to its pixels (no pixel is decoded). */
RAIIAF_API int raiiaf_get_png_physical(raiiaf_ctx *ctx, raiiaf_png_physical *physical);

/* Bytes raiiaf_decode_image() needs for `format` (rows packed, no padding). */
RAIIAF_API int raiiaf_decoded_image_size(raiiaf_ctx *ctx, int format, size_t *size);

/* Decodes the pixels into out, converting to `format`: palette and low bit
 * depths expand, tRNS becomes alpha, grey and RGB convert, 8 <-> 16 bits
 * scale exactly. No colour management: samples are as the PNG stores them.
 * RAIIAF_FMT_INDEX8 gives a palette PNG's indices (RAIIAF_EINVAL for any
 * other PNG). */
RAIIAF_API int raiiaf_decode_image(raiiaf_ctx *ctx, int format, void *out, size_t out_size);

/* Row by row, for callers that never need the whole picture at once (a
 * thumbnailer scaling a large image): after raiiaf_decode_rows_begin(),
 * each raiiaf_decode_row() gives the next row, top to bottom, in `format`
 * (row_size >= width * pixel size). An interlaced (Adam7) PNG cannot be
 * given row by row: begin returns RAIIAF_EUNSUPPORTED, and
 * raiiaf_decode_image() decodes it. A new begin starts over. An image
 * whose rows take at most 64 MiB (4096 x 4096 RGBA8; see
 * raiiaf_ctx_set_row_buffer_limit) is inflated whole at begin, which is
 * faster, and held until the context is freed or a new begin; a larger one
 * is decoded in the memory of a few rows. */
RAIIAF_API int raiiaf_decode_rows_begin(raiiaf_ctx *ctx, int format);
RAIIAF_API int raiiaf_decode_row(raiiaf_ctx *ctx, void *row, size_t row_size);

/* The sha256 of the embedded image bytes, as the manifest records it (and
 * as checked when they are read). Cheap: nothing is read. Two files whose
 * images have the same digest hold the same PNG bytes. */
RAIIAF_API int raiiaf_get_image_sha256(raiiaf_ctx *ctx, uint8_t sha256[32]);

/* ---- The embedded PNG's own metadata ----
 * Text chunks (tEXt, zTXt, iTXt), XMP (the iTXt "XML:com.adobe.xmp") and
 * Exif (eXIf), as a host shows them and writes them back. pHYs is in
 * raiiaf_image_info (ppm_x, ppm_y) and raiiaf_pixels. */
typedef struct raiiaf_png_text {
    const char *keyword;            /* UTF-8 (Latin-1 in the file), 1-79 chars */
    const char *text;               /* UTF-8, NUL-terminated; tEXt/zTXt
                                       Latin-1 converted */
    size_t size;                    /* bytes of text, without the NUL */
    int compressed;                 /* zTXt, or a compressed iTXt */
    int international;              /* iTXt: kept as iTXt on writing */
    const char *language;           /* iTXt language tag, "" if none */
    const char *translated_keyword; /* iTXt, "" if none */
} raiiaf_png_text;

typedef struct raiiaf_png_metadata {
    const char *xmp;                /* the XMP packet, NULL if none */
    size_t xmp_size;
    const void *exif;               /* eXIf: TIFF header first, NULL if none */
    size_t exif_size;
    const raiiaf_png_text *texts;   /* the other text chunks, in file order */
    size_t text_count;
} raiiaf_png_metadata;

/* The metadata chunks of the embedded PNG, in one malloc'd block to
 * release with raiiaf_free(). Compressed texts inflate to at most 16 MiB
 * in all (RAIIAF_ELIMIT beyond); a text stored uncompressed is taken
 * whatever its size (it is within the image chunk's limit: a 50 MB
 * ComfyUI workflow). */
RAIIAF_API int raiiaf_get_png_metadata(raiiaf_ctx *ctx, raiiaf_png_metadata **meta);

/* The Orientation tag (274) of IFD0 of Exif data that starts with its TIFF
 * header (as raiiaf_png_metadata.exif): 1-8, or 0 when there is none, it
 * is out of range or the data is cut short. For hosts that say how the
 * image is to be turned, as gdk-pixbuf's "orientation" option. */
RAIIAF_API int raiiaf_exif_orientation(const void *exif, size_t size);

/* ---- The AI tools' own PNG text ----
 * AUTOMATIC1111 (and forks), SwarmUI, Fooocus, ComfyUI, InvokeAI and
 * NovelAI keep their generation data in PNG text chunks. A writer imports
 * them (raiiaf_writer_import_png_text / _import_texts): the prompt,
 * negative prompt, model, seed, steps, sampler, cfg scale and scheduler
 * fill the manifest's fields that are still empty, and every text chunk
 * is recorded as it was under raiiaf_metadata.ai_metadata ("tool",
 * "png_text": [{"chunk", "keyword", "language", "translated_keyword",
 * "compressed", "text"}], "notes" on what could not be taken). A text too
 * large for the manifest is recorded by size and sha256 ("in_image": true
 * when the embedded PNG keeps it). Texts that match no layout, or JSON that
 * does not parse, are recorded and never fail the import. */

/* The recorded chunks that hold their text, in their original order, for
 * an exported PNG (raiiaf_encode_png's meta, or a host's own PNG text);
 * one malloc'd block to release with raiiaf_free(). No ai_metadata: a
 * block with text_count 0. */
RAIIAF_API int raiiaf_get_source_texts(raiiaf_ctx *ctx, raiiaf_png_metadata **meta);
/* The tool the file's metadata was imported from ("ComfyUI", ...), or
 * NULL. Owned by the context. */
RAIIAF_API const char *raiiaf_get_source_tool(raiiaf_ctx *ctx);
/* Non-zero for a PNG text keyword an AI tool writes ("parameters",
 * "prompt", "workflow", "invokeai_metadata", ...): what a host that sees
 * every text of an image as a property passes to the import. */
RAIIAF_API int raiiaf_is_ai_text_keyword(const char *keyword);

/* ---------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------- */
typedef struct raiiaf_writer raiiaf_writer;

RAIIAF_API raiiaf_writer *raiiaf_writer_new(void);
/* A writer that re-writes an opened file: its manifest fields (model_info
 * and extra keys), its environment and its latents in stored form are
 * copied; give it a new image. */
RAIIAF_API int raiiaf_writer_new_from(raiiaf_ctx *ctx, raiiaf_writer **writer);
RAIIAF_API void raiiaf_writer_free(raiiaf_writer *w);
/* The last error's message, never empty after a failed call (as
 * raiiaf_ctx_message(); NULL w: "no context: out of memory"). */
RAIIAF_API const char *raiiaf_writer_message(const raiiaf_writer *w);

/* The image, as ready PNG bytes (copied), read through libpng first: a
 * corrupt PNG is refused with RAIIAF_EPNG and libpng's reason ... */
RAIIAF_API int raiiaf_writer_set_image_png(raiiaf_writer *w, const void *png, size_t size);

/* ... or as pixels, encoded here (libpng writes the chunks, libdeflate or
 * zlib the rows: core/README.md). stride 0 means packed rows.
 * compression_level 0-9 as zlib's, -1 for the default (6). An ICC profile (may be
 * NULL) is written as iCCP. */
typedef struct raiiaf_pixels {
    uint32_t width, height;
    int format;             /* enum raiiaf_format */
    const void *data;       /* 16-bit formats in host byte order */
    size_t stride;          /* bytes per row, 0 for width * pixel size */
    const void *icc;        /* optional ICC profile */
    size_t icc_size;
    const char *icc_name;   /* optional; "ICC profile" when NULL */
    /* Colour and resolution chunks; zero (the value of a zeroed struct)
     * leaves each out. */
    double gamma;           /* gAMA: file gamma, e.g. 0.45455 */
    int has_srgb;           /* sRGB chunk, with srgb_intent (0-3) */
    int srgb_intent;
    int has_chromaticities; /* cHRM chunk */
    double white_x, white_y, red_x, red_y, green_x, green_y, blue_x, blue_y;
    uint32_t ppm_x, ppm_y;  /* pHYs: pixels per metre */
    /* RAIIAF_FMT_INDEX8: a palette PNG (PLTE, and tRNS when alpha is
     * given), at the smallest bit depth that holds palette_count entries.
     * Every index must be below palette_count. */
    const uint8_t *palette;       /* palette_count R, G, B triples */
    unsigned palette_count;       /* 1-256 */
    const uint8_t *palette_alpha; /* optional: alpha of the first */
    unsigned palette_alpha_count; /* palette_alpha_count entries */
} raiiaf_pixels;
RAIIAF_API int raiiaf_writer_set_image_pixels(raiiaf_writer *w, const raiiaf_pixels *pixels,
                                              int compression_level);

/* Encodes pixels as PNG bytes, as raiiaf_writer_set_image_pixels() does,
 * with the metadata chunks of `meta` (may be NULL) before the image data;
 * give the result to raiiaf_writer_set_image_png() and release it with
 * raiiaf_free(). Text is written as tEXt/zTXt when it is Latin-1 and not
 * marked international, else as iTXt; XMP uncompressed. On error, the
 * reason goes into message (may be NULL). */
RAIIAF_API int raiiaf_encode_png(const raiiaf_pixels *pixels, int compression_level,
                                 const raiiaf_png_metadata *meta, void **png, size_t *size,
                                 char *message, size_t message_size);

/* Re-encodes the image the writer holds at another PNG compression level
 * (0-9): same samples, format, ICC profile, gAMA, sRGB and pHYs. */
RAIIAF_API int raiiaf_writer_recompress_image(raiiaf_writer *w, int compression_level);

/* Adds a latent from an array (C order, host byte order, float32 or
 * float16 bit patterns). The reference package requires exactly 4
 * dimensions, each 1..8192, finite values. */
RAIIAF_API int raiiaf_writer_add_latent(raiiaf_writer *w, const char *key, int dtype,
                                        const uint64_t *shape, unsigned ndim,
                                        const void *data, size_t size, int storage);

/* Adds a latent from a blob of raiiaf_get_latent_stored(), copied as is
 * after checking it. A latent with the same key is replaced. */
RAIIAF_API int raiiaf_writer_add_latent_stored(raiiaf_writer *w, const void *blob, size_t size);

/* Removes every latent. */
RAIIAF_API int raiiaf_writer_clear_latents(raiiaf_writer *w);

/* Re-encodes every latent the writer holds (stored ones included) with
 * `storage` when the file is written; RAIIAF_STORAGE_AUTO picks the smaller
 * of ZFP and RAW per latent. Without this call, stored latents are copied
 * as they are and array latents use the storage given when added. The
 * values are kept bit for bit either way. */
RAIIAF_API int raiiaf_writer_set_latent_storage(raiiaf_writer *w, int storage);

/* Model information and extra manifest keys from a manifest JSON: either a
 * whole manifest ({"raiiaf_metadata": {...}}) or a model_info object
 * ({"model_name": ..., "prompt": ..., ...}). Extra keys of raiiaf_metadata
 * other than file_info and chunks are kept. */
RAIIAF_API int raiiaf_writer_set_metadata_json(raiiaf_writer *w, const char *json, size_t size);

/* Sets one field by the keys of raiiaf_get_text(): model, model-version,
 * date, prompt, tags (comma-separated), and generation settings (seed,
 * steps, sampler, cfg-scale, ...: numbers and true/false are stored as
 * such). NULL or "" removes the field. */
RAIIAF_API int raiiaf_writer_set_text(raiiaf_writer *w, const char *key, const char *value);

/* Sets an extra key of raiiaf_metadata to a JSON value. */
RAIIAF_API int raiiaf_writer_set_extra_json(raiiaf_writer *w, const char *key, const char *json);

/* Imports the AI tools' text chunks of the image given to the writer
 * (raiiaf_writer_set_image_png; see "The AI tools' own PNG text" above):
 * call it after raiiaf_writer_set_metadata_json(), whose fields it does
 * not overwrite. The PNG keeps its chunks as they are. */
RAIIAF_API int raiiaf_writer_import_png_text(raiiaf_writer *w);
/* The same for the text chunks of another PNG: the file an image editor
 * opened the image from, when its own PNG loader drops them (GIMP keeps
 * only a "Comment"). RAIIAF_ENOTPNG if the bytes do not start as a PNG;
 * the chunks are walked as far as they are whole, nothing else is
 * checked. The embedded PNG does not get these chunks: a text too large
 * for the manifest is recorded by size and sha256 only ("in_image":
 * false). */
RAIIAF_API int raiiaf_writer_import_png_bytes(raiiaf_writer *w, const void *png, size_t size);
/* The same for texts a host read from its image (e.g. ImageMagick's
 * properties): recorded and recognised as if they were the PNG's. */
RAIIAF_API int raiiaf_writer_import_texts(raiiaf_writer *w, const raiiaf_png_text *texts,
                                          size_t count);

/* For a host that re-encodes an image it read from a PNG file whose text
 * chunks its own PNG reader drops or changes (ImageMagick drops compressed
 * iTXt and texts over 8 MB and picks chunk types of its own; GIMP keeps
 * only a "Comment"): the text chunks of that file (png, size bytes) go
 * into the writer's image (given before), copied byte for byte in their
 * order before its image data, in place of the image's own text chunks
 * (its XMP stays). XMP and ImageMagick's "Raw profile type NAME" chunks
 * (profiles, which hosts carry their own way) are not copied. Chunks a
 * PNG reader would refuse (bad CRC, keyword or
 * fields, zlib data that does not inflate or inflates past 256 MiB) are
 * left out; more than 4096 text chunks fail with RAIIAF_ELIMIT.
 * What the user did to the texts in the host wins. `now` are the host's
 * texts as they are at export (keyword, text; may be NULL), `read` those
 * its reader made of the file (NULL when the host cannot say); keywords
 * are compared without regard to ASCII case, as ImageMagick does. For
 * each keyword of the file's chunks:
 *   - no text now but one read (the user removed it): its chunks are left
 *     out;
 *   - a text now that equals neither what was read nor the file's first
 *     chunk of the keyword (the user changed it): that text is written
 *     instead, once, under that chunk's keyword and kind (tEXt, zTXt, iTXt with its
 *     language and translated keyword; iTXt when the text is not
 *     Latin-1);
 *   - otherwise (no text now and none read: the host could not read it;
 *     or the same text): the file's chunks, as they were.
 * Texts of `now` under keywords the file has no chunk of, and that differ
 * from what was read, follow (as raiiaf_encode_png writes texts).
 * RAIIAF_ENOTPNG if png does not start as a PNG; its chunks are walked as
 * far as they are whole. Call raiiaf_writer_import_png_text() after it to
 * record what the image now holds. */
RAIIAF_API int raiiaf_writer_keep_png_texts(raiiaf_writer *w, const void *png, size_t size,
                                            const raiiaf_png_text *now, size_t now_count,
                                            const raiiaf_png_text *read, size_t read_count);

/* A 1x1 PNG that holds the text chunks of png (size bytes) as they are,
 * in their order: for a host that must know what its own PNG reader makes
 * of a file's texts (raiiaf_writer_keep_png_texts()' `read`) without
 * decoding the pixels (ImageMagick's ping reads no text). Release it with
 * raiiaf_free(). RAIIAF_ENOTPNG if png does not start as a PNG. */
RAIIAF_API int raiiaf_png_texts_only(const void *png, size_t size, void **out, size_t *out_size);

/* The environment JSON, stored as given (must be an object). Without it the
 * writer describes its own software: os, libraiiaf and its libraries, and
 * the host application of raiiaf_writer_set_software(). */
RAIIAF_API int raiiaf_writer_set_env_json(raiiaf_writer *w, const char *json, size_t size);

/* The application writing the file, e.g. ("GIMP", "3.0.4"): recorded in a
 * new file's environment, and, for a re-written file (raiiaf_writer_new_from
 * or a whole manifest given to raiiaf_writer_set_metadata_json), in the
 * manifest's edit history ("edit_history": [{"software", "libraiiaf",
 * "date", "action", "image_matches_latents": false}]) with `action`
 * ("edited", "re-encoded", ...). action NULL records no history: for tools
 * that repackage a file without changing its image. */
RAIIAF_API int raiiaf_writer_set_software(raiiaf_writer *w, const char *name,
                                          const char *version, const char *action);

/* Builds the file. raiiaf_writer_write_file() writes it through a
 * raiiaf_output (below): an error leaves an existing file untouched, a
 * symbolic link is written through, mode and owner are kept. raiiaf_writer_write_memory() hands out a malloc'd buffer to
 * release with raiiaf_free(). */
RAIIAF_API int raiiaf_writer_write_file(raiiaf_writer *w, const char *path);
RAIIAF_API int raiiaf_writer_write_memory(raiiaf_writer *w, void **data, size_t *size);

RAIIAF_API void raiiaf_free(void *p);

/* ---------------------------------------------------------------------
 * Files written all or nothing (raiiaf_output)
 *
 * The one way the suite replaces a file: the data goes to a temporary file
 * in the target's folder, and raiiaf_output_commit() syncs it and gives it
 * the target's name in one step. Until then the old file is untouched, so a
 * full disk, an error or a killed process never leaves a truncated or
 * half-written target.
 *
 * - The temporary file is unnamed (O_TMPFILE, linked in by commit) where
 *   the file system and /proc allow it: a killed process leaves nothing.
 *   Elsewhere it is a hidden ".NAME.raiiaf-tmp-PID-XXXXXXXX" beside the
 *   target. Opening an output removes such files of processes that are
 *   gone (or older than an hour) from the target's folder.
 * - Replacing keeps the old file's mode and, where allowed, its owner and
 *   group. A new file gets 0666 less the umask.
 * - A symbolic link is written through: its target is replaced and the
 *   link stays, as cp and GIMP do (unless RAIIAF_OUTPUT_NO_FOLLOW). A
 *   target with other hard links keeps its inode: commit reserves the
 *   space, then copies the complete, synced data over it, so every name
 *   sees the new content (a crash during that copy can leave it
 *   half-written; a full disk fails before it starts).
 * - A folder, device, pipe or socket at the target is refused: write to
 *   those directly.
 * Errors are RAIIAF_EIO (raiiaf_output_errno() keeps errno: EEXIST when
 * RAIIAF_OUTPUT_NO_REPLACE found a file), RAIIAF_ENOMEM, RAIIAF_EINVAL or
 * RAIIAF_EBADSTATE, with a message naming the path.
 * ------------------------------------------------------------------- */
typedef struct raiiaf_output raiiaf_output;

enum raiiaf_output_flags {
    /* Commit fails with EEXIST if the name exists (a symbolic link
     * included) instead of replacing it. */
    RAIIAF_OUTPUT_NO_REPLACE = 1,
    /* A symbolic link, or a file with other hard links, at the name is
     * replaced, not written through: for files a tool puts into a folder
     * someone else may have prepared (raiiaf extract --force). */
    RAIIAF_OUTPUT_NO_FOLLOW = 2,
    /* The folder holding the file must not be a symbolic link (its last
     * component is opened with O_NOFOLLOW): for sub-folders a tool created
     * itself inside a folder an attacker may have prepared. */
    RAIIAF_OUTPUT_NO_FOLLOW_DIR = 4
};

RAIIAF_API raiiaf_output *raiiaf_output_new(void);
/* Creates the temporary file for `path` (one call per output object). */
RAIIAF_API int raiiaf_output_open(raiiaf_output *o, const char *path, unsigned flags);
/* The same with `path` relative to the folder dirfd (or AT_FDCWD). */
RAIIAF_API int raiiaf_output_openat(raiiaf_output *o, int dirfd, const char *path,
                                    unsigned flags);
/* The temporary file's descriptor, for writers of their own (libpng,
 * stdio through dup()). It belongs to the output: do not close it. */
RAIIAF_API int raiiaf_output_fd(const raiiaf_output *o);
RAIIAF_API int raiiaf_output_write(raiiaf_output *o, const void *data, size_t size);
/* Syncs the data and puts it in place; after an error the temporary file
 * is gone and the target as it was. */
RAIIAF_API int raiiaf_output_commit(raiiaf_output *o);
/* Removes a committed file again (a tool taking back an all-or-nothing set
 * of new files). */
RAIIAF_API int raiiaf_output_remove(raiiaf_output *o);
RAIIAF_API const char *raiiaf_output_message(const raiiaf_output *o);
RAIIAF_API int raiiaf_output_errno(const raiiaf_output *o);
/* Frees the object; an uncommitted temporary file is removed. */
RAIIAF_API void raiiaf_output_free(raiiaf_output *o);

#ifdef __cplusplus
}
#endif
#endif /* RAIIAF_H */
