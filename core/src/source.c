#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/* Input is read in pieces of this size when it comes from a file, so a
 * large image chunk never needs a second copy of its compressed bytes. */
#define RF_READ_PIECE (256u * 1024u)
/* A chunk up to this size is read whole and decompressed in one call:
 * zstd's streaming decoder keeps a window buffer of up to the frame's size
 * besides the output, which costs more than the compressed bytes do. */
#define RF_ONE_SHOT_MAX (4u * 1024u * 1024u)

int rf_source_read(const rf_source *src, uint64_t off, void *buf, size_t len, rf_msg *msg,
                   const char *what)
{
    if (off > src->size || len > src->size - off)
        return rf_fail(msg, RAIIAF_ETRUNCATED, "%s: needs bytes %llu..%llu, the file has %llu",
                       what, (unsigned long long)off, (unsigned long long)(off + len),
                       (unsigned long long)src->size);
    if (src->mem) {
        memcpy(buf, src->mem + off, len);
        return RAIIAF_OK;
    }
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(src->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rf_fail(msg, RAIIAF_EIO, "%s: read error: %s", what, strerror(errno));
        if (n == 0)
            return rf_fail(msg, RAIIAF_ETRUNCATED, "%s: the file ended early (changed while read?)",
                           what);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return RAIIAF_OK;
}

/* The content size the frame header at [off, off+len) records. */
static int frame_content_size(const rf_source *src, uint64_t off, uint64_t len, uint64_t *size,
                              rf_msg *msg, const char *what)
{
    uint8_t head[18]; /* ZSTD_FRAMEHEADERSIZE_MAX, not in the stable API */
    size_t n = len < sizeof head ? (size_t)len : sizeof head;
    int err = rf_source_read(src, off, head, n, msg, what);
    if (err)
        return err;
    unsigned long long cs = ZSTD_getFrameContentSize(head, n);
    if (cs == ZSTD_CONTENTSIZE_ERROR)
        return rf_fail(msg, RAIIAF_EZSTD, "%s: not a zstd frame", what);
    if (cs == ZSTD_CONTENTSIZE_UNKNOWN)
        return rf_fail(msg, RAIIAF_EZSTD,
                       "%s: zstd frame does not record its content size (the reference cannot "
                       "read it either)",
                       what);
    *size = cs;
    return RAIIAF_OK;
}

/* sha256 of a buffer as it fills, on its own thread: the bytes [0, ready)
 * of base are final; closed says no more will come. */
typedef struct hash_feed {
    pthread_mutex_t lock;
    pthread_cond_t more;
    const uint8_t *base;
    size_t ready;
    bool closed;
    uint8_t digest[32];
} hash_feed;

static void *hash_run(void *arg)
{
    hash_feed *h = arg;
    rf_sha256_ctx c;
    rf_sha256_begin(&c);
    size_t done = 0;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        while (h->ready == done && !h->closed)
            pthread_cond_wait(&h->more, &h->lock);
        size_t ready = h->ready;
        bool closed = h->closed;
        pthread_mutex_unlock(&h->lock);
        if (ready > done) {
            rf_sha256_update(&c, h->base + done, ready - done);
            done = ready;
        } else if (closed) {
            break;
        }
    }
    rf_sha256_end(&c, h->digest);
    return NULL;
}

static void feed_publish(hash_feed *h, size_t ready, bool closed)
{
    pthread_mutex_lock(&h->lock);
    if (ready > h->ready)
        h->ready = ready;
    h->closed = closed;
    pthread_cond_signal(&h->more);
    pthread_mutex_unlock(&h->lock);
}

/* With feed, each piece of output is handed to it as it is decoded; the
 * output up to `skip` (the inner header) is not. */
