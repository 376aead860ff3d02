/* NumPy .npy reading and writing for the raiiaf tool: see npy.h.
 *
 * SPDX-License-Identifier: MIT
 *
 * The layout (numpy.lib.format): the magic "\x93NUMPY", a major and a minor
 * version byte, the header length (uint16 LE in version 1, uint32 LE in 2
 * and 3), then the header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 64, 64), }
 * padded with spaces and a final newline, then the raw array bytes.
 */
#include "npy.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Room for the longest descr or key we accept, and some more so that the
 * error message can quote what was found. */
#define NPY_MAX_TOKEN 64

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* "float32 ('<f4') or float16 ('<f2')": the dtypes the library knows. */
static void describe_dtypes(char *out, size_t out_size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int d = 0; raiiaf_dtype_name(d) && n < out_size; d++) {
        int w = snprintf(out + n, out_size - n, "%s%s ('%s')",
                         d == 0 ? "" : raiiaf_dtype_name(d + 1) ? ", " : " or ",
                         raiiaf_dtype_name(d), raiiaf_dtype_npy_descr(d));
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* The dtype whose descr, without its byte order, is `type` ("f4"), or -1. */
static int dtype_of_type(const char *type)
{
    for (int d = 0; raiiaf_dtype_name(d); d++)
        if (strcmp(raiiaf_dtype_npy_descr(d) + 1, type) == 0)
            return d;
    return -1;
}

static bool host_is_little_endian(void)
{
    const uint16_t probe = 1;
    uint8_t first;
    memcpy(&first, &probe, 1);
    return first == 1;
}

static void swap_elements(void *data, size_t size, size_t elem)
{
    uint8_t *p = data;
    for (size_t i = 0; i + elem <= size; i += elem) {
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
    }
}

/* ---- The header dict ---------------------------------------------------- */

typedef struct header_parser {
    const char *p, *end;
    char *err;
    size_t err_size;
} header_parser;

static void skip_space(header_parser *hp)
{
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r'))
        hp->p++;
}

static bool accept_char(header_parser *hp, char c)
{
    skip_space(hp);
    if (hp->p < hp->end && *hp->p == c) {
        hp->p++;
        return true;
    }
    return false;
}

static int expect_char(header_parser *hp, char c, const char *where)
{
    if (accept_char(hp, c))
        return 0;
    if (hp->p >= hp->end)
        set_error(hp->err, hp->err_size, "bad header: it ends where '%c' was expected %s", c, where);
    else if ((unsigned char)*hp->p >= 0x20 && (unsigned char)*hp->p < 0x7f)
        set_error(hp->err, hp->err_size, "bad header: '%c' found where '%c' was expected %s",
                  *hp->p, c, where);
    else
        set_error(hp->err, hp->err_size, "bad header: byte 0x%02x found where '%c' was expected %s",
                  (unsigned char)*hp->p, c, where);
    return -1;
}

/* A quoted Python string without escapes (NumPy never writes any in the
 * strings we accept). */
static int parse_string(header_parser *hp, char *out, size_t out_size, const char *what)
{
    skip_space(hp);
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"')) {
        set_error(hp->err, hp->err_size, "bad header: a quoted string was expected for %s", what);
        return -1;
    }
    char quote = *hp->p++;
    size_t n = 0;
    while (hp->p < hp->end && *hp->p != quote) {
        unsigned char c = (unsigned char)*hp->p;
        if (c == '\\' || c < 0x20 || c >= 0x7f) {
            set_error(hp->err, hp->err_size, "bad header: unexpected character in %s", what);
            return -1;
        }
        if (n + 1 >= out_size) {
            set_error(hp->err, hp->err_size, "bad header: %s is too long", what);
            return -1;
        }
        out[n++] = (char)c;
        hp->p++;
    }
    if (hp->p >= hp->end) {
        set_error(hp->err, hp->err_size, "bad header: unterminated string in %s", what);
        return -1;
    }
    hp->p++;
    out[n] = '\0';
    return 0;
}

static int parse_bool(header_parser *hp, bool *value)
{
    skip_space(hp);
    size_t left = (size_t)(hp->end - hp->p);
    if (left >= 4 && memcmp(hp->p, "True", 4) == 0) {
        hp->p += 4;
        *value = true;
        return 0;
    }
    if (left >= 5 && memcmp(hp->p, "False", 5) == 0) {
        hp->p += 5;
        *value = false;
        return 0;
    }
    set_error(hp->err, hp->err_size, "bad header: 'fortran_order' must be True or False");
    return -1;
}

/* A shape tuple: "()", "(5,)", "(1, 4, 64, 64)"; Python 2 NumPy wrote
 * "(1L, 4L)", which is accepted too. */
