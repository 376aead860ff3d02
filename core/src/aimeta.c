/* The AI image tools' own PNG metadata: the text chunks AUTOMATIC1111 (and
 * its forks), SwarmUI, Fooocus, ComfyUI, InvokeAI and NovelAI write into
 * their PNGs. Importing recognises the tool's layout, fills the manifest's
 * fields (prompt, model, generation settings) where the file has none yet,
 * and records every text chunk as it was (type, keyword, language tag,
 * translated keyword, compression, text) under raiiaf_metadata.ai_metadata,
 * so that an exported PNG gives them back. The layouts live here and
 * nowhere else.
 *
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The extra key of raiiaf_metadata that holds what was imported. */
#define AI_KEY "ai_metadata"
/* One text is inflated and looked at up to this size (the manifest's own
 * JSON limit); a larger one is recorded by size and sha256 only and stays
 * in the embedded PNG. */
#define AI_TEXT_MAX (8u << 20)
/* What the verbatim copies may add to the manifest, once escaped as JSON:
 * well within the 8 MiB every reader accepts. */
#define AI_MANIFEST_BUDGET (4u << 20)
/* Links followed from one node of a ComfyUI graph. */
#define AI_MAX_HOPS 16
#define XMP_KEYWORD "XML:com.adobe.xmp"

/* One text chunk, from a PNG or from a host. */
typedef struct ai_text {
    char type[5];           /* tEXt, zTXt, iTXt */
    char *keyword;          /* UTF-8 */
    char *language, *translated;
    char *text;             /* UTF-8, NUL-terminated; NULL when too large */
    size_t size;            /* bytes of text, or of the chunk's data when NULL */
    bool compressed;
    uint8_t sha256[32];     /* of the chunk's data, when text is NULL */
} ai_text;

typedef struct ai_list {
    ai_text *items;
    size_t count;
    bool in_image; /* the embedded PNG keeps these chunks */
} ai_list;

static void ai_list_free(ai_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].keyword);
        free(l->items[i].language);
        free(l->items[i].translated);
        free(l->items[i].text);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* What the texts say, before it goes into the manifest. */
typedef struct ai_found {
    const char *tool;
    char *prompt, *negative, *model, *sampler, *scheduler;
    json_object *seed, *steps, *cfg; /* owned */
    json_object *settings;           /* A1111 layout: every key, as text */
    json_object *notes;              /* array of strings */
} ai_found;

static void found_free(ai_found *f)
{
    free(f->prompt);
    free(f->negative);
    free(f->model);
    free(f->sampler);
    free(f->scheduler);
    json_object_put(f->seed);
    json_object_put(f->steps);
    json_object_put(f->cfg);
    json_object_put(f->settings);
    json_object_put(f->notes);
}

/* Text cut to a fixed buffer may end inside a UTF-8 sequence: every byte
 * that is not valid UTF-8 becomes '?', the manifest holding UTF-8 only. */
static void utf8_sanitize(char *s)
{
    size_t n = strlen(s), at;
    while ((at = rf_utf8_valid_prefix((const unsigned char *)s, n)) < n)
        s[at] = '?';
}

static void note(ai_found *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ai_found *f, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    utf8_sanitize(text);
    if (!f->notes)
        f->notes = json_object_new_array();
    if (f->notes)
        json_object_array_add(f->notes, json_object_new_string(text));
}

static void set_str(char **dst, const char *s, size_t n)
{
    if (*dst || !s)
        return;
    *dst = rf_strndup(s, n);
    if (*dst) /* a \u escape of half a surrogate pair decodes to no UTF-8 */
        utf8_sanitize(*dst);
}

static void set_cstr(char **dst, const char *s)
{
    if (s && *s)
        set_str(dst, s, strlen(s));
}

/* ---- reading the chunks of a PNG --------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char *utf8_or_latin1(const uint8_t *s, size_t n)
{
    if (rf_utf8_valid_prefix(s, n) == n)
        return rf_strndup((const char *)s, n);
    return rf_latin1_to_utf8(s, n, NULL);
}

static int list_add(ai_list *l, ai_text *t, rf_msg *msg)
{
    ai_text *items = realloc(l->items, (l->count + 1) * sizeof *items);
    if (!items)
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    l->items = items;
    l->items[l->count++] = *t;
    return RAIIAF_OK;
}

static void text_free(ai_text *t)
{
    free(t->keyword);
    free(t->language);
    free(t->translated);
    free(t->text);
}

/* One tEXt, zTXt or iTXt chunk. A chunk that cannot be read (no keyword,
 * bad zlib data) is left out: importing never fails the conversion; the
 * PNG keeps it. */
