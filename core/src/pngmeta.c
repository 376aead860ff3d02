/* The embedded PNG's own metadata: XMP, eXIf and text chunks, read from a
 * file's image and written into a new one. The chunk layout (ISO 15948,
 * PNG 3rd edition for eXIf) lives here and nowhere else: hosts see
 * keywords and texts, never chunks.
 *
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define XMP_KEYWORD "XML:com.adobe.xmp"
/* What compressed texts may inflate to, all of them together: a metadata
 * chunk may not cost more than the manifest may. A text stored as it is
 * costs what the image chunk, already read and within its own limit,
 * holds: a 50 MB ComfyUI workflow in tEXt opens. */
#define MAX_TEXT_TOTAL (16u << 20)

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char *copy_str(char *dst, const char *src)
{
    size_t n = strlen(src) + 1;
    memcpy(dst, src, n);
    return dst + n;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- reading ---------------------------------------------------------- */

/* One text as found, before it is laid out in the caller's block. */
typedef struct pm_text {
    char *keyword, *text, *language, *translated;
    size_t size;
    int compressed, international;
} pm_text;

typedef struct pm_list {
    pm_text *items;
    size_t count;
    uint8_t *exif;
    size_t exif_size;
    size_t total;
} pm_list;

static void pm_list_free(pm_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].keyword);
        free(l->items[i].text);
        free(l->items[i].language);
        free(l->items[i].translated);
    }
    free(l->items);
    free(l->exif);
}

int rf_inflate_capped(const uint8_t *data, size_t size, size_t cap_max, char **out,
                      size_t *out_size)
{
    size_t cap = size * 4 + 64 < cap_max ? size * 4 + 64 : cap_max;
    char *buf = malloc(cap + 1);
    if (!buf)
        return RF_INFLATE_NOMEM;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        free(buf);
        return RF_INFLATE_NOMEM;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    int rc = RF_INFLATE_OK;
    for (;;) {
        zs.next_out = (Bytef *)buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        int zr = inflate(&zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = zr == Z_MEM_ERROR ? RF_INFLATE_NOMEM : RF_INFLATE_CORRUPT;
            break;
        }
        if (zs.avail_out == 0) {
            if (cap >= cap_max) {
                rc = RF_INFLATE_TOO_LARGE;
                break;
            }
            size_t ncap = cap * 2 < cap_max ? cap * 2 : cap_max;
            char *nbuf = realloc(buf, ncap + 1);
            if (!nbuf) {
                rc = RF_INFLATE_NOMEM;
                break;
            }
            buf = nbuf;
            cap = ncap;
        } else if (zr == Z_BUF_ERROR) {
            rc = RF_INFLATE_CORRUPT; /* input ended before the stream did */
            break;
        }
    }
    size_t got = zs.total_out;
    inflateEnd(&zs);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[got] = 0;
    *out = buf;
    *out_size = got;
    return RF_INFLATE_OK;
}

/* Inflates a zlib stream of a text chunk, up to `room` bytes. */
static int inflate_text(const uint8_t *data, size_t size, size_t room, char **out,
                        size_t *out_size, rf_msg *msg, const char *keyword)
{
    int rc = rf_inflate_capped(data, size, room, out, out_size);
    if (rc == RF_INFLATE_NOMEM)
        return rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
    if (rc == RF_INFLATE_TOO_LARGE)
        return rf_fail(msg, RAIIAF_ELIMIT,
                       "embedded PNG: text chunk \"%s\" inflates to more than %u bytes",
                       keyword, (unsigned)MAX_TEXT_TOTAL);
    if (rc == RF_INFLATE_CORRUPT)
        return rf_fail(msg, RAIIAF_EPNG, "embedded PNG: text chunk \"%s\" is not valid zlib data",
                       keyword);
    return RAIIAF_OK;
}

