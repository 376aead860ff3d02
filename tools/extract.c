/* raiiaf extract: unpack a file into a folder.
 *
 * SPDX-License-Identifier: MIT
 *
 * DIR/image.png      the embedded image bytes, unchanged
 * DIR/latents/K.npy  each latent, dtype and shape as stored
 * DIR/manifest.json  the manifest as stored
 * DIR/env.json       the environment as stored (when the file has one)
 *
 * Everything is written to temporary files first and moved into place only
 * when the whole file has been read and checked, so a bad file leaves no
 * partial folder contents and an existing file is replaced only with
 * --force.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "npy.h"

/* A key longer than this is cut: file names are limited to 255 bytes. */
#define MAX_KEY_FILE_NAME 200

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf extract [OPTIONS] FILE -o DIR\n"
            "\n"
            "Writes, into DIR (created if needed):\n"
            "  image.png          the embedded image, its bytes unchanged (image.bin\n"
            "                     if the file holds something other than PNG)\n"
            "  latents/KEY.npy    each latent tensor as a NumPy array, dtype and\n"
            "                     shape as stored (numpy.load reads it)\n"
            "  manifest.json      the manifest (model_info, chunk records) as stored\n"
            "  env.json           the software environment as stored, if any\n"
            "\n"
            "A latent key that is not a safe file name (a '/', a leading '.', a\n"
            "control character, anything but letters, digits and . _ + -) is\n"
            "written under a sanitised name, with a warning naming both.\n"
            "Files are moved into place only once every payload has been read and\n"
            "checked: a bad file leaves nothing behind in DIR.\n"
            "\n"
            "Options:\n"
            "  -o, --output DIR   the folder to write (required)\n"
            "  -f, --force        replace files that already exist in DIR (a link\n"
            "                     at one of the names is replaced, never followed;\n"
            "                     a DIR/latents that is a symbolic link is refused)\n"
            "  -v, --verbose      print each file written\n"
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 success, 1 a bad or unreadable file or an output that\n"
            "could not be written (existing files without --force), 2 wrong usage.\n");
}

static bool safe_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '+';
}

/* The safe form of a key, malloc'd (*room bytes): letters, digits and
 * . _ + - kept, anything else turned to '_', no leading '.' (no hidden
 * files, no "." or ".."), cut to MAX_KEY_FILE_NAME bytes; "latent-N" for an
 * empty key. There is room after it for a "-N" suffix. */
static char *sanitise_key(const char *key, size_t index, size_t *room)
{
    size_t len = strlen(key);
    if (len > MAX_KEY_FILE_NAME)
        len = MAX_KEY_FILE_NAME;
    /* "latent-" + 20 digits, then "-" + 20 digits, then the NUL. */
    *room = len + 64;
    char *name = malloc(*room);
    if (!name)
        return NULL;
    for (size_t i = 0; i < len; i++)
        name[i] = safe_char((unsigned char)key[i]) ? key[i] : '_';
    name[len] = '\0';
    if (name[0] == '.')
        name[0] = '_';
    if (len == 0)
        snprintf(name, *room, "latent-%zu", index);
    return name;
}