static int decompress(const rf_source *src, uint64_t off, uint64_t len, uint8_t *out,
                      uint64_t expect, rf_msg *msg, const char *what, hash_feed *feed,
                      size_t skip)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
    int err = RAIIAF_OK;
    if (src->mem) {
        const uint8_t *in = src->mem + off;
        size_t frame = ZSTD_findFrameCompressedSize(in, (size_t)len);
        if (ZSTD_isError(frame) || frame != len) {
            err = rf_fail(msg, RAIIAF_EZSTD, "%s: the record's size is not one zstd frame", what);
        } else {
            size_t r = ZSTD_decompressDCtx(dctx, out, (size_t)expect, in, (size_t)len);
            if (ZSTD_isError(r))
                err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd: %s", what, ZSTD_getErrorName(r));
            else if (r != expect)
                err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame gave %zu bytes, expected %llu",
                              what, r, (unsigned long long)expect);
        }
        ZSTD_freeDCtx(dctx);
        return err;
    }

    if (len <= RF_ONE_SHOT_MAX) {
        uint8_t *whole = rf_malloc_large((size_t)len);
        if (!whole) {
            ZSTD_freeDCtx(dctx);
            return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
        }
        err = rf_source_read(src, off, whole, (size_t)len, msg, what);
        ZSTD_freeDCtx(dctx);
        if (!err) {
            rf_source mem = {whole, -1, len};
            err = decompress(&mem, 0, len, out, expect, msg, what, NULL, 0);
        }
        free(whole);
        return err;
    }

    uint8_t *piece = malloc(RF_READ_PIECE);
    if (!piece) {
        ZSTD_freeDCtx(dctx);
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
    }
    ZSTD_outBuffer ob = {out, (size_t)expect, 0};
    uint64_t done = 0;
    size_t r = 1;
    while (done < len && !err) {
        size_t n = len - done < RF_READ_PIECE ? (size_t)(len - done) : RF_READ_PIECE;
        err = rf_source_read(src, off + done, piece, n, msg, what);
        if (err)
            break;
        done += n;
        ZSTD_inBuffer ib = {piece, n, 0};
        while (ib.pos < ib.size) {
            if (r == 0) {
                err = rf_fail(msg, RAIIAF_EZSTD, "%s: data after the end of the zstd frame", what);
                break;
            }
            size_t before_in = ib.pos, before_out = ob.pos;
            r = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(r)) {
                err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd: %s", what, ZSTD_getErrorName(r));
                break;
            }
            if (feed && ob.pos > skip)
                feed_publish(feed, ob.pos - skip, false);
            if (ib.pos == before_in && ob.pos == before_out) {
                /* The output is full yet the frame wants to go on. */
                err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame holds more than %llu bytes",
                              what, (unsigned long long)expect);
                break;
            }
        }
    }
    if (!err && r != 0)
        err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame is truncated", what);
    if (!err && ob.pos != expect)
        err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame gave %zu bytes, expected %llu", what,
                      ob.pos, (unsigned long long)expect);
    free(piece);
    ZSTD_freeDCtx(dctx);
    return err;
}

int rf_unzstd_exact(const rf_source *src, uint64_t off, uint64_t len, uint8_t *out,
                    uint64_t expect, rf_msg *msg, const char *what)
{
    uint64_t cs;
    int err = frame_content_size(src, off, len, &cs, msg, what);
    if (err)
        return err;
    if (cs != expect)
        return rf_fail(msg, RAIIAF_EZSTD,
                       "%s: zstd frame says %llu bytes, the record says %llu", what,
                       (unsigned long long)cs, (unsigned long long)expect);
    return decompress(src, off, len, out, expect, msg, what, NULL, 0);
}

int rf_unzstd_exact_hashed(const rf_source *src, uint64_t off, uint64_t len, uint8_t *out,
                           uint64_t expect, size_t skip, bool alongside, uint8_t digest[32],
                           rf_msg *msg, const char *what)
{
    if (skip > expect)
        return rf_fail(msg, RAIIAF_EINVAL, "%s: nothing to hash", what);
    /* Decoded in pieces only from a file and past the one-shot size: the
     * rest is hashed after. */
    hash_feed feed = {.base = out + skip};
    pthread_t hasher;
    bool threaded = alongside && !src->mem && len > RF_ONE_SHOT_MAX &&
                    expect - skip >= RF_HASH_ALONGSIDE_MIN &&
                    pthread_mutex_init(&feed.lock, NULL) == 0;
    if (threaded && pthread_cond_init(&feed.more, NULL) != 0) {
        pthread_mutex_destroy(&feed.lock);
        threaded = false;
    }
    if (threaded && pthread_create(&hasher, NULL, hash_run, &feed) != 0) {
        pthread_cond_destroy(&feed.more);
        pthread_mutex_destroy(&feed.lock);
        threaded = false;
    }
    uint64_t cs;
    int err = frame_content_size(src, off, len, &cs, msg, what);
    if (!err && cs != expect)
        err = rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame says %llu bytes, the record says %llu",
                      what, (unsigned long long)cs, (unsigned long long)expect);
    if (!err)
        err = decompress(src, off, len, out, expect, msg, what, threaded ? &feed : NULL, skip);
    if (threaded) {
        /* On failure the hasher stops where it is; its digest is unused. */
        feed_publish(&feed, err ? 0 : (size_t)(expect - skip), true);
        pthread_join(hasher, NULL);
        pthread_cond_destroy(&feed.more);
        pthread_mutex_destroy(&feed.lock);
        memcpy(digest, feed.digest, 32);
    } else if (!err) {
        rf_sha256(out + skip, (size_t)(expect - skip), digest);
    }
    return err;
}

int rf_unzstd_alloc(const rf_source *src, uint64_t off, uint64_t len, uint64_t max_size,
                    uint8_t **out, uint64_t *got, rf_msg *msg, const char *what)
{
    uint64_t cs;
    int err = frame_content_size(src, off, len, &cs, msg, what);
    if (err)
        return err;
    if (cs > max_size)
        return rf_fail(msg, RAIIAF_ELIMIT, "%s: zstd frame says %llu bytes, the limit is %llu",
                       what, (unsigned long long)cs, (unsigned long long)max_size);
    uint8_t *buf = malloc(cs + 1); /* +1: room for a NUL after JSON */
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory for %llu bytes", what,
                       (unsigned long long)cs);
    err = decompress(src, off, len, buf, cs, msg, what, NULL, 0);
    if (err) {
        free(buf);
        return err;
    }
    buf[cs] = 0;
    *out = buf;
    *got = cs;
    return RAIIAF_OK;
}