char *rf_latin1_to_utf8(const uint8_t *s, size_t n, size_t *out_size)
{
    char *out = malloc(n * 2 + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            *p++ = (char)s[i];
        } else {
            *p++ = (char)(0xC0 | s[i] >> 6);
            *p++ = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    *p = 0;
    if (out_size)
        *out_size = (size_t)(p - out);
    return out;
}

static int parse_text(const uint8_t *type, const uint8_t *d, uint32_t len, pm_list *l,
                      rf_msg *msg)
{
    const uint8_t *nul = memchr(d, 0, len);
    if (!nul || nul == d || nul - d > 79)
        return rf_fail(msg, RAIIAF_EPNG, "embedded PNG: %.4s chunk without a valid keyword",
                       (const char *)type);
    pm_text t = {0};
    size_t klen = (size_t)(nul - d);
    const uint8_t *p = nul + 1, *end = d + len;
    size_t room = MAX_TEXT_TOTAL - l->total;
    int err = RAIIAF_OK;
    size_t ksize;
    t.keyword = rf_latin1_to_utf8(d, klen, &ksize);
    if (!t.keyword)
        return rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");

    if (!memcmp(type, "tEXt", 4)) {
        t.text = rf_latin1_to_utf8(p, (size_t)(end - p), &t.size);
        if (!t.text)
            err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
    } else if (!memcmp(type, "zTXt", 4)) {
        char *raw = NULL;
        size_t raw_size = 0;
        t.compressed = 1;
        if (p >= end || *p != 0)
            err = rf_fail(msg, RAIIAF_EPNG, "embedded PNG: zTXt \"%s\": unknown compression",
                          t.keyword);
        else
            err = inflate_text(p + 1, (size_t)(end - p - 1), room, &raw, &raw_size, msg,
                               t.keyword);
        if (!err) {
            t.text = rf_latin1_to_utf8((const uint8_t *)raw, raw_size, &t.size);
            if (!t.text)
                err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        }
        free(raw);
    } else { /* iTXt */
        t.international = 1;
        const uint8_t *lang, *trans, *lnul, *tnul;
        if (end - p < 2 || p[0] > 1 || (p[0] && p[1] != 0))
            err = rf_fail(msg, RAIIAF_EPNG, "embedded PNG: iTXt \"%s\": bad compression fields",
                          t.keyword);
        if (!err) {
            t.compressed = p[0];
            lang = p + 2;
            lnul = memchr(lang, 0, (size_t)(end - lang));
            trans = lnul ? lnul + 1 : NULL;
            tnul = trans ? memchr(trans, 0, (size_t)(end - trans)) : NULL;
            if (!tnul) {
                err = rf_fail(msg, RAIIAF_EPNG, "embedded PNG: iTXt \"%s\" is truncated",
                              t.keyword);
            } else {
                t.language = rf_strndup((const char *)lang, (size_t)(lnul - lang));
                t.translated = rf_strndup((const char *)trans, (size_t)(tnul - trans));
                const uint8_t *txt = tnul + 1;
                if (!t.language || !t.translated)
                    err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
                else if (t.compressed)
                    err = inflate_text(txt, (size_t)(end - txt), room, &t.text, &t.size, msg,
                                       t.keyword);
                else if (!(t.text = rf_strndup((const char *)txt, (size_t)(end - txt))))
                    err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
                else
                    t.size = (size_t)(end - txt);
            }
        }
    }
    if (!err && t.compressed && t.size > room)
        err = rf_fail(msg, RAIIAF_ELIMIT, "embedded PNG: text chunks hold more than %u bytes",
                      (unsigned)MAX_TEXT_TOTAL);
    if (!err) {
        pm_text *items = realloc(l->items, (l->count + 1) * sizeof *items);
        if (!items) {
            err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        } else {
            l->items = items;
            l->items[l->count++] = t;
            if (t.compressed)
                l->total += t.size;
            return RAIIAF_OK;
        }
    }
    free(t.keyword);
    free(t.text);
    free(t.language);
    free(t.translated);
    return err;
}

static int collect(const uint8_t *png, size_t size, pm_list *l, rf_msg *msg)
{
    size_t pos = 8;
    while (pos + 12 <= size) {
        uint32_t len = get_be32(png + pos);
        const uint8_t *type = png + pos + 4;
        if (len > size - pos - 12)
            return rf_fail(msg, RAIIAF_EPNG, "embedded PNG: chunk %.4s runs past the end",
                           (const char *)type);
        const uint8_t *d = png + pos + 8;
        int err = RAIIAF_OK;
        if (!memcmp(type, "tEXt", 4) || !memcmp(type, "zTXt", 4) || !memcmp(type, "iTXt", 4)) {
            err = parse_text(type, d, len, l, msg);
        } else if (!memcmp(type, "eXIf", 4) && !l->exif && len > 0) {
            if (len > MAX_TEXT_TOTAL - l->total)
                return rf_fail(msg, RAIIAF_ELIMIT, "embedded PNG: eXIf holds %u bytes", len);
            if (!(l->exif = malloc(len)))
                return rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
            memcpy(l->exif, d, len);
            l->exif_size = len;
            l->total += len;
        } else if (!memcmp(type, "IEND", 4)) {
            break;
        }
        if (err)
            return err;
        pos += 12 + (size_t)len;
    }
    return RAIIAF_OK;
}

/* Everything goes into one malloc'd block, released with raiiaf_free():
 * the struct, the text array, then the bytes (each string NUL-terminated). */
static int lay_out(const pm_list *l, raiiaf_png_metadata **out, rf_msg *msg)
{
    size_t bytes = sizeof(raiiaf_png_metadata) + l->count * sizeof(raiiaf_png_text) + l->exif_size;
    for (size_t i = 0; i < l->count; i++) {
        const pm_text *t = &l->items[i];
        bytes += strlen(t->keyword) + t->size + 2;
        bytes += (t->language ? strlen(t->language) : 0) + 1;
        bytes += (t->translated ? strlen(t->translated) : 0) + 1;
    }
    raiiaf_png_metadata *m = calloc(1, bytes);
    if (!m)
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    raiiaf_png_text *texts = (raiiaf_png_text *)(m + 1);
    char *p = (char *)(texts + l->count);
    if (l->exif) {
        memcpy(p, l->exif, l->exif_size);
        m->exif = p;
        m->exif_size = l->exif_size;
        p += l->exif_size;
    }
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++) {
        const pm_text *t = &l->items[i];
        char *kw = p;
        p = copy_str(p, t->keyword);
        char *text = p;
        memcpy(p, t->text, t->size);
        p += t->size + 1;
        char *lang = p;
        p = copy_str(p, t->language ? t->language : "");
        char *trans = p;
        p = copy_str(p, t->translated ? t->translated : "");
        if (!m->xmp && !strcmp(kw, XMP_KEYWORD)) {
            m->xmp = text;
            m->xmp_size = t->size;
            continue;
        }
        texts[n++] = (raiiaf_png_text){.keyword = kw, .text = text, .size = t->size,
                                       .compressed = t->compressed,
                                       .international = t->international,
                                       .language = lang, .translated_keyword = trans};
    }
    m->texts = n ? texts : NULL;
    m->text_count = n;
    *out = m;
    return RAIIAF_OK;
}

