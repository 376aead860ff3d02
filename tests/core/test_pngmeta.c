/* The embedded PNG's own metadata (src/pngmeta.c): XMP, eXIf and text
 * chunks written by raiiaf_encode_png() come back from
 * raiiaf_get_png_metadata() as given (Latin-1 text as tEXt/zTXt, the rest
 * as iTXt), in order; the image digest matches the bytes; a zTXt that
 * inflates past the 16 MiB budget is refused with RAIIAF_ELIMIT;
 * raiiaf_exif_orientation() reads the Orientation of both byte orders and
 * gives 0 for anything else, never reading past the data; a 17 MiB tEXt is
 * returned whole;
 * raiiaf_writer_keep_png_texts() copies a PNG's text chunks byte for byte
 * into the writer's image, except what the host's texts changed, removed
 * or added, and what a reader refuses. */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define W 7
#define H 3

static raiiaf_ctx *open_png(const void *png, size_t size, void **file)
{
    raiiaf_writer *w = raiiaf_writer_new();
    size_t fsize = 0;
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_writer_set_image_png(w, png, size) == RAIIAF_OK, "image: %s",
          raiiaf_writer_message(w));
    CHECK(raiiaf_writer_write_memory(w, file, &fsize) == RAIIAF_OK, "written: %s",
          raiiaf_writer_message(w));
    CHECK(raiiaf_open_memory(ctx, *file, fsize) == RAIIAF_OK, "opens: %s", raiiaf_ctx_message(ctx));
    raiiaf_writer_free(w);
    return ctx;
}

static void round_trip(void)
{
    uint8_t grey[W * H];
    for (int i = 0; i < W * H; i++)
        grey[i] = (uint8_t)(i * 11);
    static const uint8_t exif[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0};
    const char *xmp = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">a, b, c</x:xmpmeta>";
    raiiaf_png_text texts[] = {
        {.keyword = "Comment", .text = "caf\xc3\xa9, with a comma"},
        {.keyword = "Software", .text = "zipped text", .compressed = 1},
        {.keyword = "Title", .text = "\xe2\x98\x85 star", .international = 1,
         .language = "fr", .translated_keyword = "Titre"},
        {.keyword = "parameters", .text = "\xe2\x98\x85 not Latin-1"},
    };
    for (int i = 0; i < 4; i++)
        texts[i].size = strlen(texts[i].text);
    raiiaf_png_metadata meta = {.xmp = xmp, .xmp_size = strlen(xmp), .exif = exif,
                                .exif_size = sizeof exif, .texts = texts, .text_count = 4};
    raiiaf_pixels px = {.width = W, .height = H, .format = RAIIAF_FMT_G8, .data = grey,
                        .ppm_x = 3780, .ppm_y = 3780};
    void *png = NULL, *file = NULL;
    size_t size = 0;
    char message[128] = "";
    CHECK(raiiaf_encode_png(&px, 6, &meta, &png, &size, message, sizeof message) == RAIIAF_OK,
          "encoded: %s", message);
    raiiaf_ctx *ctx = open_png(png, size, &file);

    raiiaf_png_metadata *got = NULL;
    CHECK(raiiaf_get_png_metadata(ctx, &got) == RAIIAF_OK, "metadata read: %s",
          raiiaf_ctx_message(ctx));
    if (got) {
        CHECK(got->xmp && got->xmp_size == strlen(xmp) && !memcmp(got->xmp, xmp, got->xmp_size),
              "XMP as given");
        CHECK(got->exif_size == sizeof exif && !memcmp(got->exif, exif, sizeof exif), "eXIf as given");
        CHECK(got->text_count == 4, "4 texts besides the XMP (got %zu)", got->text_count);
        for (size_t i = 0; i < 4 && i < got->text_count; i++) {
            const raiiaf_png_text *t = &got->texts[i];
            CHECK(!strcmp(t->keyword, texts[i].keyword) && t->size == texts[i].size &&
                      !memcmp(t->text, texts[i].text, t->size) && t->text[t->size] == 0,
                  "text %zu (%s) as given", i, texts[i].keyword);
            CHECK(t->compressed == texts[i].compressed, "text %zu: compression kept", i);
        }
        if (got->text_count == 4) {
            CHECK(!got->texts[0].international && !got->texts[1].international,
                  "Latin-1 text stays tEXt/zTXt");
            CHECK(got->texts[2].international && !strcmp(got->texts[2].language, "fr") &&
                      !strcmp(got->texts[2].translated_keyword, "Titre"),
                  "iTXt language and translated keyword kept");
            CHECK(got->texts[3].international, "text beyond Latin-1 becomes iTXt");
        }
    }
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK && info.ppm_x == 3780, "pHYs kept");

    uint8_t sha[32];
    const void *data;
    size_t dsize;
    char hex[65], want[65];
    CHECK(raiiaf_get_image_sha256(ctx, sha) == RAIIAF_OK, "image digest");
    CHECK(raiiaf_get_image_data(ctx, &data, &dsize) == RAIIAF_OK, "image data");
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    tl_sha256_hex(data, dsize, want);
    CHECK(!strcmp(hex, want), "the digest is the sha256 of the image bytes");

    /* A keyword that is not 1-79 Latin-1 characters is refused. */
    raiiaf_png_text bad = {.keyword = "", .text = "x", .size = 1};
    raiiaf_png_metadata badmeta = {.texts = &bad, .text_count = 1};
    void *png2 = NULL;
    size_t size2;
    CHECK(raiiaf_encode_png(&px, 6, &badmeta, &png2, &size2, message, sizeof message) ==
              RAIIAF_EVALUE && png2 == NULL && message[0],
          "an empty keyword is refused (%s)", message);

    raiiaf_free(got);
    raiiaf_ctx_free(ctx);
    raiiaf_free(png);
    raiiaf_free(file);
}

