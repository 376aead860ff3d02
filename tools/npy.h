/* NumPy .npy reading and writing for the raiiaf tool.
 *
 * SPDX-License-Identifier: MIT
 *
 * Only what latents need: float32 and float16 arrays, little-endian, C
 * order, up to RAIIAF_MAX_DIMS dimensions. Format versions 1.0, 2.0 and 3.0
 * are read (they differ only in the width of the header length and the
 * header's text encoding); 1.0 is written (a float array's header always
 * fits its 16-bit length).
 *
 * The input is untrusted: the header length is capped, the header is parsed
 * as the small Python dict literal NumPy writes and nothing more, the shape
 * product is checked for overflow, and the data size must match the file
 * size before any memory is spent on the data.
 */
#ifndef RAIIAF_TOOL_NPY_H
#define RAIIAF_TOOL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "raiiaf.h"

/* NumPy's own default cap on the header (numpy.lib.format
 * _MAX_HEADER_SIZE): any real float array header is far shorter. */
#define NPY_MAX_HEADER_SIZE 10000

typedef struct npy_array {
    int dtype;                       /* RAIIAF_FLOAT32 or RAIIAF_FLOAT16 */
    unsigned ndim;
    uint64_t shape[RAIIAF_MAX_DIMS];
    void *data;                      /* C order, host byte order; malloc'd */
    size_t size;                     /* bytes of data */
} npy_array;

/* Reads `path` into *array. On failure returns -1 and writes a sentence
 * (without the path) to err. Release with npy_array_free(). */
int npy_read_file(const char *path, npy_array *array, char *err, size_t err_size);

/* The same from a buffer holding a whole .npy file (the data is copied). */
int npy_read_memory(const void *buf, size_t size, npy_array *array, char *err, size_t err_size);

void npy_array_free(npy_array *array);

/* Writes a .npy file to the open descriptor fd: the header for dtype/shape,
 * then `size` bytes of data (C order, host byte order). size must equal the
 * shape's element count times the element size. Returns 0, or -1 with
 * errno set (EINVAL for inconsistent arguments). */
int npy_write_fd(int fd, int dtype, const uint64_t *shape, unsigned ndim,
                 const void *data, size_t size);

#endif