int raiiaf_get_png_metadata(raiiaf_ctx *ctx, raiiaf_png_metadata **meta)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (!meta)
        return RF_BAD_ARGS(&ctx->msg);
    *meta = NULL;
    const void *png;
    size_t size;
    int err = raiiaf_get_image_data(ctx, &png, &size);
    if (err)
        return err;
    if (!rf_is_png(png, size))
        return rf_fail(&ctx->msg, RAIIAF_ENOTPNG, "the image chunk holds no PNG");
    pm_list l = {0};
    err = collect(png, size, &l, &ctx->msg);
    if (!err)
        err = lay_out(&l, meta, &ctx->msg);
    pm_list_free(&l);
    return err;
}

int raiiaf_exif_orientation(const void *exif, size_t size)
{
    const uint8_t *b = exif;
    if (!b || size < 8 || !(b[0] == b[1] && (b[0] == 'I' || b[0] == 'M')))
        return 0;
    bool be = b[0] == 'M';
#define EXIF16(p) (be ? (uint32_t)((p)[0] << 8 | (p)[1]) : (uint32_t)((p)[1] << 8 | (p)[0]))
#define EXIF32(p) (be ? EXIF16(p) << 16 | EXIF16((p) + 2) : EXIF16((p) + 2) << 16 | EXIF16(p))
    if (EXIF16(b + 2) != 42)
        return 0;
    uint32_t ifd = EXIF32(b + 4);
    if (ifd > size - 2)
        return 0;
    uint32_t count = EXIF16(b + ifd);
    for (uint32_t i = 0; i < count; i++) {
        size_t at = ifd + 2 + (size_t)i * 12;
        if (at + 12 > size)
            return 0;
        if (EXIF16(b + at) != 274)
            continue;
        /* SHORT, one value, kept in the entry itself */
        uint32_t value = EXIF16(b + at + 8);
        if (EXIF16(b + at + 2) != 3 || EXIF32(b + at + 4) != 1 || value < 1 || value > 8)
            return 0;
        return (int)value;
    }
#undef EXIF16
#undef EXIF32
    return 0;
}