/* A zTXt of 20 MiB of zeros (20 kB compressed): over the budget. */
static void inflate_bomb(void)
{
    uint8_t grey[W * H] = {0};
    raiiaf_pixels px = {.width = W, .height = H, .format = RAIIAF_FMT_G8, .data = grey};
    void *png = NULL, *file = NULL;
    size_t size = 0;
    CHECK(raiiaf_encode_png(&px, 6, NULL, &png, &size, NULL, 0) == RAIIAF_OK, "plain PNG");
    size_t big = 20u << 20;
    uint8_t *zeros = calloc(1, big);
    uLong zsize = compressBound(big);
    uint8_t *z = malloc(zsize);
    compress2(z, &zsize, zeros, big, 9);
    size_t body = 5 + zsize;
    uint8_t *chunk = malloc(12 + body);
    chunk[0] = (uint8_t)(body >> 24), chunk[1] = (uint8_t)(body >> 16);
    chunk[2] = (uint8_t)(body >> 8), chunk[3] = (uint8_t)body;
    memcpy(chunk + 4, "zTXtBomb\0\0", 10);
    memcpy(chunk + 14, z, zsize);
    uint32_t crc = tl_crc32(chunk + 4, 4 + body);
    uint8_t *c = chunk + 8 + body;
    c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8),
    c[3] = (uint8_t)crc;
    /* after the signature and IHDR (8 + 25 bytes) */
    uint8_t *bomb = malloc(size + 12 + body);
    memcpy(bomb, png, 33);
    memcpy(bomb + 33, chunk, 12 + body);
    memcpy(bomb + 33 + 12 + body, (uint8_t *)png + 33, size - 33);
    raiiaf_ctx *ctx = open_png(bomb, size + 12 + body, &file);
    raiiaf_png_metadata *got = NULL;
    CHECK(raiiaf_get_png_metadata(ctx, &got) == RAIIAF_ELIMIT && got == NULL,
          "a zTXt inflating to 20 MiB is refused: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(zeros), free(z), free(chunk), free(bomb);
    raiiaf_free(png);
    raiiaf_free(file);
}

/* Exif of one byte order: the TIFF header, IFD0 with `n` entries (tag,
 * type, count, value), no next IFD. */