/* ---- a chunk read as a stream ------------------------------------------- */

int rf_stream_open(rf_stream *s, const rf_source *src, uint64_t off, uint64_t len, bool compressed,
                   uint64_t expect, rf_msg *msg, const char *what)
{
    memset(s, 0, sizeof *s);
    s->src = src;
    s->off = off;
    s->len = len;
    s->expect = expect;
    s->msg = msg;
    snprintf(s->what, sizeof s->what, "%s", what);
    if (!compressed) {
        if (len != expect)
            return rf_fail(msg, RAIIAF_ERECORD, "%s: %llu bytes stored for %llu", what,
                           (unsigned long long)len, (unsigned long long)expect);
        return RAIIAF_OK;
    }
    uint64_t cs;
    int err = frame_content_size(src, off, len, &cs, msg, what);
    if (err)
        return err;
    if (cs != expect)
        return rf_fail(msg, RAIIAF_EZSTD, "%s: zstd frame says %llu bytes, the record says %llu",
                       what, (unsigned long long)cs, (unsigned long long)expect);
    s->dctx = ZSTD_createDCtx();
    s->in = malloc(RF_READ_PIECE);
    if (!s->dctx || !s->in) {
        rf_stream_close(s);
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
    }
    /* The window is the memory a stream costs: the reference's and our
     * writers use 2 MiB; refuse frames that would want more than 32 MiB. */
    ZSTD_DCtx_setParameter(s->dctx, ZSTD_d_windowLogMax, RF_STREAM_WINDOW_LOG_MAX);
    s->ib = (ZSTD_inBuffer){s->in, 0, 0};
    return RAIIAF_OK;
}

/* The next piece of the stored bytes. */
static int refill(rf_stream *s)
{
    size_t k = s->len - s->in_done < RF_READ_PIECE ? (size_t)(s->len - s->in_done) : RF_READ_PIECE;
    int err = rf_source_read(s->src, s->off + s->in_done, s->in, k, s->msg, s->what);
    if (err)
        return err;
    s->in_done += k;
    s->ib = (ZSTD_inBuffer){s->in, k, 0};
    return RAIIAF_OK;
}

int rf_stream_read(rf_stream *s, void *buf, size_t n)
{
    if (n > s->expect - s->produced)
        return rf_fail(s->msg, RAIIAF_ETRUNCATED, "%s: ends after %llu bytes", s->what,
                       (unsigned long long)s->expect);
    if (!s->dctx) {
        int err = rf_source_read(s->src, s->off + s->produced, buf, n, s->msg, s->what);
        if (!err)
            s->produced += n;
        return err;
    }
    ZSTD_outBuffer ob = {buf, n, 0};
    while (ob.pos < n) {
        if (s->ib.pos == s->ib.size) {
            if (s->in_done == s->len)
                return rf_fail(s->msg, RAIIAF_EZSTD, "%s: zstd frame is truncated", s->what);
            int err = refill(s);
            if (err)
                return err;
        }
        size_t r = ZSTD_decompressStream(s->dctx, &ob, &s->ib);
        if (ZSTD_isError(r))
            return rf_fail(s->msg, RAIIAF_EZSTD, "%s: zstd: %s", s->what, ZSTD_getErrorName(r));
        if (r == 0 && ob.pos < n)
            return rf_fail(s->msg, RAIIAF_EZSTD, "%s: zstd frame ends early", s->what);
    }
    s->produced += n;
    if (s->produced == s->expect && (s->ib.pos < s->ib.size || s->in_done < s->len)) {
        /* All the content is out: only the frame's end may remain. */
        uint8_t extra;
        ZSTD_outBuffer none = {&extra, 1, 0};
        for (;;) {
            if (s->ib.pos == s->ib.size) {
                if (s->in_done == s->len)
                    break;
                int err = refill(s);
                if (err)
                    return err;
            }
            size_t r = ZSTD_decompressStream(s->dctx, &none, &s->ib);
            if (ZSTD_isError(r) || none.pos)
                return rf_fail(s->msg, RAIIAF_EZSTD, "%s: zstd frame holds more than %llu bytes",
                               s->what, (unsigned long long)s->expect);
            if (r == 0 && (s->ib.pos < s->ib.size || s->in_done < s->len))
                return rf_fail(s->msg, RAIIAF_EZSTD, "%s: data after the end of the zstd frame",
                               s->what);
            if (r == 0)
                break;
        }
    }
    return RAIIAF_OK;
}

void rf_stream_close(rf_stream *s)
{
    ZSTD_freeDCtx(s->dctx);
    free(s->in);
    s->dctx = NULL;
    s->in = NULL;
}