int raiiaf_get_image_sha256(raiiaf_ctx *ctx, uint8_t sha256[32])
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!sha256)
        return RF_BAD_ARGS(&ctx->msg);
    if (ctx->data_record < 0)
        return rf_fail(&ctx->msg, RAIIAF_ENOIMAGE, "the file has no image chunk");
    memcpy(sha256, ctx->records[ctx->data_record].hash, 32);
    return RAIIAF_OK;
}

/* ---- writing ---------------------------------------------------------- */

static int append_chunk(rf_buf *b, const char *type, const void *a, size_t na, const void *c,
                        size_t nc, rf_msg *msg)
{
    if (na + nc > 0x7FFFFFFFu)
        return rf_fail(msg, RAIIAF_ELIMIT, "a %s chunk cannot hold %zu bytes", type, na + nc);
    uint8_t head[8], tail[4];
    put_be32(head, (uint32_t)(na + nc));
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0, head + 4, 4);
    crc = crc32(crc, a, (uInt)na);
    if (nc)
        crc = crc32(crc, c, (uInt)nc);
    put_be32(tail, (uint32_t)crc);
    if (rf_buf_append(b, head, 8) || (na && rf_buf_append(b, a, na)) ||
        (nc && rf_buf_append(b, c, nc)) || rf_buf_append(b, tail, 4))
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    return RAIIAF_OK;
}

static int deflate_text(const char *text, size_t size, uint8_t **out, size_t *out_size,
                        rf_msg *msg)
{
    uLong cap = compressBound((uLong)size);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    if (compress2(buf, &cap, (const Bytef *)text, (uLong)size, 9) != Z_OK) {
        free(buf);
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory compressing a text chunk");
    }
    *out = buf;
    *out_size = cap;
    return RAIIAF_OK;
}

/* UTF-8 to Latin-1 when every character fits; false otherwise. */
static bool utf8_to_latin1(const char *s, size_t n, char *out, size_t *out_size)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x80) {
            out[o++] = (char)u[i];
        } else if ((u[i] == 0xC2 || u[i] == 0xC3) && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
            out[o++] = (char)(((u[i] & 0x03) << 6) | (u[i + 1] & 0x3F));
            i++;
        } else {
            return false;
        }
    }
    *out_size = o;
    return true;
}

static int text_chunk(rf_buf *b, const raiiaf_png_text *t, rf_msg *msg)
{
    size_t klen = t->keyword ? strlen(t->keyword) : 0;
    const char *text = t->text ? t->text : "";
    size_t size = t->text ? t->size : 0;
    char kw[80];
    size_t kwl;
    if (!klen || klen > 79 * 2 || !utf8_to_latin1(t->keyword, klen, kw, &kwl) || kwl > 79 ||
        memchr(kw, 0, kwl))
        return rf_fail(msg, RAIIAF_EVALUE, "PNG text keyword \"%s\" is not 1-79 Latin-1 "
                       "characters", t->keyword ? t->keyword : "");
    if (memchr(text, 0, size))
        return rf_fail(msg, RAIIAF_EVALUE, "PNG text \"%s\" contains a NUL byte", t->keyword);
    int err;
    uint8_t *z = NULL;
    size_t zn = 0;
    char *latin = NULL;
    size_t ln = 0;
    bool international = t->international;
    if (!international) {
        latin = malloc(size + 1);
        if (!latin)
            return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        international = !utf8_to_latin1(text, size, latin, &ln);
    }
    rf_buf head = {0};
    if (!international) {
        if (rf_buf_append(&head, kw, kwl) || rf_buf_append(&head, "\0\0", t->compressed ? 2 : 1))
            err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        else if (t->compressed && !(err = deflate_text(latin, ln, &z, &zn, msg)))
            err = append_chunk(b, "zTXt", head.data, head.size, z, zn, msg);
        else if (!t->compressed)
            err = append_chunk(b, "tEXt", head.data, head.size, latin, ln, msg);
    } else {
        const char *lang = t->language ? t->language : "";
        const char *trans = t->translated_keyword ? t->translated_keyword : "";
        uint8_t flags[2] = {t->compressed ? 1 : 0, 0};
        if (rf_buf_append(&head, kw, kwl) || rf_buf_append(&head, "", 1) ||
            rf_buf_append(&head, flags, 2) || rf_buf_append(&head, lang, strlen(lang) + 1) ||
            rf_buf_append(&head, trans, strlen(trans) + 1))
            err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        else if (t->compressed && !(err = deflate_text(text, size, &z, &zn, msg)))
            err = append_chunk(b, "iTXt", head.data, head.size, z, zn, msg);
        else if (!t->compressed)
            err = append_chunk(b, "iTXt", head.data, head.size, text, size, msg);
    }
    rf_buf_free(&head);
    free(z);
    free(latin);
    return err;
}