static int parse_shape(header_parser *hp, npy_array *array)
{
    if (expect_char(hp, '(', "to open 'shape'") != 0)
        return -1;
    array->ndim = 0;
    for (;;) {
        if (accept_char(hp, ')'))
            return 0;
        skip_space(hp);
        if (hp->p >= hp->end || *hp->p < '0' || *hp->p > '9') {
            set_error(hp->err, hp->err_size,
                      "bad header: 'shape' must be a tuple of non-negative integers");
            return -1;
        }
        uint64_t dim = 0;
        while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
            unsigned digit = (unsigned)(*hp->p - '0');
            if (dim > (UINT64_MAX - digit) / 10) {
                set_error(hp->err, hp->err_size, "bad header: a dimension of 'shape' overflows");
                return -1;
            }
            dim = dim * 10 + digit;
            hp->p++;
        }
        if (hp->p < hp->end && *hp->p == 'L')
            hp->p++;
        if (array->ndim >= RAIIAF_MAX_DIMS) {
            set_error(hp->err, hp->err_size, "'shape' has more than %d dimensions", RAIIAF_MAX_DIMS);
            return -1;
        }
        array->shape[array->ndim++] = dim;
        if (accept_char(hp, ','))
            continue;
        if (expect_char(hp, ')', "to close 'shape'") != 0)
            return -1;
        return 0;
    }
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

/* Parses the header text into array's dtype/ndim/shape; *need_swap tells
 * whether the data's byte order differs from the host's. */
static int parse_header(const char *text, size_t len, npy_array *array, bool *need_swap,
                        char *err, size_t err_size)
{
    header_parser hp = {text, text + len, err, err_size};
    unsigned seen = 0;
    bool fortran = false;
    char descr[NPY_MAX_TOKEN];

    if (expect_char(&hp, '{', "at the start") != 0)
        return -1;
    while (!accept_char(&hp, '}')) {
        char key[NPY_MAX_TOKEN];
        if (parse_string(&hp, key, sizeof key, "a key") != 0)
            return -1;
        if (expect_char(&hp, ':', "after a key") != 0)
            return -1;
        unsigned bit;
        int rc;
        if (strcmp(key, "descr") == 0) {
            bit = KEY_DESCR;
            skip_space(&hp);
            if (hp.p < hp.end && *hp.p == '[') {
                set_error(err, err_size, "structured arrays are not supported (need float32 or float16)");
                return -1;
            }
            rc = parse_string(&hp, descr, sizeof descr, "'descr'");
        } else if (strcmp(key, "fortran_order") == 0) {
            bit = KEY_FORTRAN;
            rc = parse_bool(&hp, &fortran);
        } else if (strcmp(key, "shape") == 0) {
            bit = KEY_SHAPE;
            rc = parse_shape(&hp, array);
        } else {
            set_error(err, err_size, "bad header: unexpected key '%s'", key);
            return -1;
        }
        if (rc != 0)
            return -1;
        if (seen & bit) {
            set_error(err, err_size, "bad header: key '%s' appears twice", key);
            return -1;
        }
        seen |= bit;
        if (accept_char(&hp, ','))
            continue;
        if (expect_char(&hp, '}', "after a value") != 0)
            return -1;
        break;
    }
    skip_space(&hp);
    if (hp.p != hp.end) {
        set_error(err, err_size, "bad header: unexpected text after the dict");
        return -1;
    }
    if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE)) {
        set_error(err, err_size, "bad header: missing key '%s'",
                  !(seen & KEY_DESCR) ? "descr" : !(seen & KEY_FORTRAN) ? "fortran_order" : "shape");
        return -1;
    }

    /* descr: byte order then kind and size. '<' is little-endian, '>' big;
     * '=' and '|' mean the host's order (NumPy reads '|f4' as native). */
    char order = descr[0];
    const char *type = order ? descr + 1 : descr;
    char known[160];
    describe_dtypes(known, sizeof known);
    array->dtype = dtype_of_type(type);
    if (array->dtype < 0) {
        set_error(err, err_size, "unsupported dtype '%s': latents are %s", descr, known);
        return -1;
    }
    if (order == '>') {
        set_error(err, err_size,
                  "big-endian dtype '%s' is not supported: save the array as little-endian "
                  "(numpy: a.astype('<%s'))", descr, type);
        return -1;
    }
    if (order != '<' && order != '=' && order != '|') {
        set_error(err, err_size, "unsupported dtype '%s': latents are %s", descr, known);
        return -1;
    }
    *need_swap = order == '<' && !host_is_little_endian();

    /* Fortran order only changes the layout when two or more dimensions
     * are longer than 1. */
    if (fortran) {
        unsigned long_dims = 0;
        for (unsigned i = 0; i < array->ndim; i++)
            long_dims += array->shape[i] > 1;
        if (long_dims > 1) {
            set_error(err, err_size, "Fortran-order arrays are not supported: save a C-order array "
                                     "(numpy.ascontiguousarray)");
            return -1;
        }
    }
    return 0;
}