static int read_chunk(const uint8_t *type, const uint8_t *d, uint32_t len, ai_list *l,
                      rf_msg *msg)
{
    const uint8_t *nul = memchr(d, 0, len);
    if (!nul || nul == d || nul - d > 79)
        return RAIIAF_OK;
    ai_text t;
    memset(&t, 0, sizeof t);
    memcpy(t.type, type, 4);
    const uint8_t *p = nul + 1, *end = d + len, *body = NULL;
    bool latin1 = true;
    t.keyword = rf_latin1_to_utf8(d, (size_t)(nul - d), NULL);
    if (!t.keyword)
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    if (!memcmp(type, "tEXt", 4)) {
        body = p;
    } else if (!memcmp(type, "zTXt", 4)) {
        t.compressed = true;
        if (p < end && *p == 0)
            body = p + 1;
    } else {
        latin1 = false;
        if (end - p >= 2 && p[0] <= 1 && (!p[0] || p[1] == 0)) {
            t.compressed = p[0];
            const uint8_t *lang = p + 2;
            const uint8_t *lnul = memchr(lang, 0, (size_t)(end - lang));
            const uint8_t *trans = lnul ? lnul + 1 : NULL;
            const uint8_t *tnul = trans ? memchr(trans, 0, (size_t)(end - trans)) : NULL;
            if (tnul) {
                t.language = utf8_or_latin1(lang, (size_t)(lnul - lang));
                t.translated = utf8_or_latin1(trans, (size_t)(tnul - trans));
                if (!t.language || !t.translated) {
                    text_free(&t);
                    return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
                }
                body = tnul + 1;
            }
        }
    }
    if (!body || !strcmp(t.keyword, XMP_KEYWORD)) { /* XMP goes its own way */
        text_free(&t);
        return RAIIAF_OK;
    }
    size_t n = (size_t)(end - body);
    char *raw = NULL;
    size_t raw_size = 0;
    int zr = 0;
    if (t.compressed)
        zr = rf_inflate_capped(body, n, AI_TEXT_MAX, &raw, &raw_size);
    else if (n > AI_TEXT_MAX)
        zr = RF_INFLATE_TOO_LARGE;
    if (zr == RF_INFLATE_NOMEM) {
        text_free(&t);
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    }
    if (zr == RF_INFLATE_CORRUPT) {
        text_free(&t);
        return RAIIAF_OK;
    }
    if (zr == RF_INFLATE_TOO_LARGE) { /* too large to look at: by size and digest */
        t.size = n;
        rf_sha256(body, n, t.sha256);
    } else {
        const uint8_t *src = t.compressed ? (const uint8_t *)raw : body;
        size_t sn = t.compressed ? raw_size : n;
        /* iTXt that is not UTF-8 is read as Latin-1: the manifest holds
         * UTF-8 only. */
        if (!latin1 && rf_utf8_valid_prefix(src, sn) == sn) {
            t.text = rf_strndup((const char *)src, sn);
            t.size = sn;
        } else {
            t.text = rf_latin1_to_utf8(src, sn, &t.size);
        }
        free(raw);
        if (!t.text) {
            text_free(&t);
            return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        }
        /* iTXt text that is not UTF-8, or holds a NUL: kept by digest */
        if (memchr(t.text, 0, t.size)) {
            free(t.text);
            t.text = NULL;
            t.size = n;
            rf_sha256(body, n, t.sha256);
        }
    }
    int err = list_add(l, &t, msg);
    if (err)
        text_free(&t);
    return err;
}

static int read_png_texts(const uint8_t *png, size_t size, ai_list *l, rf_msg *msg)
{
    size_t pos = 8;
    while (pos + 12 <= size) {
        uint32_t len = be32(png + pos);
        const uint8_t *type = png + pos + 4;
        if (len > size - pos - 12)
            break;
        if (!memcmp(type, "tEXt", 4) || !memcmp(type, "zTXt", 4) || !memcmp(type, "iTXt", 4)) {
            int err = read_chunk(type, png + pos + 8, len, l, msg);
            if (err)
                return err;
        } else if (!memcmp(type, "IEND", 4)) {
            break;
        }
        pos += 12 + (size_t)len;
    }
    return RAIIAF_OK;
}

/* ---- helpers for the layouts ------------------------------------------- */

static const ai_text *find(const ai_list *l, const char *keyword)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].text && !strcmp(l->items[i].keyword, keyword))
            return &l->items[i];
    return NULL;
}

/* A text's JSON, within the default limits; NULL if it is not JSON. */
static json_object *parse_json(const ai_text *t, ai_found *f)
{
    if (!t || !t->text)
        return NULL;
    const char *s = t->text;
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    if (*s != '{' && *s != '[')
        return NULL;
    json_object *obj = NULL;
    rf_msg m;
    if (rf_json_parse_limited(t->text, t->size, NULL, &obj, &m, t->keyword) != RAIIAF_OK) {
        note(f, "%s", m.text);
        return NULL;
    }
    return obj;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = rf_json_get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* An integer from a JSON number or numeric string ("42"); NULL otherwise. */
static json_object *int_value(json_object *v)
{
    if (!v)
        return NULL;
    if (json_object_is_type(v, json_type_int))
        return json_object_get(v);
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d == floor(d) && fabs(d) < 9.0e15)
            return json_object_new_int64((int64_t)d);
        return NULL;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        errno = 0;
        if (*s == '-') {
            long long x = strtoll(s, &end, 10);
            return *s && !*end && !errno ? json_object_new_int64(x) : NULL;
        }
        unsigned long long x = strtoull(s, &end, 10);
        if (!*s || *end || errno || *s == ' ')
            return NULL;
        return json_object_new_uint64(x);
    }
    return NULL;
}

static json_object *number_value(json_object *v)
{
    if (!v)
        return NULL;
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        return rf_json_new_double(json_object_get_double(v));
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        double d = strtod(s, &end);
        if (*s && !*end && isfinite(d) && !strpbrk(s, "xXnNiI "))
            return rf_json_new_double(d);
    }
    return NULL;
}

static json_object *text_number(const char *s, bool integer)
{
    if (!s)
        return NULL;
    json_object *str = json_object_new_string(s);
    json_object *v = integer ? int_value(str) : number_value(str);
    json_object_put(str);
    return v;
}

static void set_json(json_object **dst, json_object *v)
{
    if (*dst || !v) {
        json_object_put(v);
        return;
    }
    *dst = v;
}

/* The text of a JSON value that is a string, or of a number. */
static const char *scalar_text(json_object *v, char *buf, size_t n)
{
    if (!v)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        snprintf(buf, n, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return buf;
    }
    return NULL;
}

/* ---- AUTOMATIC1111 and forks: "parameters" ----------------------------- */

/* The settings line: `Key: value, Key: "quoted, value", ...`. Returns the
 * pairs as a JSON object of strings, NULL when the line is not one (fewer
 * than three pairs, as the web UI's own parser requires). */