static int metadata_chunks(const raiiaf_png_metadata *m, rf_buf *b, rf_msg *msg)
{
    int err = RAIIAF_OK;
    if (m->xmp && m->xmp_size) {
        /* XMP is stored uncompressed, so that tools can find the packet. */
        raiiaf_png_text x = {.keyword = XMP_KEYWORD, .text = m->xmp, .size = m->xmp_size,
                             .international = 1};
        err = text_chunk(b, &x, msg);
    }
    if (!err && m->exif && m->exif_size)
        err = append_chunk(b, "eXIf", m->exif, m->exif_size, NULL, 0, msg);
    for (size_t i = 0; !err && i < m->text_count; i++)
        err = text_chunk(b, &m->texts[i], msg);
    return err;
}

int raiiaf_encode_png(const raiiaf_pixels *px, int compression_level,
                      const raiiaf_png_metadata *meta, void **png, size_t *size,
                      char *message, size_t message_size)
{
    if (!px || !png || !size)
        return RAIIAF_EINVAL;
    *png = NULL;
    *size = 0;
    rf_msg msg = {{0}};
    uint8_t *enc = NULL;
    size_t enc_size;
    int err = rf_png_encode(px, compression_level, &enc, &enc_size, &msg);
    rf_buf chunks = {0}, out = {0};
    if (!err && meta)
        err = metadata_chunks(meta, &chunks, &msg);
    if (!err && chunks.size) {
        /* Before the first IDAT: where readers look for them first. */
        size_t pos = 8;
        while (pos + 12 <= enc_size && memcmp(enc + pos + 4, "IDAT", 4))
            pos += 12 + (size_t)get_be32(enc + pos);
        if (rf_buf_append(&out, enc, pos) || rf_buf_append(&out, chunks.data, chunks.size) ||
            rf_buf_append(&out, enc + pos, enc_size - pos))
            err = rf_fail(&msg, RAIIAF_ENOMEM, "out of memory");
        if (!err) {
            free(enc);
            enc = out.data;
            enc_size = out.size;
            out.data = NULL;
        }
    }
    rf_buf_free(&chunks);
    rf_buf_free(&out);
    if (err) {
        free(enc);
        if (!msg.text[0])
            snprintf(msg.text, sizeof msg.text, "%s", raiiaf_strerror(err));
        if (message && message_size)
            snprintf(message, message_size, "%s", msg.text);
        return err;
    }
    *png = enc;
    *size = enc_size;
    return RAIIAF_OK;
}

/* ---- the texts of the PNG a host read, into the PNG it re-encoded ---- */

/* Text chunks of one file looked at, and what one may inflate to before it
 * is taken for a zip bomb and left out. */
#define KEEP_MAX_CHUNKS 4096
#define KEEP_MAX_INFLATE (256u << 20)

typedef struct src_text {
    size_t pos, len;     /* the chunk's start in the file, its data length */
    char *keyword;       /* UTF-8 */
    size_t first;        /* the first chunk of the same keyword */
    int decision;        /* KEEP_... */
} src_text;

enum { KEEP_UNDECIDED, KEEP_VERBATIM, KEEP_REPLACED, KEEP_DROPPED };

static bool keyword_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return *a == *b;
}

static const raiiaf_png_text *host_text(const raiiaf_png_text *list, size_t n, const char *kw)
{
    for (size_t i = 0; list && i < n; i++)
        if (list[i].keyword && list[i].text && keyword_eq(list[i].keyword, kw))
            return &list[i];
    return NULL;
}

static bool same_text(const raiiaf_png_text *a, const raiiaf_png_text *b)
{
    return a && b && a->size == b->size && !memcmp(a->text, b->text, a->size);
}

