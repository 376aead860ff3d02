/* raiiaf pack: build a file from a PNG, .npy latents and metadata JSON;
 * the inverse of extract.
 *
 * SPDX-License-Identifier: MIT
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "npy.h"

/* Input size caps, before memory is spent: the library's default limits
 * for an image chunk and for JSON. */
#define MAX_IMAGE_FILE_SIZE (UINT64_C(1) << 30)
#define MAX_JSON_FILE_SIZE (UINT64_C(64) << 20)

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf pack [OPTIONS] -o OUT.raiiaf --image IMG.png\n"
            "                   [--latent KEY=FILE.npy]... [--metadata META.json]\n"
            "                   [--env ENV.json]\n"
            "\n"
            "Builds a .raiiaf file; the inverse of 'raiiaf extract'. The PNG bytes are\n"
            "stored unchanged. The output is written to a temporary file and renamed\n"
            "into place once complete, so an error never leaves a partial OUT.\n"
            "\n"
            "Options:\n"
            "  -o, --output OUT         the file to write (required)\n"
            "  -i, --image IMG.png      the image (required)\n"
            "  -l, --latent KEY=F.npy   a latent tensor: a NumPy float32 or float16\n"
            "                           array of 4 dimensions (N, C, H, W); may be\n"
            "                           repeated. Without 'KEY=', the key is the file\n"
            "                           name without .npy\n"
            "  -m, --metadata META.json model_info ({\"model_name\", \"version\", \"prompt\",\n"
            "                           \"tags\", \"generation_settings\", \"hardware_info\"})\n"
            "                           or a whole manifest (an extracted manifest.json;\n"
            "                           its file_info and chunk records are not reused)\n"
            "  -e, --env ENV.json       the environment to record, as given; without it\n"
            "                           the file records this system's: the OS,\n"
            "                           libraiiaf and its libraries\n"
            "      --latent-storage S   auto (default: the smaller of zfp and raw),\n"
            "                           raw or zfp (both lossless)\n"
            "  -c, --compression N      re-encode the image's pixels as PNG at zlib level\n"
            "                           N (0-9) instead of storing IMG.png's bytes; the\n"
            "                           pixels, ICC profile, gAMA, sRGB, pHYs and the\n"
            "                           text chunks (byte for byte) are kept\n"
            "      --no-import          do not read the AI tools' PNG text (AUTOMATIC1111\n"
            "                           'parameters', ComfyUI 'prompt'/'workflow',\n"
            "                           InvokeAI, Fooocus, SwarmUI, NovelAI) into the\n"
            "                           manifest; by default the prompt, model and\n"
            "                           settings fill what --metadata left empty and\n"
            "                           every text chunk is recorded\n"
            "  -f, --force              replace OUT if it exists; like cp, a symbolic\n"
            "                           link is written through to its target, hard\n"
            "                           links, mode and (where allowed) owner are kept\n"
            "  -h, --help               show this help\n"
            "\n"
            "Exit status: 0 success, 1 an input that cannot be read or is not allowed\n"
            "(or OUT could not be written), 2 wrong usage.\n");
}

typedef struct latent_arg {
    char *key;
    const char *path;
} latent_arg;

static int add_latent(raiiaf_writer *w, const latent_arg *arg, int storage)
{
    npy_array arr;
    char err[512];
    if (npy_read_file(arg->path, &arr, err, sizeof err) != 0) {
        tool_error("%s: %s", arg->path, err);
        return TOOL_EXIT_FAILURE;
    }
    int rc = raiiaf_writer_add_latent(w, arg->key, arr.dtype, arr.shape, arr.ndim, arr.data, arr.size,
                                      storage);
    npy_array_free(&arr);
    if (rc != RAIIAF_OK) {
        /* The writer's message usually names the latent already. */
        const char *msg = raiiaf_writer_message(w);
        if (strstr(msg, arg->key))
            tool_error("%s: %s", arg->path, msg);
        else
            tool_error("%s: latent '%s': %s", arg->path, arg->key, msg);
        return TOOL_EXIT_FAILURE;
    }
    return TOOL_EXIT_OK;
}