static json_object *a1111_settings(const char *s, size_t n)
{
    json_object *obj = json_object_new_object();
    size_t i = 0, pairs = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        size_t k0 = i;
        while (i < n && s[i] != ':' && s[i] != ',' && s[i] != '"')
            i++;
        if (i >= n || s[i] != ':' || i == k0)
            break;
        size_t k1 = i;
        while (k1 > k0 && s[k1 - 1] == ' ')
            k1--;
        i++;
        while (i < n && s[i] == ' ')
            i++;
        json_object *value = NULL;
        if (i < n && s[i] == '"') {
            size_t q0 = i++;
            while (i < n && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            if (i >= n)
                break;
            i++;
            json_object *str = NULL;
            rf_msg m;
            if (rf_json_parse_limited(s + q0, i - q0, NULL, &str, &m, "parameters") == RAIIAF_OK &&
                json_object_is_type(str, json_type_string) &&
                rf_utf8_valid_prefix((const unsigned char *)json_object_get_string(str),
                                     (size_t)json_object_get_string_len(str)) ==
                    (size_t)json_object_get_string_len(str))
                value = str;
            else {
                json_object_put(str);
                value = json_object_new_string_len(s + q0, (int)(i - q0));
            }
        } else {
            size_t v0 = i;
            while (i < n && s[i] != ',')
                i++;
            size_t v1 = i;
            while (v1 > v0 && s[v1 - 1] == ' ')
                v1--;
            value = json_object_new_string_len(s + v0, (int)(v1 - v0));
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(k1 - k0 < 127 ? k1 - k0 : 127), s + k0);
        utf8_sanitize(key);
        json_object_object_add(obj, key, value);
        pairs++;
        while (i < n && s[i] == ' ')
            i++;
        if (i < n && s[i] != ',')
            break;
        i++;
    }
    if (pairs < 3 || i < n) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Lines stripped and joined as the web UI's parser does. */
static void append_line(rf_buf *b, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (b->size)
        rf_buf_append(b, "\n", 1);
    rf_buf_append(b, s, n);
}

static bool parse_a1111(const char *text, size_t size, ai_found *f)
{
    const char *nl = NULL;
    for (size_t i = size; i-- > 0;)
        if (text[i] == '\n') {
            nl = text + i;
            break;
        }
    const char *last = nl ? nl + 1 : text;
    json_object *settings = a1111_settings(last, size - (size_t)(last - text));
    if (!settings || !rf_json_get(settings, "Steps")) {
        json_object_put(settings);
        return false;
    }
    rf_buf prompt = {0}, neg = {0};
    bool in_neg = false;
    size_t end = nl ? (size_t)(nl - text) : 0;
    for (size_t i = 0; i < end;) {
        const char *line = text + i;
        const char *e = memchr(line, '\n', end - i);
        size_t n = e ? (size_t)(e - line) : end - i;
        const char *l = line;
        size_t ln = n;
        while (ln && (*l == ' ' || *l == '\t'))
            l++, ln--;
        if (ln >= 16 && !memcmp(l, "Negative prompt:", 16)) {
            in_neg = true;
            l += 16, ln -= 16;
        }
        append_line(in_neg ? &neg : &prompt, l, ln);
        i += n + 1;
    }
    if (prompt.size)
        set_str(&f->prompt, (const char *)prompt.data, prompt.size);
    if (neg.size)
        set_str(&f->negative, (const char *)neg.data, neg.size);
    rf_buf_free(&prompt);
    rf_buf_free(&neg);
    set_json(&f->steps, text_number(jstr(settings, "Steps"), true));
    set_json(&f->seed, text_number(jstr(settings, "Seed"), true));
    set_json(&f->cfg, text_number(jstr(settings, "CFG scale"), false));
    set_cstr(&f->sampler, jstr(settings, "Sampler"));
    set_cstr(&f->scheduler, jstr(settings, "Schedule type"));
    set_cstr(&f->model, jstr(settings, "Model"));
    if (!f->settings)
        f->settings = settings;
    else
        json_object_put(settings);
    return true;
}

/* ---- JSON layouts: SwarmUI, Fooocus, InvokeAI, NovelAI ----------------- */

/* Takes the fields named in one object. */
typedef struct json_map {
    const char *prompt, *negative, *model, *seed, *steps, *cfg, *sampler, *scheduler;
} json_map;

static void take_json(json_object *o, const json_map *m, ai_found *f)
{
    char buf[64];
    if (m->prompt)
        set_cstr(&f->prompt, jstr(o, m->prompt));
    if (m->negative)
        set_cstr(&f->negative, jstr(o, m->negative));
    if (m->model) {
        json_object *mv = rf_json_get(o, m->model);
        if (mv && json_object_is_type(mv, json_type_object)) {
            /* InvokeAI 3: {"model_name"}, 4+: {"name"} */
            const char *name = jstr(mv, "name");
            set_cstr(&f->model, name ? name : jstr(mv, "model_name"));
        } else {
            set_cstr(&f->model, jstr(o, m->model));
        }
    }
    if (m->seed)
        set_json(&f->seed, int_value(rf_json_get(o, m->seed)));
    if (m->steps)
        set_json(&f->steps, int_value(rf_json_get(o, m->steps)));
    if (m->cfg)
        set_json(&f->cfg, number_value(rf_json_get(o, m->cfg)));
    if (m->sampler)
        set_cstr(&f->sampler, scalar_text(rf_json_get(o, m->sampler), buf, sizeof buf));
    if (m->scheduler)
        set_cstr(&f->scheduler, scalar_text(rf_json_get(o, m->scheduler), buf, sizeof buf));
}

static bool parse_swarm(json_object *root, ai_found *f)
{
    json_object *p = rf_json_get(root, "sui_image_params");
    if (!p || !json_object_is_type(p, json_type_object))
        return false;
    f->tool = "SwarmUI";
    static const json_map m = {"prompt", "negativeprompt", "model", "seed", "steps", "cfgscale",
                               "sampler", "scheduler"};
    take_json(p, &m, f);
    return true;
}

static bool parse_fooocus(json_object *root, ai_found *f)
{
    if (!root || !json_object_is_type(root, json_type_object))
        return false;
    f->tool = "Fooocus";
    static const json_map m = {"prompt", "negative_prompt", "base_model", "seed", "steps",
                               "guidance_scale", "sampler", "scheduler"};
    take_json(root, &m, f);
    return true;
}

static void parse_invokeai(json_object *root, ai_found *f)
{
    /* InvokeAI's "scheduler" is the sampler (euler, dpmpp_2m, ...). */
    static const json_map m = {"positive_prompt", "negative_prompt", "model", "seed", "steps",
                               "cfg_scale", "scheduler", NULL};
    take_json(root, &m, f);
}

/* InvokeAI 2: {"model_weights", "image": {"prompt": str or [{"prompt"}], ...}} */
static void parse_sd_metadata(json_object *root, ai_found *f)
{
    json_object *img = rf_json_get(root, "image");
    if (!img || !json_object_is_type(img, json_type_object))
        return;
    json_object *pr = rf_json_get(img, "prompt");
    if (pr && json_object_is_type(pr, json_type_array) && json_object_array_length(pr) == 1)
        pr = rf_json_get(json_object_array_get_idx(pr, 0), "prompt");
    if (pr && json_object_is_type(pr, json_type_string))
        set_cstr(&f->prompt, json_object_get_string(pr));
    set_cstr(&f->model, jstr(root, "model_weights"));
    static const json_map m = {NULL, NULL, NULL, "seed", "steps", "cfg_scale", "sampler", NULL};
    take_json(img, &m, f);
}

/* InvokeAI 1 "Dream": "a prompt" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms */
static bool parse_dream(const char *s, ai_found *f)
{
    while (*s == ' ')
        s++;
    if (*s != '"')
        return false;
    rf_buf prompt = {0};
    const char *p = s + 1;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        rf_buf_append(&prompt, p, 1);
        p++;
    }
    if (*p != '"') {
        rf_buf_free(&prompt);
        return false;
    }
    set_str(&f->prompt, (const char *)prompt.data, prompt.size);
    rf_buf_free(&prompt);
    p++;
    while (*p) {
        while (*p == ' ')
            p++;
        if (p[0] != '-' || !p[1] || p[2] != ' ') {
            while (*p && *p != ' ')
                p++;
            continue;
        }
        char flag = p[1];
        p += 3;
        const char *v = p;
        while (*p && *p != ' ')
            p++;
        char value[128];
        snprintf(value, sizeof value, "%.*s", (int)(p - v < 127 ? p - v : 127), v);
        utf8_sanitize(value);
        if (flag == 's')
            set_json(&f->steps, text_number(value, true));
        else if (flag == 'S')
            set_json(&f->seed, text_number(value, true));
        else if (flag == 'C')
            set_json(&f->cfg, text_number(value, false));
        else if (flag == 'A')
            set_cstr(&f->sampler, value);
    }
    return true;
}

