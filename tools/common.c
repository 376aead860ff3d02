/* Helpers shared by the raiiaf tool's subcommands: see common.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void vmessage(const char *kind, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "raiiaf: %s", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void tool_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("", fmt, ap);
    va_end(ap);
}

void tool_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning: ", fmt, ap);
    va_end(ap);
}

int tool_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return TOOL_EXIT_USAGE;
}

int tool_usage_hint(const char *prog)
{
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return TOOL_EXIT_USAGE;
}

void tool_print_version(FILE *out)
{
    fprintf(out, "raiiaf %s (libraiiaf %s)\n", RAIIAF_VERSION_STRING, raiiaf_version_string());
    const char *deps = raiiaf_dependency_versions();
    if (deps && *deps) {
        /* One "name version" per line, indented under the first line. */
        const char *line = deps;
        while (*line) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (len)
                fprintf(out, "  %.*s\n", (int)len, line);
            line += len + (nl ? 1 : 0);
        }
    }
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. C1 control
 * characters (U+0080-U+009F) count as invalid: terminals act on them. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

char *tool_utf8_text(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(4 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        size_t len = *s < 0x80 ? 1 : utf8_sequence(s);
        if (len == 0) {
            o += sprintf(o, "\\x%02x", *s++);
            continue;
        }
        memcpy(o, s, len);
        o += len;
        s += len;
    }
    *o = '\0';
    return out;
}

void tool_print_text(FILE *out, const char *text, const char *indent)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        if (*s == '\n') {
            if (indent) {
                fputc('\n', out);
                fputs(indent, out);
            } else {
                fputs("\\n", out);
            }
            s++;
            continue;
        }
        if (*s < 0x20 || *s == 0x7f) {
            fprintf(out, "\\x%02x", *s);
            s++;
            continue;
        }
        size_t len = utf8_sequence(s);
        if (len == 0) {
            fprintf(out, "\\x%02x", *s);
            s++;
            continue;
        }
        fwrite(s, 1, len, out);
        s += len;
    }
}

int tool_read_file(const char *path, uint64_t max_size, char **data, size_t *size, char *err,
                   size_t err_size)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: a FIFO without a writer is refused below instead of
     * waiting in open(); regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_size, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "not a regular file");
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max_size) {
        snprintf(err, err_size, "file too large (%" PRIu64 " bytes, at most %" PRIu64 ")",
                 (uint64_t)st.st_size, max_size);
        close(fd);
        return -1;
    }
    size_t want = (size_t)st.st_size;
    char *buf = malloc(want + 1);
    if (!buf) {
        snprintf(err, err_size, "out of memory");
        close(fd);
        return -1;
    }
    size_t done = 0;
    while (done < want) {
        ssize_t r = read(fd, buf + done, want - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, err_size, "%s", strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    close(fd);
    buf[done] = '\0';
    *data = buf;
    *size = done;
    return 0;
}

int tool_make_dirs(const char *path, char *err, size_t err_size)
{
    char *copy = strdup(path);
    if (!copy) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    /* Create each prefix that ends before a '/', then the whole path. */
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            snprintf(err, err_size, "cannot create folder %s: %s", copy, strerror(errno));
            free(copy);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "%s is not a folder", copy);
        free(copy);
        return -1;
    }
    free(copy);
    return 0;
}

int tool_make_subdir(const char *path, char *err, size_t err_size)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create folder %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            snprintf(err, err_size, "%s is a symbolic link: refusing to write through it", path);
        else
            snprintf(err, err_size, "%s is not a folder", path);
        return -1;
    }
    close(fd);
    return 0;
}