/* The magic, version and header length. *prefix_len is where the header
 * text starts. */
static int parse_prefix(const uint8_t *p, size_t avail, uint32_t *header_len, size_t *prefix_len,
                        char *err, size_t err_size)
{
    if (avail < 10 || memcmp(p, npy_magic, sizeof npy_magic) != 0) {
        set_error(err, err_size, "not a NumPy .npy file (bad magic)");
        return -1;
    }
    unsigned major = p[6], minor = p[7];
    if (major == 1) {
        *header_len = (uint32_t)p[8] | (uint32_t)p[9] << 8;
        *prefix_len = 10;
    } else if (major == 2 || major == 3) {
        if (avail < 12) {
            set_error(err, err_size, "truncated .npy header");
            return -1;
        }
        *header_len = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
        *prefix_len = 12;
    } else {
        set_error(err, err_size, "unsupported .npy format version %u.%u (1.0, 2.0 and 3.0 are read)",
                  major, minor);
        return -1;
    }
    if (*header_len > NPY_MAX_HEADER_SIZE) {
        set_error(err, err_size, "header length %" PRIu32 " exceeds the limit of %d bytes",
                  *header_len, NPY_MAX_HEADER_SIZE);
        return -1;
    }
    return 0;
}

/* Bytes of data the shape needs, checked for overflow. */
static int data_size(const npy_array *array, size_t *bytes, char *err, size_t err_size)
{
    uint64_t count = 1;
    uint64_t elem = raiiaf_dtype_size(array->dtype);
    for (unsigned i = 0; i < array->ndim; i++) {
        if (array->shape[i] != 0 && count > UINT64_MAX / elem / array->shape[i]) {
            set_error(err, err_size, "the shape's element count overflows");
            return -1;
        }
        count *= array->shape[i];
    }
    if (count > SIZE_MAX / elem) {
        set_error(err, err_size, "the array is too large for this machine");
        return -1;
    }
    *bytes = (size_t)(count * elem);
    return 0;
}