static void parse_novelai(const ai_list *l, ai_found *f)
{
    const ai_text *d = find(l, "Description"), *src = find(l, "Source");
    if (d)
        set_str(&f->prompt, d->text, d->size);
    json_object *c = parse_json(find(l, "Comment"), f);
    if (c && json_object_is_type(c, json_type_object)) {
        static const json_map m = {"prompt", "uc", NULL, "seed", "steps", "scale", "sampler",
                                   "noise_schedule"};
        take_json(c, &m, f);
    }
    json_object_put(c);
    if (src)
        set_str(&f->model, src->text, src->size);
}

/* ---- ComfyUI: the API graph ("prompt") --------------------------------- */

static json_object *node_of(json_object *graph, json_object *link)
{
    if (!link || !json_object_is_type(link, json_type_array) ||
        json_object_array_length(link) != 2)
        return NULL;
    json_object *id = json_object_array_get_idx(link, 0);
    char buf[32];
    const char *key = scalar_text(id, buf, sizeof buf);
    json_object *node = key ? rf_json_get(graph, key) : NULL;
    return node && json_object_is_type(node, json_type_object) ? node : NULL;
}

static const char *class_of(json_object *node)
{
    const char *c = jstr(node, "class_type");
    return c ? c : "";
}

/* An input's value, following a link to a node that holds exactly one
 * value of the kind wanted (a primitive node); NULL when unclear. */
static json_object *input_value(json_object *graph, json_object *node, const char *name,
                                json_type want)
{
    json_object *v = rf_json_get(rf_json_get(node, "inputs"), name);
    for (int hop = 0; v && hop < AI_MAX_HOPS; hop++) {
        if (json_object_is_type(v, json_type_array)) {
            json_object *src = rf_json_get(node_of(graph, v), "inputs");
            json_object *only = NULL;
            int count = 0;
            if (src && json_object_is_type(src, json_type_object)) {
                json_object_object_foreach(src, k, x)
                {
                    (void)k;
                    bool kind = want == json_type_string
                                    ? json_object_is_type(x, json_type_string)
                                    : json_object_is_type(x, json_type_int) ||
                                          json_object_is_type(x, json_type_double);
                    if (kind || json_object_is_type(x, json_type_array)) {
                        only = x;
                        count++;
                    }
                }
            }
            v = count == 1 ? only : NULL;
            continue;
        }
        if (want == json_type_string ? json_object_is_type(v, json_type_string)
                                     : json_object_is_type(v, json_type_int) ||
                                           json_object_is_type(v, json_type_double))
            return v;
        return NULL;
    }
    return NULL;
}

/* The prompt text behind a sampler's positive or negative input: a
 * CLIPTextEncode-like node's text, through nodes with one conditioning
 * input. */
