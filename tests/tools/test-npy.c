/* Unit checks of the tool's .npy reader and writer (tools/npy.c): round
 * trips, the header variants NumPy writes, and hostile headers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* A .npy image: prefix for `major`, the header text as given, then
 * data_len bytes counting up. header_len overrides the length field when
 * not 0. */
static unsigned char *make_npy(unsigned major, const char *header, size_t data_len, uint32_t header_len,
                               size_t *size)
{
    size_t hl = strlen(header);
    size_t prefix = major == 1 ? 10 : 12;
    unsigned char *buf = malloc(prefix + hl + data_len + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    uint32_t len = header_len ? header_len : (uint32_t)hl;
    buf[8] = len & 0xff;
    buf[9] = (len >> 8) & 0xff;
    if (major != 1) {
        buf[10] = (len >> 16) & 0xff;
        buf[11] = (len >> 24) & 0xff;
    }
    memcpy(buf + prefix, header, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[prefix + hl + i] = (unsigned char)i;
    *size = prefix + hl + data_len;
    return buf;
}

static void expect_ok(unsigned major, const char *header, size_t data_len, int dtype, unsigned ndim,
                      const uint64_t *shape)
{
    size_t size;
    unsigned char *buf = make_npy(major, header, data_len, 0, &size);
    npy_array arr;
    char err[256] = "";
    int rc = npy_read_memory(buf, size, &arr, err, sizeof err);
    CHECK(rc == 0, "header %s: %s", header, err);
    if (rc == 0) {
        CHECK(arr.dtype == dtype, "header %s: dtype %d", header, arr.dtype);
        CHECK(arr.ndim == ndim, "header %s: ndim %u", header, arr.ndim);
        for (unsigned i = 0; i < ndim && i < arr.ndim; i++)
            CHECK(arr.shape[i] == shape[i], "header %s: dim %u", header, i);
        CHECK(arr.size == data_len, "header %s: size %zu", header, arr.size);
        CHECK(data_len == 0 || memcmp(arr.data, buf + size - data_len, data_len) == 0, "header %s: data",
              header);
    }
    npy_array_free(&arr);
    free(buf);
}

/* The read must fail with a message containing `want`. */
static void expect_error(unsigned major, const char *header, size_t data_len, uint32_t header_len,
                         const char *want)
{
    size_t size;
    unsigned char *buf = make_npy(major, header, data_len, header_len, &size);
    npy_array arr;
    char err[256] = "";
    int rc = npy_read_memory(buf, size, &arr, err, sizeof err);
    CHECK(rc != 0, "header %s was accepted", header);
    CHECK(rc == 0 || strstr(err, want), "header %s: message '%s' lacks '%s'", header, err, want);
    if (rc == 0)
        npy_array_free(&arr);
    free(buf);
}

static void check_round_trip(int dtype, unsigned ndim, const uint64_t *shape)
{
    size_t count = 1;
    for (unsigned i = 0; i < ndim; i++)
        count *= shape[i];
    size_t size = count * raiiaf_dtype_size(dtype);
    unsigned char *data = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + 3);

    char path[] = "/tmp/raiiaf-test-npy-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char pathbuf[4096];
    if (tmpdir && *tmpdir) {
        snprintf(pathbuf, sizeof pathbuf, "%s/raiiaf-test-npy-XXXXXX", tmpdir);
    } else {
        snprintf(pathbuf, sizeof pathbuf, "%s", path);
    }
    int fd = mkstemp(pathbuf);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) {
        free(data);
        return;
    }
    CHECK(npy_write_fd(fd, dtype, shape, ndim, data, size) == 0, "write ndim %u", ndim);
    close(fd);

    npy_array arr;
    char err[256] = "";
    int rc = npy_read_file(pathbuf, &arr, err, sizeof err);
    CHECK(rc == 0, "read back ndim %u: %s", ndim, err);
    if (rc == 0) {
        CHECK(arr.dtype == dtype && arr.ndim == ndim && arr.size == size, "round trip metadata");
        CHECK(ndim == 0 || memcmp(arr.shape, shape, ndim * sizeof *shape) == 0, "round trip shape");
        CHECK(size == 0 || memcmp(arr.data, data, size) == 0, "round trip data");
        npy_array_free(&arr);
    }
    /* The header is padded so that the data starts at a multiple of 64. */
    FILE *f = fopen(pathbuf, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long total = ftell(f);
        CHECK(total >= 0 && (size_t)total >= size && ((size_t)total - size) % 64 == 0,
              "data not 64-aligned");
        fclose(f);
    }
    unlink(pathbuf);
    free(data);
}