/* Where a text chunk's text starts and how it is stored; false for a chunk
 * a reader refuses (no keyword, unknown compression, iTXt fields cut). */
static bool text_layout(const uint8_t *type, const uint8_t *d, size_t len, size_t *body,
                        int *compressed, int *latin1, size_t *lang, size_t *trans)
{
    const uint8_t *nul = memchr(d, 0, len);
    if (!nul || nul == d || nul - d > 79)
        return false;
    size_t p = (size_t)(nul - d) + 1;
    *compressed = 0;
    *latin1 = 1;
    if (!memcmp(type, "tEXt", 4)) {
        *body = p;
        return true;
    }
    if (!memcmp(type, "zTXt", 4)) {
        *compressed = 1;
        *body = p + 1;
        return p < len && d[p] == 0;
    }
    *latin1 = 0;
    if (len - p < 2 || d[p] > 1 || d[p + 1] != 0)
        return false;
    *compressed = d[p];
    *lang = p + 2;
    const uint8_t *lnul = memchr(d + *lang, 0, len - *lang);
    if (!lnul)
        return false;
    *trans = (size_t)(lnul - d) + 1;
    const uint8_t *tnul = memchr(d + *trans, 0, len - *trans);
    if (!tnul)
        return false;
    *body = (size_t)(tnul - d) + 1;
    return true;
}

/* A zlib stream that inflates whole, to at most KEEP_MAX_INFLATE bytes. */
static bool zlib_whole(const uint8_t *data, size_t size)
{
    uint8_t scratch[16384];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        return false;
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    int zr;
    do {
        zs.next_out = scratch;
        zs.avail_out = sizeof scratch;
        zr = inflate(&zs, Z_NO_FLUSH);
    } while (zr == Z_OK && zs.total_out <= KEEP_MAX_INFLATE && zs.avail_out == 0);
    bool ok = zr == Z_STREAM_END && zs.total_out <= KEEP_MAX_INFLATE;
    inflateEnd(&zs);
    return ok;
}

/* Whether the chunk's text is `s` (n bytes of UTF-8), its Latin-1 read as
 * UTF-8 or its bytes as they are (a host may hand Latin-1 on unchanged). */
static bool chunk_text_is(const uint8_t *type, const uint8_t *d, size_t len, const char *s,
                          size_t n)
{
    size_t body, lang, trans;
    int compressed, latin1;
    if (!text_layout(type, d, len, &body, &compressed, &latin1, &lang, &trans))
        return false;
    const uint8_t *src = d + body;
    size_t sn = len - body;
    char *raw = NULL;
    if (compressed) {
        size_t got;
        if (rf_inflate_capped(src, sn, n + 1, &raw, &got) != RF_INFLATE_OK)
            return false;
        src = (const uint8_t *)raw;
        sn = got;
    }
    bool eq = sn == n && !memcmp(src, s, n);
    if (!eq && sn <= n && (latin1 || rf_utf8_valid_prefix(src, sn) != sn)) {
        size_t un;
        char *u = rf_latin1_to_utf8(src, sn, &un);
        eq = u && un == n && !memcmp(u, s, n);
        free(u);
    }
    free(raw);
    return eq;
}

static bool is_text_type(const uint8_t *type)
{
    return !memcmp(type, "tEXt", 4) || !memcmp(type, "zTXt", 4) || !memcmp(type, "iTXt", 4);
}

static bool is_xmp_chunk(const uint8_t *type, const uint8_t *d, size_t len)
{
    size_t n = sizeof XMP_KEYWORD;
    return !memcmp(type, "iTXt", 4) && len >= n && !memcmp(d, XMP_KEYWORD, n);
}

static void src_texts_free(src_text *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].keyword);
    free(list);
}

/* ImageMagick's (and exiftool's) "Raw profile type NAME" text: a profile
 * (Exif, ICC, IPTC, a .raiiaf's manifest and latents) that the host
 * carries its own way, not a text. */
static bool is_raw_profile(const uint8_t *d, size_t len)
{
    static const char prefix[] = "Raw profile type ";
    return len >= sizeof prefix - 1 && !memcmp(d, prefix, sizeof prefix - 1);
}

/* The file's text chunks that a PNG reader takes (CRC right, keyword and
 * fields whole, zlib data that inflates), XMP and raw profiles aside. */