static const char *conditioning_text(json_object *graph, json_object *link)
{
    json_object *node = node_of(graph, link);
    for (int hop = 0; node && hop < AI_MAX_HOPS; hop++) {
        if (strstr(class_of(node), "TextEncode")) {
            static const char *const names[] = {"text", "text_g", "prompt"};
            for (size_t i = 0; i < 3; i++) {
                json_object *v = input_value(graph, node, names[i], json_type_string);
                if (v)
                    return json_object_get_string(v);
            }
            return NULL;
        }
        json_object *in = rf_json_get(node, "inputs");
        json_object *next = NULL;
        int count = 0;
        if (in && json_object_is_type(in, json_type_object)) {
            json_object_object_foreach(in, k, v)
            {
                if (strstr(k, "conditioning") && json_object_is_type(v, json_type_array)) {
                    next = v;
                    count++;
                }
            }
        }
        node = count == 1 ? node_of(graph, next) : NULL;
    }
    return NULL;
}

/* The checkpoint behind a sampler's model input, through LoRA and other
 * model-patching nodes. */
static const char *model_name(json_object *graph, json_object *link)
{
    json_object *node = node_of(graph, link);
    for (int hop = 0; node && hop < AI_MAX_HOPS; hop++) {
        static const char *const names[] = {"ckpt_name", "unet_name", "model_name"};
        for (size_t i = 0; i < 3; i++) {
            json_object *v = input_value(graph, node, names[i], json_type_string);
            if (v)
                return json_object_get_string(v);
        }
        node = node_of(graph, rf_json_get(rf_json_get(node, "inputs"), "model"));
    }
    return NULL;
}

static bool is_sampler(json_object *node)
{
    const char *c = class_of(node);
    return strstr(c, "KSampler") ||
           (strstr(c, "Sampler") && rf_json_get(rf_json_get(node, "inputs"), "positive"));
}

static bool parse_comfy(json_object *graph, ai_found *f)
{
    if (!graph || !json_object_is_type(graph, json_type_object))
        return false;
    size_t nodes = 0, samplers = 0, loaders = 0;
    json_object *sampler = NULL, *loader = NULL;
    char ids[160] = "";
    json_object_object_foreach(graph, id, node)
    {
        if (!json_object_is_type(node, json_type_object) || !jstr(node, "class_type"))
            return false;
        nodes++;
        if (is_sampler(node)) {
            sampler = node;
            size_t len = strlen(ids);
            if (len < sizeof ids - 16)
                snprintf(ids + len, sizeof ids - len, "%s%s", samplers ? ", " : "", id);
            samplers++;
        }
        if (rf_json_get(rf_json_get(node, "inputs"), "ckpt_name")) {
            loader = node;
            loaders++;
        }
    }
    if (!nodes)
        return false;
    f->tool = "ComfyUI";
    if (samplers != 1) {
        if (samplers)
            note(f, "ComfyUI graph has %zu sampler nodes (%s): no prompt or settings taken",
                 samplers, ids);
        else
            note(f, "ComfyUI graph has no sampler node: no prompt or settings taken");
        if (loaders == 1) {
            json_object *v = input_value(graph, loader, "ckpt_name", json_type_string);
            if (v)
                set_cstr(&f->model, json_object_get_string(v));
        }
        return true;
    }
    json_object *in = rf_json_get(sampler, "inputs");
    const char *pos = conditioning_text(graph, rf_json_get(in, "positive"));
    const char *neg = conditioning_text(graph, rf_json_get(in, "negative"));
    if (pos)
        set_cstr(&f->prompt, pos);
    if (neg)
        set_cstr(&f->negative, neg);
    set_cstr(&f->model, model_name(graph, rf_json_get(in, "model")));
    json_object *seed = input_value(graph, sampler, "seed", json_type_int);
    if (!seed)
        seed = input_value(graph, sampler, "noise_seed", json_type_int);
    set_json(&f->seed, int_value(seed));
    set_json(&f->steps, int_value(input_value(graph, sampler, "steps", json_type_int)));
    set_json(&f->cfg, number_value(input_value(graph, sampler, "cfg", json_type_int)));
    json_object *s = input_value(graph, sampler, "sampler_name", json_type_string);
    if (s)
        set_cstr(&f->sampler, json_object_get_string(s));
    s = input_value(graph, sampler, "scheduler", json_type_string);
    if (s)
        set_cstr(&f->scheduler, json_object_get_string(s));
    return true;
}

/* ---- ComfyUI: the UI graph ("workflow"), when there is no API graph ---- */

static json_object *ui_node(json_object *nodes, int64_t id)
{
    size_t n = json_object_array_length(nodes);
    for (size_t i = 0; i < n; i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        json_object *v = rf_json_get(node, "id");
        if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == id)
            return node;
    }
    return NULL;
}

/* The node feeding input `name` of `node`: links are [id, from_node,
 * from_slot, to_node, to_slot, type]. */
static json_object *ui_source(json_object *nodes, json_object *links, json_object *node,
                              const char *name)
{
    json_object *inputs = rf_json_get(node, "inputs");
    size_t n = inputs && json_object_is_type(inputs, json_type_array)
                   ? json_object_array_length(inputs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *in = json_object_array_get_idx(inputs, i);
        const char *iname = jstr(in, "name");
        json_object *link = rf_json_get(in, "link");
        if (!iname || strcmp(iname, name) || !link || !json_object_is_type(link, json_type_int))
            continue;
        size_t m = json_object_array_length(links);
        for (size_t k = 0; k < m; k++) {
            json_object *l = json_object_array_get_idx(links, k);
            if (!json_object_is_type(l, json_type_array) || json_object_array_length(l) < 4)
                continue;
            json_object *lid = json_object_array_get_idx(l, 0);
            json_object *from = json_object_array_get_idx(l, 1);
            if (json_object_is_type(lid, json_type_int) && json_object_is_type(from, json_type_int) &&
                json_object_get_int64(lid) == json_object_get_int64(link))
                return ui_node(nodes, json_object_get_int64(from));
        }
    }
    return NULL;
}