int main(void)
{
    static const uint64_t s1464[] = {1, 4, 6, 4};
    static const uint64_t s5[] = {5};
    static const uint64_t s34[] = {3, 4};

    /* What NumPy writes, and its variants. */
    expect_ok(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 6, 4), }          \n", 384,
              RAIIAF_FLOAT32, 4, s1464);
    expect_ok(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }\n", 10, RAIIAF_FLOAT16, 1, s5);
    expect_ok(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n", 48, RAIIAF_FLOAT32, 2, s34);
    expect_ok(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n", 48, RAIIAF_FLOAT32, 2, s34);
    expect_ok(1, "{\"shape\": (3L, 4L), \"fortran_order\": False, \"descr\": \"=f4\"}", 48, RAIIAF_FLOAT32, 2,
              s34);
    expect_ok(1, "{'descr': '|f2', 'fortran_order': True, 'shape': (5,), }\n", 10, RAIIAF_FLOAT16, 1, s5);
    expect_ok(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", 4, RAIIAF_FLOAT32, 0, NULL);
    expect_ok(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }\n", 0, RAIIAF_FLOAT32, 2,
              (const uint64_t[]){0, 4});

    /* Hostile or unsupported. */
    size_t size;
    unsigned char *buf = make_npy(1, "{}", 0, 0, &size);
    buf[1] = 'X';
    npy_array arr;
    char err[256] = "";
    CHECK(npy_read_memory(buf, size, &arr, err, sizeof err) != 0 && strstr(err, "magic"), "bad magic: %s", err);
    CHECK(npy_read_memory(buf, 5, &arr, err, sizeof err) != 0, "5-byte file");
    free(buf);

    expect_error(4, "{}", 0, 0, "version");
    expect_error(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 0x7fffffff, "limit");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0, 200, "truncated");
    expect_error(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4, 0, "big-endian");
    expect_error(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, 0, "unsupported dtype");
    expect_error(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", 4, 0, "unsupported dtype");
    expect_error(1, "{'descr': '', 'fortran_order': False, 'shape': (1,), }", 4, 0, "unsupported dtype");
    expect_error(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, 0, "structured");
    expect_error(1, "{'descr': '<f4', 'shape': (1,), }", 4, 0, "missing key 'fortran_order'");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, 0, "unexpected key");
    expect_error(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, 0, "twice");
    expect_error(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 0, "Fortran");
    expect_error(1, "{'descr': '<f4', 'fortran_order': 1, 'shape': (1,), }", 4, 0, "True or False");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 4, 0,
                 "overflow");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 4, 0,
                 "overflow");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4, 0, "non-negative");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, 0,
                 "more than");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 6, 4), }", 383, 0, "truncated");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, 0, "unexpected bytes");
    expect_error(1, "['descr', '<f4']", 4, 0, "bad header");
    expect_error(1, "{'descr': '<f4", 4, 0, "unterminated");
    expect_error(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", 4, 0, "after the dict");
    expect_error(1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,), }", 4, 0, "unexpected character");
    expect_error(1, "", 0, 0, "bad header");

    /* Writer and reader agree. */
    check_round_trip(RAIIAF_FLOAT32, 4, s1464);
    check_round_trip(RAIIAF_FLOAT16, 1, s5);
    check_round_trip(RAIIAF_FLOAT32, 0, NULL);
    check_round_trip(RAIIAF_FLOAT16, 8, (const uint64_t[]){1, 2, 1, 2, 1, 2, 1, 3});

    /* The writer refuses a size that does not match the shape. */
    CHECK(npy_write_fd(-1, RAIIAF_FLOAT32, s5, 1, "", 3) != 0, "size mismatch accepted");
    CHECK(npy_write_fd(-1, 7, s5, 1, "", 20) != 0, "bad dtype accepted");

    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("all npy checks passed\n");
    return failures ? 1 : 0;
}