int tool_write_all(int fd, const void *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, (const char *)buf + done, size - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

static int outputs_create(tool_outputs *set, const char *path, unsigned flags, char *err,
                          size_t err_size)
{
    if (set->count == set->capacity) {
        size_t cap = set->capacity ? set->capacity * 2 : 8;
        tool_output *items = realloc(set->items, cap * sizeof *items);
        if (!items) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        set->items = items;
        set->capacity = cap;
    }
    raiiaf_output *out = raiiaf_output_new();
    char *final = strdup(path);
    if (!out || !final) {
        raiiaf_output_free(out);
        free(final);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    flags |= RAIIAF_OUTPUT_NO_FOLLOW | (set->replace ? 0 : RAIIAF_OUTPUT_NO_REPLACE);
    if (raiiaf_output_open(out, path, flags) != RAIIAF_OK) {
        snprintf(err, err_size, "%s", raiiaf_output_message(out));
        raiiaf_output_free(out);
        free(final);
        return -1;
    }
    set->items[set->count].path = final;
    set->items[set->count].out = out;
    set->count++;
    return raiiaf_output_fd(out);
}

int tool_outputs_create(tool_outputs *set, const char *path, char *err, size_t err_size)
{
    return outputs_create(set, path, 0, err, err_size);
}

int tool_outputs_create_in_subdir(tool_outputs *set, const char *path, char *err,
                                  size_t err_size)
{
    return outputs_create(set, path, RAIIAF_OUTPUT_NO_FOLLOW_DIR, err, err_size);
}

int tool_outputs_commit(tool_outputs *set, char *err, size_t err_size)
{
    size_t done;
    for (done = 0; done < set->count; done++) {
        tool_output *o = &set->items[done];
        if (raiiaf_output_commit(o->out) == RAIIAF_OK)
            continue;
        if (raiiaf_output_errno(o->out) == EEXIST)
            snprintf(err, err_size, "%s already exists (--force replaces it)", o->path);
        else
            snprintf(err, err_size, "%s", raiiaf_output_message(o->out));
        break;
    }
    /* Without --force every committed file is new: take them back so that
     * a failed run leaves nothing behind. */
    if (done < set->count && !set->replace) {
        for (size_t i = 0; i < done; i++)
            raiiaf_output_remove(set->items[i].out);
    }
    bool ok = done == set->count;
    tool_outputs_free(set); /* uncommitted temporary files go with it */
    return ok ? 0 : -1;
}

void tool_outputs_abort(tool_outputs *set)
{
    tool_outputs_free(set);
}

void tool_outputs_free(tool_outputs *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free(set->items[i].path);
        raiiaf_output_free(set->items[i].out);
    }
    free(set->items);
    set->items = NULL;
    set->count = set->capacity = 0;
}

const char *tool_storage_name(int storage)
{
    switch (storage) {
    case RAIIAF_STORAGE_AUTO: return "auto";
    case RAIIAF_STORAGE_RAW: return "raw";
    case RAIIAF_STORAGE_ZFP: return "zfp";
    default: return "unknown";
    }
}

const char *tool_format_name(int format)
{
    switch (format) {
    case RAIIAF_FMT_G8: return "G8";
    case RAIIAF_FMT_GA8: return "GA8";
    case RAIIAF_FMT_RGB8: return "RGB8";
    case RAIIAF_FMT_RGBA8: return "RGBA8";
    case RAIIAF_FMT_G16: return "G16";
    case RAIIAF_FMT_GA16: return "GA16";
    case RAIIAF_FMT_RGB16: return "RGB16";
    case RAIIAF_FMT_RGBA16: return "RGBA16";
    case RAIIAF_FMT_INDEX8: return "INDEX8";
    default: return "unknown";
    }
}

const char *tool_color_type_name(int png_color_type)
{
    switch (png_color_type) {
    case 0: return "grey";
    case 2: return "RGB";
    case 3: return "palette";
    case 4: return "grey+alpha";
    case 6: return "RGBA";
    default: return "unknown";
    }
}

void tool_format_shape(const uint64_t *shape, unsigned ndim, char *out, size_t out_size)
{
    size_t n = 0;
    if (out_size == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 0; i < ndim && n < out_size; i++) {
        int w = snprintf(out + n, out_size - n, "%s%" PRIu64, i ? "x" : "", shape[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}