static size_t exif_ifd(uint8_t *out, int big, const uint16_t (*entries)[4], unsigned n)
{
#define PUT16(p, v) ((p)[big ? 0 : 1] = (uint8_t)((v) >> 8), (p)[big ? 1 : 0] = (uint8_t)(v))
    size_t at = 8;
    out[0] = out[1] = big ? 'M' : 'I';
    PUT16(out + 2, 42);
    PUT16(out + (big ? 4 : 6), 0);
    PUT16(out + (big ? 6 : 4), 8);
    PUT16(out + at, n);
    at += 2;
    for (unsigned i = 0; i < n; i++, at += 12) {
        memset(out + at, 0, 12);
        PUT16(out + at, entries[i][0]);
        PUT16(out + at + 2, entries[i][1]);
        PUT16(out + at + (big ? 6 : 4), entries[i][2]);
        PUT16(out + at + 8, entries[i][3]);
    }
    memset(out + at, 0, 4);
    return at + 4;
#undef PUT16
}

static void exif_orientation(void)
{
    uint8_t exif[64];
    /* ImageWidth first, then Orientation: SHORT, one value */
    const uint16_t six[][4] = {{256, 4, 1, 640}, {274, 3, 1, 6}};
    const uint16_t nine[][4] = {{274, 3, 1, 9}};
    const uint16_t as_long[][4] = {{274, 4, 1, 6}};
    const uint16_t none[][4] = {{256, 4, 1, 640}};
    for (int big = 0; big < 2; big++) {
        size_t n = exif_ifd(exif, big, six, 2);
        CHECK(raiiaf_exif_orientation(exif, n) == 6, "%s: orientation 6", big ? "MM" : "II");
        CHECK(raiiaf_exif_orientation(exif, n - 12) == 0, "%s: the entry cut off: 0",
              big ? "MM" : "II");
        n = exif_ifd(exif, big, nine, 1);
        CHECK(raiiaf_exif_orientation(exif, n) == 0, "%s: orientation 9: 0", big ? "MM" : "II");
        n = exif_ifd(exif, big, as_long, 1);
        CHECK(raiiaf_exif_orientation(exif, n) == 0, "%s: orientation as LONG: 0",
              big ? "MM" : "II");
        n = exif_ifd(exif, big, none, 1);
        CHECK(raiiaf_exif_orientation(exif, n) == 0, "%s: no orientation: 0", big ? "MM" : "II");
    }
    size_t n = exif_ifd(exif, 1, six, 2);
    exif[9] = 200; /* 200 entries in 38 bytes */
    CHECK(raiiaf_exif_orientation(exif, n) == 6, "an entry count past the data: the entries there");
    exif[9] = 2;
    exif[7] = 250; /* IFD0 past the end */
    CHECK(raiiaf_exif_orientation(exif, n) == 0, "IFD0 past the data: 0");
    exif[7] = 8;
    exif[3] = 43;
    CHECK(raiiaf_exif_orientation(exif, n) == 0, "not TIFF (43): 0");
    CHECK(raiiaf_exif_orientation(NULL, 0) == 0 && raiiaf_exif_orientation(exif, 7) == 0,
          "no data, or less than a TIFF header: 0");
}

/* One chunk: length, type, data, CRC (bad_crc: off by one). */
static size_t make_chunk(uint8_t *out, const char *type, const void *data, size_t n, int bad_crc)
{
    out[0] = (uint8_t)(n >> 24), out[1] = (uint8_t)(n >> 16), out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, type, 4);
    memcpy(out + 8, data, n);
    uint32_t crc = tl_crc32(out + 4, 4 + n) + (bad_crc ? 1 : 0);
    uint8_t *c = out + 8 + n;
    c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
    return 12 + n;
}

/* png with `extra` (n bytes of chunks) after IHDR; malloc'd. */
static uint8_t *with_chunks(const void *png, size_t size, const void *extra, size_t n)
{
    uint8_t *out = malloc(size + n);
    memcpy(out, png, 33);
    memcpy(out + 33, extra, n);
    memcpy(out + 33 + n, (const uint8_t *)png + 33, size - 33);
    return out;
}

static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(hay + i, needle, m))
            return hay + i;
    return NULL;
}