static json_object *ui_widget(json_object *node, size_t index, json_type type)
{
    json_object *w = rf_json_get(node, "widgets_values");
    if (!w || !json_object_is_type(w, json_type_array) || index >= json_object_array_length(w))
        return NULL;
    json_object *v = json_object_array_get_idx(w, index);
    if (type == json_type_double)
        return v && (json_object_is_type(v, json_type_int) ||
                     json_object_is_type(v, json_type_double)) ? v : NULL;
    return v && json_object_is_type(v, type) ? v : NULL;
}

static const char *ui_type(json_object *node)
{
    const char *t = jstr(node, "type");
    return t ? t : "";
}

static bool parse_comfy_ui(json_object *root, ai_found *f)
{
    json_object *nodes = rf_json_get(root, "nodes"), *links = rf_json_get(root, "links");
    if (!nodes || !links || !json_object_is_type(nodes, json_type_array) ||
        !json_object_is_type(links, json_type_array))
        return false;
    f->tool = "ComfyUI";
    json_object *sampler = NULL, *loader = NULL;
    size_t samplers = 0, loaders = 0, n = json_object_array_length(nodes);
    for (size_t i = 0; i < n; i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        if (strstr(ui_type(node), "KSampler")) {
            sampler = node;
            samplers++;
        }
        if (strstr(ui_type(node), "CheckpointLoader")) {
            loader = node;
            loaders++;
        }
    }
    /* KSampler: seed, control, steps, cfg, sampler, scheduler, denoise;
     * KSamplerAdvanced: add_noise, seed, control, steps, cfg, sampler, ... */
    bool plain = sampler && !strcmp(ui_type(sampler), "KSampler");
    bool advanced = sampler && !strcmp(ui_type(sampler), "KSamplerAdvanced");
    if (samplers != 1 || (!plain && !advanced)) {
        note(f, "ComfyUI workflow (no API graph) has %zu sampler nodes%s: no prompt or settings "
             "taken", samplers, samplers == 1 ? " of an unknown kind" : "");
        json_object *ck = loaders == 1 ? ui_widget(loader, 0, json_type_string) : NULL;
        if (ck)
            set_cstr(&f->model, json_object_get_string(ck));
        return true;
    }
    size_t o = advanced ? 1 : 0;
    set_json(&f->seed, int_value(ui_widget(sampler, o, json_type_int)));
    set_json(&f->steps, int_value(ui_widget(sampler, o + 2, json_type_int)));
    set_json(&f->cfg, number_value(ui_widget(sampler, o + 3, json_type_double)));
    json_object *v = ui_widget(sampler, o + 4, json_type_string);
    if (v)
        set_cstr(&f->sampler, json_object_get_string(v));
    if ((v = ui_widget(sampler, o + 5, json_type_string)))
        set_cstr(&f->scheduler, json_object_get_string(v));
    static const char *const sides[] = {"positive", "negative"};
    for (size_t k = 0; k < 2; k++) {
        json_object *enc = ui_source(nodes, links, sampler, sides[k]);
        json_object *text = enc && strstr(ui_type(enc), "TextEncode")
                                ? ui_widget(enc, 0, json_type_string) : NULL;
        if (text)
            set_cstr(k ? &f->negative : &f->prompt, json_object_get_string(text));
    }
    json_object *m = ui_source(nodes, links, sampler, "model");
    for (int hop = 0; m && hop < AI_MAX_HOPS; hop++) {
        if (strstr(ui_type(m), "CheckpointLoader") || strstr(ui_type(m), "UNETLoader")) {
            json_object *ck = ui_widget(m, 0, json_type_string);
            if (ck)
                set_cstr(&f->model, json_object_get_string(ck));
            break;
        }
        m = ui_source(nodes, links, m, "model");
    }
    return true;
}

/* ---- recognising the tool ---------------------------------------------- */

static void recognise(const ai_list *l, ai_found *f)
{
    const ai_text *t;
    json_object *j;
    /* ComfyUI: the API graph; the UI graph ("workflow") is kept as is. */
    if ((t = find(l, "prompt")) && (j = parse_json(t, f))) {
        bool ok = parse_comfy(j, f);
        json_object_put(j);
        if (ok)
            return;
    }
    if (!f->tool && (t = find(l, "workflow"))) {
        j = parse_json(t, f);
        bool ok = j && parse_comfy_ui(j, f);
        json_object_put(j);
        if (!ok) {
            f->tool = "ComfyUI";
            note(f, "ComfyUI workflow that cannot be read, without an API graph: no prompt or "
                    "settings taken");
        }
        return;
    }
    if ((t = find(l, "invokeai_metadata"))) {
        f->tool = "InvokeAI";
        if ((j = parse_json(t, f)))
            parse_invokeai(j, f);
        json_object_put(j);
        return;
    }
    if ((t = find(l, "sd-metadata"))) {
        f->tool = "InvokeAI";
        if ((j = parse_json(t, f)))
            parse_sd_metadata(j, f);
        json_object_put(j);
        return;
    }
    if ((t = find(l, "Dream"))) {
        f->tool = "InvokeAI";
        if (!parse_dream(t->text, f))
            note(f, "Dream text matches no known layout");
        return;
    }
    if ((t = find(l, "Software")) && !strncmp(t->text, "NovelAI", 7)) {
        f->tool = "NovelAI";
        parse_novelai(l, f);
        return;
    }
    const ai_text *params = find(l, "parameters");
    if (find(l, "fooocus_scheme")) {
        f->tool = "Fooocus";
        j = parse_json(params, f);
        if (j)
            parse_fooocus(j, f);
        else if (params && !parse_a1111(params->text, params->size, f))
            note(f, "parameters text matches no known layout");
        json_object_put(j);
        return;
    }
    if (!params)
        return;
    if ((j = parse_json(params, f))) {
        if (!parse_swarm(j, f)) {
            if (jstr(j, "base_model") || rf_json_get(j, "guidance_scale"))
                parse_fooocus(j, f);
            else
                note(f, "parameters JSON matches no known layout");
        }
        json_object_put(j);
        return;
    }
    if (parse_a1111(params->text, params->size, f))
        f->tool = "AUTOMATIC1111";
    else
        note(f, "parameters text matches no known layout");
}