static int set_json_file(raiiaf_writer *w, const char *path, bool env)
{
    char *text;
    size_t size;
    char err[512];
    if (tool_read_file(path, MAX_JSON_FILE_SIZE, &text, &size, err, sizeof err) != 0) {
        tool_error("%s: %s", path, err);
        return TOOL_EXIT_FAILURE;
    }
    int rc = env ? raiiaf_writer_set_env_json(w, text, size) : raiiaf_writer_set_metadata_json(w, text, size);
    free(text);
    if (rc != RAIIAF_OK) {
        tool_error("%s: %s", path, raiiaf_writer_message(w));
        return TOOL_EXIT_FAILURE;
    }
    return TOOL_EXIT_OK;
}

static int pack(const char *out, const char *image_path, const latent_arg *latents, size_t latent_count,
                const char *metadata_path, const char *env_path, int storage, int compression,
                bool import_text)
{
    int status = TOOL_EXIT_FAILURE;
    char *image = NULL;
    size_t image_size;
    char err[512];
    raiiaf_writer *w = raiiaf_writer_new();
    if (!w) {
        tool_error("out of memory");
        return TOOL_EXIT_FAILURE;
    }
    if (tool_read_file(image_path, MAX_IMAGE_FILE_SIZE, &image, &image_size, err, sizeof err) != 0) {
        tool_error("%s: %s", image_path, err);
        goto out;
    }
    int rc = raiiaf_writer_set_image_png(w, image, image_size);
    if (rc != RAIIAF_OK) {
        tool_error("%s: %s", image_path, raiiaf_writer_message(w));
        goto out;
    }
    if (compression < 0) { /* the writer holds its own copy */
        free(image);
        image = NULL;
    }
    if (metadata_path && set_json_file(w, metadata_path, false) != TOOL_EXIT_OK)
        goto out;
    if (env_path && set_json_file(w, env_path, true) != TOOL_EXIT_OK)
        goto out;
    /* With -c the re-encoded PNG gets IMG.png's text chunks back, byte for
     * byte and in order: the user asked for other compression, not for
     * less metadata. */
    if (compression >= 0 &&
        (raiiaf_writer_recompress_image(w, compression) != RAIIAF_OK ||
         raiiaf_writer_keep_png_texts(w, image, image_size, NULL, 0, NULL, 0) != RAIIAF_OK)) {
        tool_error("%s: %s", image_path, raiiaf_writer_message(w));
        goto out;
    }
    /* The AI tools' text chunks: prompt and settings where --metadata
     * left them empty, every chunk recorded. */
    if (import_text && raiiaf_writer_import_png_text(w) != RAIIAF_OK) {
        tool_error("%s: %s", image_path, raiiaf_writer_message(w));
        goto out;
    }
    free(image);
    image = NULL;
    /* Named in a new environment only: no edit_history entry (action
     * NULL), since extract + pack gives back the same image and metadata. */
    raiiaf_writer_set_software(w, "raiiaf", raiiaf_version_string(), NULL);

    for (size_t i = 0; i < latent_count; i++) {
        if (add_latent(w, &latents[i], storage) != TOOL_EXIT_OK)
            goto out;
    }
    rc = raiiaf_writer_write_file(w, out);
    if (rc != RAIIAF_OK) {
        tool_error("%s: %s", out, raiiaf_writer_message(w));
        goto out;
    }
    status = TOOL_EXIT_OK;
out:
    free(image);
    raiiaf_writer_free(w);
    return status;
}