static void keep_texts(void)
{
    uint8_t grey[W * H] = {0};
    raiiaf_pixels px = {.width = W, .height = H, .format = RAIIAF_FMT_G8, .data = grey};
    raiiaf_png_text src_texts[] = {
        {.keyword = "parameters", .text = "p0"},
        {.keyword = "workflow", .text = "{\"nodes\": []}", .compressed = 1},
        {.keyword = "Title", .text = "\xe2\x98\x85", .international = 1, .compressed = 1,
         .language = "fr", .translated_keyword = "Titre"},
        {.keyword = "Raw profile type exif", .text = "\nexif\n4\n00000000\n"},
        {.keyword = "Comment", .text = "c"},
        {.keyword = "prompt", .text = "{}"},
        {.keyword = "PROMPT", .text = "second of its keyword"},
    };
    for (size_t i = 0; i < 7; i++)
        src_texts[i].size = strlen(src_texts[i].text);
    raiiaf_png_metadata meta = {.texts = src_texts, .text_count = 7};
    void *src = NULL, *plain = NULL, *old = NULL, *file = NULL;
    size_t src_size = 0, plain_size = 0, old_size = 0;
    CHECK(raiiaf_encode_png(&px, 6, &meta, &src, &src_size, NULL, 0) == RAIIAF_OK, "source PNG");
    /* a chunk with a bad CRC and one with broken zlib data: left out */
    uint8_t extra[128];
    size_t n = make_chunk(extra, "tEXt", "bad\0crc", 7, 1);
    n += make_chunk(extra + n, "zTXt", "broken\0\0zz", 10, 0);
    uint8_t *source = with_chunks(src, src_size, extra, n);
    size_t source_size = src_size + n;
    /* the image the host encoded, with a text and an XMP packet of its own */
    raiiaf_png_text own = {.keyword = "Old", .text = "gone", .size = 4};
    raiiaf_png_metadata own_meta = {.xmp = "<x/>", .xmp_size = 4, .texts = &own, .text_count = 1};
    CHECK(raiiaf_encode_png(&px, 6, &own_meta, &old, &old_size, NULL, 0) == RAIIAF_OK, "image");

    raiiaf_png_text now[] = {
        {.keyword = "parameters", .text = "p0", .size = 2},          /* as read */
        {.keyword = "title", .text = "\xe2\x98\x86 new", .size = 7}, /* changed */
        {.keyword = "Software", .text = "added", .size = 5},         /* new */
        {.keyword = "Copyright", .text = "as read", .size = 7},      /* not new */
    };
    raiiaf_png_text read[] = {
        {.keyword = "parameters", .text = "p0", .size = 2},
        {.keyword = "Comment", .text = "c", .size = 1}, /* removed by the user */
        {.keyword = "Copyright", .text = "as read", .size = 7},
    };
    raiiaf_writer *w = raiiaf_writer_new();
    CHECK(raiiaf_writer_keep_png_texts(w, source, source_size, NULL, 0, NULL, 0) ==
              RAIIAF_EBADSTATE, "no image yet: EBADSTATE");
    CHECK(raiiaf_writer_set_image_png(w, old, old_size) == RAIIAF_OK, "image set");
    CHECK(raiiaf_writer_keep_png_texts(w, "not a png", 9, NULL, 0, NULL, 0) == RAIIAF_ENOTPNG,
          "no PNG: ENOTPNG");
    CHECK(raiiaf_writer_keep_png_texts(w, source, source_size, now, 4, read, 3) == RAIIAF_OK,
          "texts kept: %s", raiiaf_writer_message(w));
    CHECK(raiiaf_writer_write_memory(w, &file, &plain_size) == RAIIAF_OK, "written: %s",
          raiiaf_writer_message(w));
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, file, plain_size) == RAIIAF_OK, "opens");
    raiiaf_png_metadata *got = NULL;
    CHECK(raiiaf_get_png_metadata(ctx, &got) == RAIIAF_OK, "metadata: %s", raiiaf_ctx_message(ctx));
    static const struct {
        const char *keyword, *text, *language, *translated;
        int compressed, international;
    } want[] = {
        {"parameters", "p0", "", "", 0, 0},
        {"workflow", "{\"nodes\": []}", "", "", 1, 0},
        {"Title", "\xe2\x98\x86 new", "fr", "Titre", 1, 1},
        {"prompt", "{}", "", "", 0, 0},
        {"PROMPT", "second of its keyword", "", "", 0, 0},
        {"Software", "added", "", "", 0, 0},
    };
    CHECK(got && got->text_count == 6, "six texts: %zu", got ? got->text_count : 0);
    for (size_t i = 0; got && i < 6 && i < got->text_count; i++) {
        const raiiaf_png_text *t = &got->texts[i];
        CHECK(!strcmp(t->keyword, want[i].keyword) && !strcmp(t->text, want[i].text) &&
                  !strcmp(t->language, want[i].language) &&
                  !strcmp(t->translated_keyword, want[i].translated) &&
                  t->compressed == want[i].compressed && t->international == want[i].international,
              "text %zu: %s = %s (%s %s %d %d)", i, t->keyword, t->text, t->language,
              t->translated_keyword, t->compressed, t->international);
    }
    CHECK(got && got->xmp && got->xmp_size == 4, "the image's XMP stays");
    /* the zTXt is the source's chunk, byte for byte */
    const void *image;
    size_t image_size;
    CHECK(raiiaf_get_image_data(ctx, &image, &image_size) == RAIIAF_OK, "image data");
    const uint8_t *zt = find_bytes(source, source_size, (const uint8_t *)"zTXtworkflow", 12);
    CHECK(zt && find_bytes(image, image_size, zt - 4,
                           12 + ((size_t)zt[-4] << 24 | (size_t)zt[-3] << 16 |
                                 (size_t)zt[-2] << 8 | zt[-1])),
          "the zTXt copied byte for byte");
    CHECK(raiiaf_verify(ctx) == RAIIAF_OK, "the file verifies: %s", raiiaf_ctx_message(ctx));
    raiiaf_free(got);
    raiiaf_ctx_free(ctx);
    raiiaf_free(file);

    /* more than 4096 text chunks: ELIMIT */
    size_t many = 4097, each = 12 + 3;
    uint8_t *lots = malloc(many * each);
    for (size_t i = 0; i < many; i++)
        make_chunk(lots + i * each, "tEXt", "k\0v", 3, 0);
    uint8_t *crowded = with_chunks(src, src_size, lots, many * each);
    CHECK(raiiaf_writer_keep_png_texts(w, crowded, src_size + many * each, NULL, 0, NULL, 0) ==
              RAIIAF_ELIMIT, "4097 text chunks: ELIMIT");
    raiiaf_writer_free(w);
    free(lots), free(crowded), free(source);
    raiiaf_free(src);
    raiiaf_free(old);
    (void)plain;
}