/* ---- into the manifest ------------------------------------------------- */

/* What a string costs once written as a JSON string. */
static size_t escaped_size(const char *s, size_t n)
{
    size_t cost = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        cost += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 2 : c < 0x20 ? 6 : 1;
    }
    return cost;
}

static json_object *chunk_record(const ai_text *t, size_t *budget, bool in_image)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "chunk", json_object_new_string(t->type));
    json_object_object_add(o, "keyword", json_object_new_string(t->keyword));
    if (!strcmp(t->type, "iTXt")) {
        json_object_object_add(o, "language", json_object_new_string(t->language ? t->language : ""));
        json_object_object_add(o, "translated_keyword",
                               json_object_new_string(t->translated ? t->translated : ""));
    }
    json_object_object_add(o, "compressed", json_object_new_boolean(t->compressed));
    size_t cost = t->text ? escaped_size(t->text, t->size) : 0;
    if (t->text && cost <= *budget) {
        *budget -= cost;
        json_object_object_add(o, "text", json_object_new_string_len(t->text, (int)t->size));
    } else {
        /* Too large for the manifest: the embedded PNG keeps it, when it
         * has the chunks; otherwise only its size and digest are left. */
        uint8_t h[32];
        char hex[65];
        if (t->text)
            rf_sha256(t->text, t->size, h);
        rf_hex(t->text ? h : t->sha256, 32, hex);
        json_object_object_add(o, "size", json_object_new_int64((int64_t)t->size));
        json_object_object_add(o, t->text ? "text_sha256" : "data_sha256",
                               json_object_new_string(hex));
        json_object_object_add(o, "in_image", json_object_new_boolean(in_image));
    }
    return o;
}

static bool empty_field(json_object *mi, const char *key)
{
    json_object *v = rf_json_get(mi, key);
    return !v || (json_object_is_type(v, json_type_string) && !json_object_get_string_len(v));
}

static void fill(json_object *mi, const char *key, const char *value)
{
    if (value && *value && empty_field(mi, key))
        json_object_object_add(mi, key, json_object_new_string(value));
}

static bool valid_int(json_object *v, int64_t min)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return false;
    return json_object_get_int64(v) >= min;
}

static int apply(json_object *mi, json_object *extras, const ai_list *l, ai_found *f,
                 rf_msg *msg)
{
    fill(mi, "prompt", f->prompt);
    fill(mi, "negative_prompt", f->negative);
    fill(mi, "model_name", f->model);

    json_object *gs = json_object_new_object();
    if (f->seed)
        json_object_object_add(gs, "seed", json_object_get(f->seed));
    if (f->steps)
        json_object_object_add(gs, "steps", json_object_get(f->steps));
    if (f->sampler)
        json_object_object_add(gs, "sampler", json_object_new_string(f->sampler));
    if (f->cfg)
        json_object_object_add(gs, "cfg_scale", json_object_get(f->cfg));
    if (f->scheduler)
        json_object_object_add(gs, "scheduler", json_object_new_string(f->scheduler));

    json_object *ai = json_object_new_object();
    if (!gs || !ai) {
        json_object_put(gs);
        json_object_put(ai);
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    }
    if (f->tool)
        json_object_object_add(ai, "tool", json_object_new_string(f->tool));
    /* The reference requires seed, steps and sampler of any
     * generation_settings: settings lacking one stay here. */
    bool complete = valid_int(f->seed, 0) && valid_int(f->steps, 1) && f->sampler;
    json_object *old = rf_json_get(mi, "generation_settings");
    bool have = old && json_object_is_type(old, json_type_object) &&
                json_object_object_length(old) > 0;
    if (json_object_object_length(gs) && complete && !have) {
        json_object_object_add(mi, "generation_settings", gs);
    } else {
        if (json_object_object_length(gs) && !complete)
            note(f, "generation settings without seed, steps or sampler: kept here, not in "
                    "model_info");
        if (json_object_object_length(gs))
            json_object_object_add(ai, "generation_settings", gs);
        else
            json_object_put(gs);
    }
    if (f->settings) {
        json_object_object_add(ai, "settings", f->settings);
        f->settings = NULL;
    }
    if (f->notes) {
        json_object_object_add(ai, "notes", f->notes);
        f->notes = NULL;
    }
    json_object *chunks = json_object_new_array();
    size_t budget = AI_MANIFEST_BUDGET;
    for (size_t i = 0; i < l->count; i++)
        json_object_array_add(chunks, chunk_record(&l->items[i], &budget, l->in_image));
    json_object_object_add(ai, "png_text", chunks);
    json_object_object_add(extras, AI_KEY, ai);
    return RAIIAF_OK;
}

/* Keywords that only the AI tools write; "Software", "Comment", ...
 * count only with a tool recognised. */
static bool tool_keyword(const char *k)
{
    return raiiaf_is_ai_text_keyword(k) && strcmp(k, "Software") && strcmp(k, "Description") &&
           strcmp(k, "Comment") && strcmp(k, "Title") && strcmp(k, "Source") &&
           strcmp(k, "Generation time");
}

static int import(json_object *mi, json_object *extras, ai_list *l, rf_msg *msg)
{
    /* A re-written file's manifest already holds its record. */
    if (!l->count || rf_json_get(extras, AI_KEY))
        return RAIIAF_OK;
    ai_found f;
    memset(&f, 0, sizeof f);
    recognise(l, &f);
    bool any = f.tool != NULL;
    for (size_t i = 0; i < l->count && !any; i++)
        any = tool_keyword(l->items[i].keyword);
    if (!any) { /* no AI tool's text: nothing to record */
        found_free(&f);
        return RAIIAF_OK;
    }
    int err = apply(mi, extras, l, &f, msg);
    found_free(&f);
    return err;
}

