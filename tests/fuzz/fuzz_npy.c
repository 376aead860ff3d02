/* libFuzzer target: the tool's .npy reader (tools/npy.c) on untrusted
 * bytes; what it accepts must write back and read again as the same array.
 * Replays its corpus as a test without libFuzzer. */
#include "npy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    char err[256] = "";
    if (npy_read_memory(data, size, &a, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* a refusal without a reason */
        return 0;
    }
    int fd = memfd_create("npy", MFD_CLOEXEC);
    if (fd < 0) {
        npy_array_free(&a);
        return 0;
    }
    if (npy_write_fd(fd, a.dtype, a.shape, a.ndim, a.data, a.size) != 0)
        abort(); /* read but cannot be written back */
    off_t n = lseek(fd, 0, SEEK_END);
    uint8_t *again = malloc(n > 0 ? (size_t)n : 1);
    if (!again || pread(fd, again, (size_t)n, 0) != n)
        abort();
    close(fd);
    npy_array b;
    if (npy_read_memory(again, (size_t)n, &b, err, sizeof err) != 0 || b.dtype != a.dtype ||
        b.ndim != a.ndim || memcmp(b.shape, a.shape, a.ndim * sizeof a.shape[0]) ||
        b.size != a.size ||
        memcmp(b.data, a.data, a.size))
        abort(); /* what was written reads back otherwise */
    npy_array_free(&b);
    free(again);
    npy_array_free(&a);
    return 0;
}
