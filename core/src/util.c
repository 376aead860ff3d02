#include "internal.h"

#include <json-c/json_c_version.h>
#include <math.h>
#include <libdeflate.h>
#include <nettle/sha2.h>
#include <nettle/version.h>
#include <png.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <threads.h>
#include <time.h>
#include <zfp.h>
#include <zstd.h>

const char *raiiaf_version_string(void)
{
    return RAIIAF_VERSION_STRING;
}

void rf_zfp_version(char *out, size_t size)
{
#if ZFP_VERSION_MAJOR >= 1
    /* zfp 1: major << 12 | minor << 8 | patch << 4 | tweak */
    unsigned v = zfp_library_version;
    if (v & 0xf)
        snprintf(out, size, "%u.%u.%u.%u", v >> 12, (v >> 8) & 0xf, (v >> 4) & 0xf, v & 0xf);
    else
        snprintf(out, size, "%u.%u.%u", v >> 12, (v >> 8) & 0xf, (v >> 4) & 0xf);
#else
    snprintf(out, size, "%s", ZFP_VERSION_STRING);
#endif
}

/* Made once, on the first call: the same text for the life of the process,
 * whichever thread asks. */
static char dependency_versions[512];
static once_flag dependency_versions_once = ONCE_FLAG_INIT;

static void dependency_versions_make(void)
{
    char zfp[32];
    rf_zfp_version(zfp, sizeof zfp);
    snprintf(dependency_versions, sizeof dependency_versions,
             "zstd %.60s\nzfp %s\nlibpng %.60s\nlibdeflate %s\njson-c %.60s\nnettle %d.%d\n",
             ZSTD_versionString(), zfp, png_get_libpng_ver(NULL), LIBDEFLATE_VERSION_STRING,
             json_c_version(), nettle_version_major(), nettle_version_minor());
}

const char *raiiaf_dependency_versions(void)
{
    call_once(&dependency_versions_once, dependency_versions_make);
    return dependency_versions;
}

int raiiaf_check_signature(const void *data, size_t size)
{
    if (!data || size < RAIIAF_MAGIC_SIZE)
        return 0;
    return memcmp(data, RAIIAF_MAGIC, RAIIAF_MAGIC_SIZE) == 0;
}

void raiiaf_free(void *p)
{
    free(p);
}

_Static_assert(sizeof(rf_sha256_ctx) >= sizeof(struct sha256_ctx), "sha256 context storage");

void rf_sha256_begin(rf_sha256_ctx *c)
{
    sha256_init((struct sha256_ctx *)c);
}

void rf_sha256_update(rf_sha256_ctx *c, const void *data, size_t size)
{
    sha256_update((struct sha256_ctx *)c, size, data);
}

void rf_sha256_end(rf_sha256_ctx *c, uint8_t out[32])
{
    sha256_digest((struct sha256_ctx *)c, SHA256_DIGEST_SIZE, out);
}

void rf_sha256(const void *data, size_t size, uint8_t out[32])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, size, data);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void *rf_malloc_large(size_t size)
{
#if defined(MADV_HUGEPAGE)
    enum { HUGE_PAGE = 2u << 20 };
    if (size >= 2 * (size_t)HUGE_PAGE) {
        void *p = NULL;
        /* Whole huge pages only: a partial one at the end is left to 4 KiB
         * pages by the kernel anyway. */
        if (posix_memalign(&p, HUGE_PAGE, size) != 0)
            return NULL;
        (void)madvise(p, size & ~(size_t)(HUGE_PAGE - 1), MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(size ? size : 1);
}

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL */
#endif

#if defined(MADV_POPULATE_WRITE)
static void *prefault_run(void *arg)
{
    rf_prefault *p = arg;
    (void)madvise(p->start, p->size, MADV_POPULATE_WRITE);
    return NULL;
}
#endif

void rf_prefault_begin(rf_prefault *p, void *buf, size_t size)
{
    p->thread = NULL;
#if defined(MADV_POPULATE_WRITE)
    enum { PAGE = 4096, WORTH = 8u << 20 };
    uintptr_t first = ((uintptr_t)buf + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
    uintptr_t end = ((uintptr_t)buf + size) & ~(uintptr_t)(PAGE - 1);
    if (!buf || size < WORTH || end <= first)
        return;
    p->start = (void *)first;
    p->size = end - first;
    pthread_t *t = malloc(sizeof *t);
    if (t && pthread_create(t, NULL, prefault_run, p) == 0)
        p->thread = t;
    else
        free(t);
#else
    (void)buf, (void)size;
#endif
}

void rf_prefault_end(rf_prefault *p)
{
    if (!p->thread)
        return;
    pthread_join(*(pthread_t *)p->thread, NULL);
    free(p->thread);
    p->thread = NULL;
}

void rf_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool rf_parse_hex32(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

uint16_t rf_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) /* Inf or NaN; keep NaN quiet and non-zero */
        return sign | 0x7c00 | (man ? (uint16_t)(0x200 | (man >> 13)) : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, up to Inf: correct */
    return sign | (uint16_t)half;
}

float rf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t x;
    if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000 | (man << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void rf_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void rf_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t rf_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rf_get_le64(const uint8_t *p)
{
    return (uint64_t)rf_get_le32(p) | (uint64_t)rf_get_le32(p + 4) << 32;
}

void rf_le_to_host(void *data, size_t count, size_t elem_size)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t *p = data;
    for (size_t i = 0; i < count; i++, p += elem_size)
        for (size_t a = 0, b = elem_size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
#else
    (void)data;
    (void)count;
    (void)elem_size;
#endif
}

bool rf_mul_overflow(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

char *rf_strdup(const char *s)
{
    return s ? rf_strndup(s, strlen(s)) : NULL;
}

char *rf_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void rf_now_iso8601(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.19s.%06d+00:00", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

int rf_buf_append(rf_buf *b, const void *data, size_t size)
{
    if (size > SIZE_MAX - b->size)
        return RAIIAF_ENOMEM;
    if (b->size + size > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + size)
            cap = cap > SIZE_MAX / 2 ? b->size + size : cap * 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            return RAIIAF_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (size)
        memcpy(b->data + b->size, data, size);
    b->size += size;
    return RAIIAF_OK;
}

void rf_buf_free(rf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

const raiiaf_limits rf_default_limits = {
    .max_file_size = 4ULL << 30,
    .max_chunk_count = 4096,
    .max_json_size = 8ULL << 20,
    .max_image_size = 1ULL << 30,
    .max_image_width = 65535,
    .max_image_height = 65535,
    .max_image_pixels = 1ULL << 30,
    .max_latent_size = 1ULL << 30,
    .max_latent_dim = 65536,
    .max_total_latent_size = 4ULL << 30,
    .max_json_depth = 64,
    .max_json_values = 500000,
    .max_json_memory = 64ULL << 20,
};

void raiiaf_limits_default(raiiaf_limits *l)
{
    if (l)
        *l = rf_default_limits;
}

size_t raiiaf_format_pixel_size(int format)
{
    switch (format) {
    case RAIIAF_FMT_G8: return 1;
    case RAIIAF_FMT_GA8: return 2;
    case RAIIAF_FMT_RGB8: return 3;
    case RAIIAF_FMT_RGBA8: return 4;
    case RAIIAF_FMT_G16: return 2;
    case RAIIAF_FMT_GA16: return 4;
    case RAIIAF_FMT_RGB16: return 6;
    case RAIIAF_FMT_RGBA16: return 8;
    case RAIIAF_FMT_INDEX8: return 1;
    default: return 0;
    }
}
