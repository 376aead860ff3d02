/* Input that arrives in pieces (raiiaf_stream): a pipe, stdin, a host's
 * incremental loader. The bytes are buffered until the header's file size
 * is reached, then opened from memory. The magic is checked with the first
 * six bytes and the header with the first 33, so a stream that is not a
 * .raiiaf file, or claims more than the limits, is refused before more
 * than a header's worth is kept; the buffer grows with what arrives, never
 * with what the header claims.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct raiiaf_stream {
    raiiaf_limits limits;
    rf_msg msg;
    rf_buf buf;
    uint64_t file_size; /* from the header, 0 until it is in */
    int err;            /* the first error; every later call returns it */
};

raiiaf_stream *raiiaf_stream_new(void)
{
    raiiaf_stream *s = calloc(1, sizeof *s);
    if (s)
        raiiaf_limits_default(&s->limits);
    return s;
}

void raiiaf_stream_free(raiiaf_stream *s)
{
    if (!s)
        return;
    rf_buf_free(&s->buf);
    free(s);
}

const char *raiiaf_stream_message(const raiiaf_stream *s)
{
    return s ? s->msg.text : "";
}

int raiiaf_stream_set_limits(raiiaf_stream *s, const raiiaf_limits *limits)
{
    if (!s)
        return RAIIAF_EINVAL;
    if (!limits)
        return RF_BAD_ARGS(&s->msg);
    if (s->buf.size)
        return rf_fail(&s->msg, RAIIAF_EBADSTATE, "limits are set before the first bytes");
    s->limits = *limits;
    return RAIIAF_OK;
}

uint64_t raiiaf_stream_wanted(const raiiaf_stream *s)
{
    if (!s || s->err)
        return 0;
    if (!s->file_size)
        return RF_HEADER_SIZE - s->buf.size;
    return s->file_size - s->buf.size;
}

int raiiaf_stream_file_size(const raiiaf_stream *s, uint64_t *size)
{
    if (!s || !size)
        return RAIIAF_EINVAL;
    *size = s->file_size;
    return s->file_size ? RAIIAF_OK : RAIIAF_EBADSTATE;
}

/* What the first bytes can already refuse: the magic, then the header's
 * version and sizes (the reader checks the rest when the file is opened). */
static int check_start(raiiaf_stream *s)
{
    const uint8_t *b = s->buf.data;
    size_t n = s->buf.size < RAIIAF_MAGIC_SIZE ? s->buf.size : RAIIAF_MAGIC_SIZE;
    if (memcmp(b, RAIIAF_MAGIC, n) != 0)
        return rf_fail(&s->msg, RAIIAF_EMAGIC,
                       "not a .raiiaf file: it does not start with \"raiiaf\"");
    if (s->buf.size < RF_HEADER_SIZE || s->file_size)
        return RAIIAF_OK;
    uint64_t size = rf_get_le64(b + 21);
    uint32_t table_offset = rf_get_le32(b + 9), table_size = rf_get_le32(b + 13);
    if (b[6] != 1)
        return rf_fail(&s->msg, RAIIAF_EVERSION, "format version %u.%u (this reader knows 1.x)",
                       b[6], b[7]);
    if (size > s->limits.max_file_size)
        return rf_fail(&s->msg, RAIIAF_ELIMIT,
                       "the header says %llu bytes, the limit is %llu",
                       (unsigned long long)size,
                       (unsigned long long)s->limits.max_file_size);
    if (size > SIZE_MAX)
        return rf_fail(&s->msg, RAIIAF_ELIMIT,
                       "the header says %llu bytes, more than this machine can address",
                       (unsigned long long)size);
    if (size < RF_HEADER_SIZE || table_offset < RF_HEADER_SIZE || table_size == 0 ||
        (uint64_t)table_offset + table_size > size)
        return rf_fail(&s->msg, RAIIAF_EHEADER,
                       "the header says %llu bytes with the META chunk at %u+%u",
                       (unsigned long long)size, table_offset, table_size);
    s->file_size = size;
    return RAIIAF_OK;
}

int raiiaf_stream_push(raiiaf_stream *s, const void *data, size_t size)
{
    if (!s)
        return RAIIAF_EINVAL;
    if (!data && size)
        return RF_BAD_ARGS(&s->msg);
    if (s->err)
        return s->err;
    const uint8_t *p = data;
    while (size && !s->err) {
        uint64_t want = raiiaf_stream_wanted(s);
        if (want == 0) {
            s->err = rf_fail(&s->msg, RAIIAF_EHEADER,
                             "the data goes on after the %llu bytes the header says",
                             (unsigned long long)s->file_size);
            break;
        }
        size_t n = size < want ? size : (size_t)want;
        /* Grow by doubling, but never past the file size. */
        if (s->buf.size + n > s->buf.cap && s->file_size) {
            size_t cap = s->buf.cap ? s->buf.cap : 65536;
            while (cap < s->buf.size + n)
                cap *= 2;
            if (cap > s->file_size)
                cap = (size_t)s->file_size;
            uint8_t *bigger = realloc(s->buf.data, cap);
            if (!bigger) {
                s->err = rf_fail(&s->msg, RAIIAF_ENOMEM, "out of memory for %zu bytes", cap);
                break;
            }
            s->buf.data = bigger;
            s->buf.cap = cap;
        }
        if (rf_buf_append(&s->buf, p, n) != RAIIAF_OK) {
            s->err = rf_fail(&s->msg, RAIIAF_ENOMEM, "out of memory");
            break;
        }
        p += n;
        size -= n;
        s->err = check_start(s);
    }
    return s->err;
}

int raiiaf_stream_get_data(const raiiaf_stream *s, const void **data, size_t *size)
{
    if (!s || !data || !size)
        return RAIIAF_EINVAL;
    *data = s->buf.data;
    *size = s->buf.size;
    return RAIIAF_OK;
}

int raiiaf_stream_open(raiiaf_stream *s, raiiaf_ctx *ctx)
{
    if (!s)
        return RAIIAF_EINVAL;
    if (!ctx)
        return RF_BAD_ARGS(&s->msg);
    if (s->err)
        return s->err;
    if (!s->file_size)
        return rf_fail(&s->msg, s->buf.size ? RAIIAF_ETRUNCATED : RAIIAF_EMAGIC,
                       "the input ended after %zu bytes, before the end of the 33-byte header",
                       s->buf.size);
    if (s->buf.size != s->file_size)
        return rf_fail(&s->msg, RAIIAF_ETRUNCATED,
                       "the input ended after %zu bytes, the header says %llu", s->buf.size,
                       (unsigned long long)s->file_size);
    return raiiaf_open_memory(ctx, s->buf.data, s->buf.size);
}