static int source_texts(const uint8_t *src, size_t size, src_text **out, size_t *count,
                        rf_msg *msg)
{
    src_text *list = NULL;
    size_t n = 0, pos = 8;
    *out = NULL;
    *count = 0;
    while (pos + 12 <= size) {
        uint32_t len = get_be32(src + pos);
        const uint8_t *type = src + pos + 4, *d = src + pos + 8;
        if (len > size - pos - 12 || !memcmp(type, "IEND", 4))
            break;
        size_t body, lang, trans;
        int compressed, latin1;
        if (is_text_type(type) && !is_xmp_chunk(type, d, len) && !is_raw_profile(d, len) &&
            (uint32_t)crc32(0, type, len + 4) == get_be32(d + len) &&
            text_layout(type, d, len, &body, &compressed, &latin1, &lang, &trans) &&
            (!compressed || zlib_whole(d + body, len - body))) {
            if (n == KEEP_MAX_CHUNKS) {
                src_texts_free(list, n);
                return rf_fail(msg, RAIIAF_ELIMIT, "the PNG holds more than %d text chunks",
                               KEEP_MAX_CHUNKS);
            }
            src_text *grown = realloc(list, (n + 1) * sizeof *list);
            if (!grown) {
                src_texts_free(list, n);
                return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
            }
            list = grown;
            src_text *t = &list[n];
            memset(t, 0, sizeof *t);
            t->pos = pos;
            t->len = len;
            t->keyword = rf_latin1_to_utf8(d, strlen((const char *)d), NULL);
            if (!t->keyword) {
                src_texts_free(list, n);
                return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
            }
            t->first = n;
            for (size_t i = 0; i < n; i++)
                if (list[i].first == i && keyword_eq(list[i].keyword, t->keyword)) {
                    t->first = i;
                    break;
                }
            n++;
        }
        pos += 12 + (size_t)len;
    }
    *out = list;
    *count = n;
    return RAIIAF_OK;
}

/* The chunks that go out, in the file's order: see
 * raiiaf_writer_keep_png_texts() in raiiaf.h for the rule. */
static int kept_chunks(const uint8_t *src, src_text *list, size_t n, const raiiaf_png_text *now,
                       size_t now_count, const raiiaf_png_text *read, size_t read_count,
                       rf_buf *b, rf_msg *msg)
{
    int err = RAIIAF_OK;
    for (size_t i = 0; !err && i < n; i++) {
        src_text *t = &list[i];
        const uint8_t *type = src + t->pos + 4, *d = src + t->pos + 8;
        if (t->first != i) { /* a later chunk of a keyword: as the first went */
            if (list[t->first].decision == KEEP_VERBATIM)
                err = rf_buf_append(b, src + t->pos, t->len + 12)
                          ? rf_fail(msg, RAIIAF_ENOMEM, "out of memory") : RAIIAF_OK;
            continue;
        }
        const raiiaf_png_text *cur = host_text(now, now_count, t->keyword);
        const raiiaf_png_text *was = host_text(read, read_count, t->keyword);
        if (!cur)
            t->decision = was ? KEEP_DROPPED : KEEP_VERBATIM;
        else if (same_text(cur, was) || chunk_text_is(type, d, t->len, cur->text, cur->size))
            t->decision = KEEP_VERBATIM;
        else
            t->decision = KEEP_REPLACED;
        if (t->decision == KEEP_VERBATIM) {
            if (rf_buf_append(b, src + t->pos, t->len + 12))
                err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        } else if (t->decision == KEEP_REPLACED) {
            /* the user's text in the chunk (keyword, kind) it replaces */
            size_t body, lang, trans;
            int compressed, latin1;
            (void)text_layout(type, d, t->len, &body, &compressed, &latin1, &lang, &trans);
            char *language = latin1 ? NULL : rf_strndup((const char *)d + lang, trans - lang - 1);
            char *translated = latin1 ? NULL : rf_strndup((const char *)d + trans,
                                                          body - trans - 1);
            if (!latin1 && (!language || !translated)) {
                err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
            } else {
                raiiaf_png_text x = *cur;
                x.keyword = t->keyword;
                x.compressed = compressed;
                x.international = !latin1;
                x.language = language ? language : "";
                x.translated_keyword = translated ? translated : "";
                err = text_chunk(b, &x, msg);
            }
            free(language);
            free(translated);
        }
    }
    /* The host's texts under keywords the file has none of. */
    for (size_t k = 0; !err && k < now_count; k++) {
        const raiiaf_png_text *cur = &now[k];
        if (!cur->keyword || !cur->text || !strcmp(cur->keyword, XMP_KEYWORD) ||
            (read && same_text(cur, host_text(read, read_count, cur->keyword))))
            continue;
        bool in_file = false;
        for (size_t i = 0; i < n && !in_file; i++)
            in_file = keyword_eq(list[i].keyword, cur->keyword);
        if (!in_file && host_text(now, now_count, cur->keyword) == cur)
            err = text_chunk(b, cur, msg);
    }
    return err;
}