/* "KEY=FILE", or "FILE" whose name without .npy is the key. */
static int parse_latent_arg(const char *prog, const char *spec, latent_arg *arg)
{
    const char *eq = strchr(spec, '=');
    if (eq) {
        arg->key = strndup(spec, (size_t)(eq - spec));
        arg->path = eq + 1;
    } else {
        const char *slash = strrchr(spec, '/');
        const char *base = slash ? slash + 1 : spec;
        size_t len = strlen(base);
        if (len > 4 && strcmp(base + len - 4, ".npy") == 0)
            len -= 4;
        arg->key = strndup(base, len);
        arg->path = spec;
    }
    if (!arg->key)
        return tool_usage_error(prog, "out of memory");
    if (!*arg->key)
        return tool_usage_error(prog, "--latent '%s': empty key", spec);
    if (!*arg->path)
        return tool_usage_error(prog, "--latent '%s': no file", spec);
    return TOOL_EXIT_OK;
}

enum { OPT_LATENT_STORAGE = 256, OPT_NO_IMPORT };

int cmd_pack(int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"image", required_argument, NULL, 'i'},
        {"latent", required_argument, NULL, 'l'},
        {"metadata", required_argument, NULL, 'm'},
        {"env", required_argument, NULL, 'e'},
        {"latent-storage", required_argument, NULL, OPT_LATENT_STORAGE},
        {"compression", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'f'},
        {"no-import", no_argument, NULL, OPT_NO_IMPORT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *image = NULL, *metadata = NULL, *env = NULL;
    int storage = RAIIAF_STORAGE_AUTO, compression = -1;
    bool force = false, import_text = true;
    latent_arg *latents = calloc((size_t)argc, sizeof *latents);
    size_t latent_count = 0;
    int status = TOOL_EXIT_USAGE;
    int c;
    if (!latents) {
        tool_error("out of memory");
        return TOOL_EXIT_FAILURE;
    }
    while ((c = getopt_long(argc, argv, "o:i:l:m:e:c:fh", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'i': image = optarg; break;
        case 'm': metadata = optarg; break;
        case 'e': env = optarg; break;
        case 'f': force = true; break;
        case OPT_NO_IMPORT: import_text = false; break;
        case 'l':
            if (parse_latent_arg(argv[0], optarg, &latents[latent_count]) != TOOL_EXIT_OK) {
                free(latents[latent_count].key);
                goto out;
            }
            for (size_t i = 0; i < latent_count; i++) {
                if (strcmp(latents[i].key, latents[latent_count].key) == 0) {
                    tool_usage_error(argv[0], "latent key '%s' given twice", latents[i].key);
                    free(latents[latent_count].key);
                    goto out;
                }
            }
            latent_count++;
            break;
        case OPT_LATENT_STORAGE:
            if (strcmp(optarg, "auto") == 0)
                storage = RAIIAF_STORAGE_AUTO;
            else if (strcmp(optarg, "raw") == 0)
                storage = RAIIAF_STORAGE_RAW;
            else if (strcmp(optarg, "zfp") == 0)
                storage = RAIIAF_STORAGE_ZFP;
            else {
                tool_usage_error(argv[0], "--latent-storage must be auto, raw or zfp, not '%s'", optarg);
                goto out;
            }
            break;
        case 'c': {
            char *end;
            long level = strtol(optarg, &end, 10);
            if (!*optarg || *end || level < 0 || level > 9) {
                tool_usage_error(argv[0], "--compression must be a level from 0 to 9, not '%s'", optarg);
                goto out;
            }
            compression = (int)level;
            break;
        }
        case 'h':
            print_help(stdout);
            status = TOOL_EXIT_OK;
            goto out;
        default:
            tool_usage_hint(argv[0]);
            goto out;
        }
    }
    if (optind < argc) {
        tool_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!out || !*out) {
        tool_usage_error(argv[0], "the output file (-o OUT) is required");
        goto out;
    }
    if (!image || !*image) {
        tool_usage_error(argv[0], "the image (--image IMG.png) is required");
        goto out;
    }
    struct stat st;
    if (!force && lstat(out, &st) == 0) {
        tool_error("%s already exists (--force replaces it)", out);
        status = TOOL_EXIT_FAILURE;
        goto out;
    }
    status = pack(out, image, latents, latent_count, metadata, env, storage, compression,
                  import_text);
out:
    for (size_t i = 0; i < latent_count; i++)
        free(latents[i].key);
    free(latents);
    return status;
}