static bool name_taken(char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (names[i] && strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

/* Fills names[i] (without .npy) for each key. Keys that are safe file
 * names keep them; the others are sanitised and, when that collides with
 * another name (or two latents share a key), given a "-N" suffix. Warns
 * about every latent not written under its own key. */
static int assign_latent_names(const char *input, const char *const *keys, size_t count, char **names)
{
    for (size_t i = 0; i < count; i++) {
        size_t room;
        char *name = sanitise_key(keys[i], i, &room);
        if (!name)
            return -1;
        if (strcmp(name, keys[i]) == 0 && !name_taken(names, count, name))
            names[i] = name;
        else
            free(name);
    }
    for (size_t i = 0; i < count; i++) {
        if (names[i])
            continue;
        size_t room;
        char *name = sanitise_key(keys[i], i, &room);
        if (!name)
            return -1;
        bool safe = strcmp(name, keys[i]) == 0;
        size_t base = strlen(name);
        for (size_t n = i; name_taken(names, count, name); n++)
            snprintf(name + base, room - base, "-%zu", n);
        names[i] = name;
        fflush(stdout);
        fprintf(stderr, "raiiaf: warning: %s: latent %zu key '", input, i);
        tool_print_text(stderr, keys[i], NULL);
        fprintf(stderr, "' %s: written as latents/%s.npy\n",
                safe ? "is the name of another latent's file" : "is not a safe file name", name);
    }
    return 0;
}

static int write_buffer(tool_outputs *outs, const char *path, const void *data, size_t size,
                        char *err, size_t err_size)
{
    int fd = tool_outputs_create(outs, path, err, err_size);
    if (fd < 0)
        return -1;
    if (tool_write_all(fd, data, size) != 0) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static char *join_path(const char *dir, const char *a, const char *b)
{
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, a, b ? b : "");
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A file written whole from a buffer: image, manifest, environment. */
typedef struct payload {
    const char *name; /* in DIR; NULL when the file has none */
    const void *data;
    size_t size;
} payload;

typedef struct extraction {
    const char *input;
    const char *dir;
    bool force, verbose;
    bool made_dir, made_latent_dir; /* created by this run: removed on failure */
    raiiaf_ctx *ctx;
    tool_outputs outs;
    payload payloads[3];
    char **latent_names; /* file names, one per latent */
    size_t latent_count;
    char err[1024];
} extraction;

/* Reports the library's message for a failed call on the input. */
static int input_error(const extraction *x)
{
    tool_error("%s: %s", x->input, raiiaf_ctx_message(x->ctx));
    return TOOL_EXIT_FAILURE;
}

/* DIR/latents/NAME.npy, malloc'd. */
static char *latent_path(const extraction *x, size_t index)
{
    size_t n = strlen(x->dir) + strlen(x->latent_names[index]) + 16;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/latents/%s.npy", x->dir, x->latent_names[index]);
    return path;
}

/* Writes the latents to temporary files. */
static int extract_latents(extraction *x)
{
    char *latent_dir = NULL;
    int status = TOOL_EXIT_FAILURE;
    if (x->latent_count == 0)
        return TOOL_EXIT_OK;
    latent_dir = join_path(x->dir, "latents", NULL);
    x->made_latent_dir = latent_dir && !exists(latent_dir);
    if (!latent_dir || tool_make_subdir(latent_dir, x->err, sizeof x->err) != 0) {
        tool_error("%s", latent_dir ? x->err : "out of memory");
        goto out;
    }
    for (size_t i = 0; i < x->latent_count; i++) {
        raiiaf_latent_info li;
        int rc = raiiaf_get_latent_info(x->ctx, i, &li);
        if (rc != RAIIAF_OK) {
            input_error(x);
            goto out;
        }
        if (li.decoded_size > SIZE_MAX) {
            tool_error("%s: latent %zu is too large for this machine", x->input, i);
            goto out;
        }
        size_t size = (size_t)li.decoded_size;
        void *data = malloc(size ? size : 1);
        if (!data) {
            tool_error("%s: out of memory for latent %zu (%zu bytes)", x->input, i, size);
            goto out;
        }
        rc = raiiaf_decode_latent(x->ctx, i, data, size);
        if (rc != RAIIAF_OK) {
            input_error(x);
            free(data);
            goto out;
        }
        char *path = latent_path(x, i);
        int fd = path ? tool_outputs_create_in_subdir(&x->outs, path, x->err, sizeof x->err)
                      : -1;
        if (fd < 0) {
            tool_error("%s", path ? x->err : "out of memory");
            free(path);
            free(data);
            goto out;
        }
        int werr = npy_write_fd(fd, li.dtype, li.shape, li.ndim, data, size);
        int saved = errno;
        free(data);
        if (werr != 0) {
            tool_error("cannot write %s: %s", path, strerror(saved));
            free(path);
            goto out;
        }
        free(path);
    }
    status = TOOL_EXIT_OK;
out:
    free(latent_dir);
    return status;
}

/* The image (its bytes as stored), the manifest and the environment. */
static int read_payloads(extraction *x)
{
    /* Something other than PNG is still extracted, under a name that does
     * not claim it is PNG. */
    payload *image = &x->payloads[0], *manifest = &x->payloads[1], *env = &x->payloads[2];
    raiiaf_image_info ii;
    image->name = "image.png";
    int rc = raiiaf_get_image_info(x->ctx, &ii);
    if (rc == RAIIAF_ENOTPNG) {
        image->name = "image.bin";
        tool_warning("%s: the image chunk does not hold a PNG: written as %s", x->input, image->name);
        rc = RAIIAF_OK;
    }
    if (rc == RAIIAF_OK)
        rc = raiiaf_get_image_data(x->ctx, &image->data, &image->size);
    if (rc == RAIIAF_ENOIMAGE) {
        tool_warning("%s: the file has no image", x->input);
        image->name = NULL;
    } else if (rc != RAIIAF_OK) {
        return input_error(x);
    }
    manifest->name = "manifest.json";
    if (raiiaf_get_manifest_json(x->ctx, (const char **)&manifest->data, &manifest->size) != RAIIAF_OK)
        return input_error(x);
    if (raiiaf_get_env_json(x->ctx, (const char **)&env->data, &env->size) != RAIIAF_OK)
        return input_error(x);
    env->name = env->data ? "env.json" : NULL;
    return TOOL_EXIT_OK;
}

/* A file name for each latent. */
static int plan_latent_names(extraction *x)
{
    if (raiiaf_get_latent_count(x->ctx, &x->latent_count) != RAIIAF_OK)
        return input_error(x);
    x->latent_names = calloc(x->latent_count ? x->latent_count : 1, sizeof *x->latent_names);
    const char **keys = calloc(x->latent_count ? x->latent_count : 1, sizeof *keys);
    if (!x->latent_names || !keys) {
        free(keys);
        tool_error("out of memory");
        return TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < x->latent_count; i++) {
        raiiaf_latent_info li;
        if (raiiaf_get_latent_info(x->ctx, i, &li) != RAIIAF_OK) {
            free(keys);
            return input_error(x);
        }
        keys[i] = li.key ? li.key : "";
    }
    int named = assign_latent_names(x->input, keys, x->latent_count, x->latent_names);
    free(keys);
    if (named != 0) {
        tool_error("out of memory");
        return TOOL_EXIT_FAILURE;
    }
    return TOOL_EXIT_OK;
}

/* Without --force, refuses before anything is written. */
static int refuse_existing(const extraction *x)
{
    size_t n = sizeof x->payloads / sizeof x->payloads[0];
    for (size_t i = 0; i < n + x->latent_count; i++) {
        const char *name = i < n ? x->payloads[i].name : "";
        if (!name)
            continue;
        char *path = i < n ? join_path(x->dir, name, NULL) : latent_path(x, i - n);
        bool taken = path && exists(path);
        if (taken)
            tool_error("%s already exists (--force replaces it)", path);
        free(path);
        if (taken)
            return TOOL_EXIT_FAILURE;
    }
    return TOOL_EXIT_OK;
}

static int write_payloads(extraction *x)
{
    for (size_t i = 0; i < sizeof x->payloads / sizeof x->payloads[0]; i++) {
        const payload *p = &x->payloads[i];
        if (!p->name)
            continue;
        char *path = join_path(x->dir, p->name, NULL);
        if (!path || write_buffer(&x->outs, path, p->data, p->size, x->err, sizeof x->err) != 0) {
            tool_error("%s", path ? x->err : "out of memory");
            free(path);
            return TOOL_EXIT_FAILURE;
        }
        free(path);
    }
    return TOOL_EXIT_OK;
}

/* Moves every file into place; with --verbose, prints their names. */
static int commit(extraction *x)
{
    /* Keep the names for --verbose: commit frees the set. */
    size_t count = x->outs.count;
    char **written = calloc(count ? count : 1, sizeof *written);
    for (size_t i = 0; written && i < count; i++)
        written[i] = strdup(x->outs.items[i].path);
    int status = TOOL_EXIT_OK;
    if (tool_outputs_commit(&x->outs, x->err, sizeof x->err) != 0) {
        tool_error("%s", x->err);
        status = TOOL_EXIT_FAILURE;
    }
    for (size_t i = 0; written && i < count; i++) {
        if (status == TOOL_EXIT_OK && x->verbose && written[i]) {
            tool_print_text(stdout, written[i], NULL);
            fputc('\n', stdout);
        }
        free(written[i]);
    }
    free(written);
    return status;
}

/* Plans the names, refuses existing targets, then writes. */
static int extract(extraction *x)
{
    if (raiiaf_open_file(x->ctx, x->input) != RAIIAF_OK)
        return input_error(x);
    if (read_payloads(x) != TOOL_EXIT_OK || plan_latent_names(x) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAILURE;
    if (!x->force && refuse_existing(x) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAILURE;
    x->outs.replace = x->force;
    x->made_dir = !exists(x->dir);
    if (tool_make_dirs(x->dir, x->err, sizeof x->err) != 0) {
        tool_error("%s", x->err);
        return TOOL_EXIT_FAILURE;
    }
    if (write_payloads(x) != TOOL_EXIT_OK || extract_latents(x) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAILURE;
    return commit(x);
}

int cmd_extract(int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    extraction x = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:fvh", options, NULL)) != -1) {
        switch (c) {
        case 'o': x.dir = optarg; break;
        case 'f': x.force = true; break;
        case 'v': x.verbose = true; break;
        case 'h': print_help(stdout); return TOOL_EXIT_OK;
        default: return tool_usage_hint(argv[0]);
        }
    }
    if (optind >= argc)
        return tool_usage_error(argv[0], "no file given");
    if (argc - optind > 1)
        return tool_usage_error(argv[0], "one file at a time");
    if (!x.dir || !*x.dir)
        return tool_usage_error(argv[0], "the output folder (-o DIR) is required");
    x.input = argv[optind];
    /* "out/" and "out" name one folder; keep messages free of "//". */
    size_t dir_len = strlen(x.dir);
    while (dir_len > 1 && x.dir[dir_len - 1] == '/')
        dir_len--;
    char *dir = strndup(x.dir, dir_len);
    if (!dir) {
        tool_error("out of memory");
        return TOOL_EXIT_FAILURE;
    }
    x.dir = dir;

    x.ctx = raiiaf_ctx_new();
    int status;
    if (!x.ctx) {
        tool_error("out of memory");
        status = TOOL_EXIT_FAILURE;
    } else {
        status = extract(&x);
    }
    tool_outputs_abort(&x.outs);
    if (status != TOOL_EXIT_OK) {
        /* Folders this run created, if still empty. */
        if (x.made_latent_dir) {
            char *latent_dir = join_path(x.dir, "latents", NULL);
            if (latent_dir)
                rmdir(latent_dir);
            free(latent_dir);
        }
        if (x.made_dir)
            rmdir(x.dir);
    }
    if (x.latent_names) {
        for (size_t i = 0; i < x.latent_count; i++)
            free(x.latent_names[i]);
        free(x.latent_names);
    }
    raiiaf_ctx_free(x.ctx);
    free(dir);
    if (fflush(stdout) != 0)
        return TOOL_EXIT_FAILURE;
    return status;
}