static void describe_shape(const npy_array *array, char *out, size_t out_size)
{
    size_t n = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < array->ndim && n < out_size; i++) {
        int w = snprintf(out + n, out_size - n, "%s%" PRIu64, i ? "x" : "", array->shape[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (array->ndim == 0)
        snprintf(out, out_size, "scalar");
}

static int check_data_size(const npy_array *array, size_t need, uint64_t have, char *err,
                           size_t err_size)
{
    if (have == need)
        return 0;
    char shape[RAIIAF_MAX_DIMS * 21 + 8];
    describe_shape(array, shape, sizeof shape);
    if (have < need)
        set_error(err, err_size, "truncated: shape %s needs %zu bytes of data, the file has %" PRIu64,
                  shape, need, have);
    else
        set_error(err, err_size, "%" PRIu64 " unexpected bytes after the %zu bytes of a %s array",
                  have - need, need, shape);
    return -1;
}

void npy_array_free(npy_array *array)
{
    if (!array)
        return;
    free(array->data);
    array->data = NULL;
    array->size = 0;
}

int npy_read_memory(const void *buf, size_t size, npy_array *array, char *err, size_t err_size)
{
    const uint8_t *p = buf;
    uint32_t header_len;
    size_t prefix_len, bytes;
    bool need_swap = false;

    memset(array, 0, sizeof *array);
    if (parse_prefix(p, size, &header_len, &prefix_len, err, err_size) != 0)
        return -1;
    if (size - prefix_len < header_len) {
        set_error(err, err_size, "truncated .npy header");
        return -1;
    }
    if (parse_header((const char *)p + prefix_len, header_len, array, &need_swap, err, err_size) != 0 ||
        data_size(array, &bytes, err, err_size) != 0 ||
        check_data_size(array, bytes, size - prefix_len - header_len, err, err_size) != 0)
        return -1;
    array->data = malloc(bytes ? bytes : 1);
    if (!array->data) {
        set_error(err, err_size, "out of memory");
        return -1;
    }
    memcpy(array->data, p + prefix_len + header_len, bytes);
    array->size = bytes;
    if (need_swap)
        swap_elements(array->data, bytes, raiiaf_dtype_size(array->dtype));
    return 0;
}

/* Reads exactly n bytes unless the file ends; returns the count read or -1. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int npy_read_file(const char *path, npy_array *array, char *err, size_t err_size)
{
    uint8_t prefix[12];
    char *header = NULL;
    uint32_t header_len;
    size_t prefix_len, bytes;
    bool need_swap = false;
    struct stat st;
    int rc = -1;

    memset(array, 0, sizeof *array);
    /* O_NONBLOCK: a FIFO without a writer is refused below instead of
     * waiting in open(); regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        set_error(err, err_size, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        set_error(err, err_size, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(err, err_size, "not a regular file");
        goto out;
    }
    ssize_t got = read_full(fd, prefix, sizeof prefix);
    if (got < 0) {
        set_error(err, err_size, "%s", strerror(errno));
        goto out;
    }
    if (parse_prefix(prefix, (size_t)got, &header_len, &prefix_len, err, err_size) != 0)
        goto out;
    /* The header may start inside the 12 bytes already read. */
    header = malloc(header_len + 1u);
    if (!header) {
        set_error(err, err_size, "out of memory");
        goto out;
    }
    size_t have = (size_t)got - prefix_len;
    if (have > header_len)
        have = header_len;
    memcpy(header, prefix + prefix_len, have);
    got = read_full(fd, header + have, header_len - have);
    if (got < 0) {
        set_error(err, err_size, "%s", strerror(errno));
        goto out;
    }
    if ((size_t)got != header_len - have) {
        set_error(err, err_size, "truncated .npy header");
        goto out;
    }
    if (parse_header(header, header_len, array, &need_swap, err, err_size) != 0 ||
        data_size(array, &bytes, err, err_size) != 0)
        goto out;
    uint64_t data_start = prefix_len + (uint64_t)header_len;
    uint64_t file_size = (uint64_t)st.st_size;
    if (check_data_size(array, bytes, file_size > data_start ? file_size - data_start : 0, err,
                        err_size) != 0)
        goto out;
    if (lseek(fd, (off_t)data_start, SEEK_SET) < 0) {
        set_error(err, err_size, "%s", strerror(errno));
        goto out;
    }
    array->data = malloc(bytes ? bytes : 1);
    if (!array->data) {
        set_error(err, err_size, "out of memory (%zu bytes of data)", bytes);
        goto out;
    }
    got = read_full(fd, array->data, bytes);
    if (got < 0) {
        set_error(err, err_size, "%s", strerror(errno));
        goto out;
    }
    if ((size_t)got != bytes) {
        set_error(err, err_size, "the file shrank while it was read");
        goto out;
    }
    array->size = bytes;
    if (need_swap)
        swap_elements(array->data, bytes, raiiaf_dtype_size(array->dtype));
    rc = 0;
out:
    if (rc != 0)
        npy_array_free(array);
    free(header);
    close(fd);
    return rc;
}

/* ---- Writing ------------------------------------------------------------ */


int npy_write_fd(int fd, int dtype, const uint64_t *shape, unsigned ndim, const void *data,
                 size_t size)
{
    size_t elem = raiiaf_dtype_size(dtype);
    if (elem == 0 || ndim > RAIIAF_MAX_DIMS) {
        errno = EINVAL;
        return -1;
    }
    npy_array meta = {.dtype = dtype, .ndim = ndim};
    if (ndim)
        memcpy(meta.shape, shape, ndim * sizeof *shape);
    size_t bytes;
    if (data_size(&meta, &bytes, NULL, 0) != 0 || bytes != size) {
        errno = EINVAL;
        return -1;
    }

    /* The dict is under 300 bytes even for 8 dimensions of 20 digits, so
     * version 1.0 (16-bit header length) always suffices. */
    char dict[400];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                raiiaf_dtype_npy_descr(dtype));
    for (unsigned i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%" PRIu64, i ? ", " : "", shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");

    /* Pad prefix + dict + '\n' with spaces to a multiple of 64, as NumPy
     * does, so that the data is aligned when mapped. */
    char buf[512];
    const size_t prefix_len = 10;
    size_t padded = (prefix_len + n + 1 + 63) / 64 * 64;
    size_t header_len = padded - prefix_len;
    memcpy(buf, npy_magic, sizeof npy_magic);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(header_len & 0xff);
    buf[9] = (char)(header_len >> 8);
    memcpy(buf + prefix_len, dict, n);
    memset(buf + prefix_len + n, ' ', header_len - n - 1);
    buf[padded - 1] = '\n';
    if (tool_write_all(fd, buf, padded) != 0)
        return -1;

    if (host_is_little_endian())
        return tool_write_all(fd, data, size);
    /* Big-endian host: swap a block at a time. */
    uint8_t block[65536];
    for (size_t off = 0; off < size; off += sizeof block) {
        size_t len = size - off < sizeof block ? size - off : sizeof block;
        memcpy(block, (const uint8_t *)data + off, len);
        swap_elements(block, len, elem);
        if (tool_write_all(fd, block, len) != 0)
            return -1;
    }
    return 0;
}