/* A 17 MiB tEXt (a large ComfyUI workflow) is no bomb: it is returned
 * whole. */
static void large_text(void)
{
    uint8_t grey[W * H] = {0};
    raiiaf_pixels px = {.width = W, .height = H, .format = RAIIAF_FMT_G8, .data = grey};
    size_t big = 17u << 20;
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = 0;
    raiiaf_png_text t = {.keyword = "workflow", .text = text, .size = big};
    raiiaf_png_metadata meta = {.texts = &t, .text_count = 1};
    void *png = NULL, *file = NULL;
    size_t size = 0;
    CHECK(raiiaf_encode_png(&px, 6, &meta, &png, &size, NULL, 0) == RAIIAF_OK, "PNG with 17 MiB");
    raiiaf_ctx *ctx = open_png(png, size, &file);
    raiiaf_png_metadata *got = NULL;
    CHECK(raiiaf_get_png_metadata(ctx, &got) == RAIIAF_OK && got && got->text_count == 1 &&
              got->texts[0].size == big && !memcmp(got->texts[0].text, text, big),
          "a 17 MiB tEXt is returned whole: %s", raiiaf_ctx_message(ctx));
    raiiaf_free(got);
    raiiaf_ctx_free(ctx);
    raiiaf_free(png);
    raiiaf_free(file);
    free(text);
}

int main(void)
{
    large_text();
    round_trip();
    inflate_bomb();
    exif_orientation();
    keep_texts();
    return tl_finish();
}