int rf_png_keep_texts(const uint8_t *img, size_t img_size, const uint8_t *src, size_t src_size,
                      const raiiaf_png_text *now, size_t now_count, const raiiaf_png_text *read,
                      size_t read_count, uint8_t **out, size_t *out_size, rf_msg *msg)
{
    src_text *list;
    size_t n;
    int err = source_texts(src, src_size, &list, &n, msg);
    if (err)
        return err;
    rf_buf texts = {0}, png = {0};
    err = kept_chunks(src, list, n, now, now_count, read, read_count, &texts, msg);
    src_texts_free(list, n);
    /* The image's own text chunks give way (XMP stays); the kept ones go
     * before its first IDAT, as raiiaf_encode_png puts them. */
    size_t pos = 8;
    bool placed = false;
    if (!err && rf_buf_append(&png, img, 8))
        err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    while (!err && pos + 12 <= img_size) {
        uint32_t len = get_be32(img + pos);
        const uint8_t *type = img + pos + 4;
        if (len > img_size - pos - 12)
            break;
        if (!placed && (!memcmp(type, "IDAT", 4) || !memcmp(type, "IEND", 4))) {
            placed = true;
            if (texts.size && rf_buf_append(&png, texts.data, texts.size))
                err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        }
        if (!err && !(is_text_type(type) && !is_xmp_chunk(type, img + pos + 8, len)) &&
            rf_buf_append(&png, img + pos, (size_t)len + 12))
            err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        pos += 12 + (size_t)len;
    }
    rf_buf_free(&texts);
    if (!err && !placed)
        err = rf_fail(msg, RAIIAF_EPNG, "the image has no image data");
    if (err) {
        rf_buf_free(&png);
        return err;
    }
    *out = png.data;
    *out_size = png.size;
    return RAIIAF_OK;
}

int raiiaf_png_texts_only(const void *png, size_t size, void **out, size_t *out_size)
{
    if (!png || !out || !out_size)
        return RAIIAF_EINVAL;
    *out = NULL;
    *out_size = 0;
    if (!rf_is_png(png, size))
        return RAIIAF_ENOTPNG;
    /* one grey pixel: a filter byte and a sample, deflated */
    static const uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    uint8_t idat[32];
    uLong idat_size = sizeof idat;
    if (compress2(idat, &idat_size, (const Bytef *)"\0\0", 2, 9) != Z_OK)
        return RAIIAF_ENOMEM;
    const uint8_t *src = png;
    rf_msg msg = {{0}};
    rf_buf b = {0};
    int err = rf_buf_append(&b, src, 8) ? RAIIAF_ENOMEM : RAIIAF_OK;
    if (!err)
        err = append_chunk(&b, "IHDR", ihdr, sizeof ihdr, NULL, 0, &msg);
    size_t pos = 8;
    while (!err && pos + 12 <= size) {
        uint32_t len = get_be32(src + pos);
        if (len > size - pos - 12 || !memcmp(src + pos + 4, "IEND", 4))
            break;
        if (is_text_type(src + pos + 4) && rf_buf_append(&b, src + pos, (size_t)len + 12))
            err = RAIIAF_ENOMEM;
        pos += 12 + (size_t)len;
    }
    if (!err)
        err = append_chunk(&b, "IDAT", idat, idat_size, NULL, 0, &msg);
    if (!err)
        err = append_chunk(&b, "IEND", "", 0, NULL, 0, &msg);
    if (err) {
        rf_buf_free(&b);
        return err;
    }
    *out = b.data;
    *out_size = b.size;
    return RAIIAF_OK;
}