int rf_ai_import_png(json_object *mi, json_object *extras, const uint8_t *png, size_t size,
                     bool in_image, rf_msg *msg)
{
    ai_list l = {.in_image = in_image};
    int err = read_png_texts(png, size, &l, msg);
    if (!err)
        err = import(mi, extras, &l, msg);
    ai_list_free(&l);
    return err;
}

int rf_ai_import_texts(json_object *mi, json_object *extras, const raiiaf_png_text *texts,
                       size_t count, rf_msg *msg)
{
    ai_list l = {.in_image = true}; /* hosts write them into their PNG */
    int err = RAIIAF_OK;
    for (size_t i = 0; !err && i < count; i++) {
        const raiiaf_png_text *in = &texts[i];
        if (!in->keyword || !*in->keyword || !in->text || !strcmp(in->keyword, XMP_KEYWORD))
            continue;
        ai_text t;
        memset(&t, 0, sizeof t);
        memcpy(t.type, in->international ? "iTXt" : in->compressed ? "zTXt" : "tEXt", 5);
        t.compressed = in->compressed;
        const char *lang = in->language ? in->language : "";
        const char *trans = in->translated_keyword ? in->translated_keyword : "";
        t.keyword = utf8_or_latin1((const uint8_t *)in->keyword, strlen(in->keyword));
        t.language = utf8_or_latin1((const uint8_t *)lang, strlen(lang));
        t.translated = utf8_or_latin1((const uint8_t *)trans, strlen(trans));
        if (in->size <= AI_TEXT_MAX && !memchr(in->text, 0, in->size)) {
            /* A host may hand on tEXt's Latin-1 bytes as they were. */
            if (rf_utf8_valid_prefix((const unsigned char *)in->text, in->size) == in->size) {
                t.text = rf_strndup(in->text, in->size);
                t.size = in->size;
            } else {
                t.text = rf_latin1_to_utf8((const uint8_t *)in->text, in->size, &t.size);
            }
        } else {
            t.size = in->size;
            rf_sha256(in->text, in->size, t.sha256);
        }
        if (!t.keyword || !t.language || !t.translated ||
            (!t.text && in->size <= AI_TEXT_MAX && !memchr(in->text, 0, in->size))) {
            text_free(&t);
            err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
        } else if ((err = list_add(&l, &t, msg))) {
            text_free(&t);
        }
    }
    if (!err)
        err = import(mi, extras, &l, msg);
    ai_list_free(&l);
    return err;
}

/* ---- giving them back ---------------------------------------------------- */

int raiiaf_get_source_texts(raiiaf_ctx *ctx, raiiaf_png_metadata **meta)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!meta)
        return RF_BAD_ARGS(&ctx->msg);
    *meta = NULL;
    json_object *list = rf_json_get(rf_json_get(ctx->meta, AI_KEY), "png_text");
    size_t n = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list)
                                                                    : 0;
    /* One block, as raiiaf_get_png_metadata() gives: struct, array, bytes. */
    size_t bytes = sizeof(raiiaf_png_metadata) + n * sizeof(raiiaf_png_text);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(list, i);
        const char *strs[] = {jstr(c, "keyword"), jstr(c, "text"), jstr(c, "language"),
                              jstr(c, "translated_keyword")};
        if (!strs[0] || !strs[1])
            continue;
        bytes += (size_t)json_object_get_string_len(rf_json_get(c, "text"));
        for (size_t k = 0; k < 4; k++)
            bytes += (strs[k] && k != 1 ? strlen(strs[k]) : 0) + 1;
    }
    raiiaf_png_metadata *m = calloc(1, bytes);
    if (!m)
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "out of memory");
    raiiaf_png_text *texts = (raiiaf_png_text *)(m + 1);
    char *p = (char *)(texts + n);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(list, i);
        const char *kw = jstr(c, "keyword"), *chunk = jstr(c, "chunk");
        json_object *tv = rf_json_get(c, "text");
        if (!kw || !tv || !json_object_is_type(tv, json_type_string))
            continue;
        const char *lang = jstr(c, "language"), *trans = jstr(c, "translated_keyword");
        raiiaf_png_text *t = &texts[out++];
        size_t tn = (size_t)json_object_get_string_len(tv);
        t->keyword = p;
        p += strlen(strcpy(p, kw)) + 1;
        t->text = p;
        memcpy(p, json_object_get_string(tv), tn);
        p += tn + 1;
        t->size = tn;
        t->language = p;
        p += strlen(strcpy(p, lang ? lang : "")) + 1;
        t->translated_keyword = p;
        p += strlen(strcpy(p, trans ? trans : "")) + 1;
        json_object *comp = rf_json_get(c, "compressed");
        t->compressed = comp && json_object_get_boolean(comp);
        t->international = chunk && !strcmp(chunk, "iTXt");
    }
    m->texts = out ? texts : NULL;
    m->text_count = out;
    *meta = m;
    return RAIIAF_OK;
}

const char *raiiaf_get_source_tool(raiiaf_ctx *ctx)
{
    if (rf_ctx_check(ctx))
        return NULL;
    return jstr(rf_json_get(ctx->meta, AI_KEY), "tool");
}

int raiiaf_is_ai_text_keyword(const char *keyword)
{
    static const char *const keys[] = {
        "parameters", "prompt", "workflow", "invokeai_metadata", "invokeai_workflow",
        "invokeai_graph", "sd-metadata", "Dream", "fooocus_scheme", "Software", "Description",
        "Comment", "Title", "Source", "Generation time",
    };
    if (!keyword)
        return 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keyword, keys[i]))
            return 1;
    return 0;
}
