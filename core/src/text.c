/* What a person reads: the manifest flattened to key/value text, and the
 * AUTOMATIC1111 "parameters" text that AI-image tools read from PNGs. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* model_info's fields and their text keys: the reader flattens by this
 * table, raiiaf_writer_set_text() sets by it. */
const rf_text_field rf_text_fields[] = {
    {"model_name", "model"}, {"version", "model-version"}, {"date", "date"},
    {"prompt", "prompt"},    {"negative_prompt", "negative-prompt"}, {"tags", "tags"},
};
const size_t rf_text_field_count = sizeof rf_text_fields / sizeof rf_text_fields[0];
/* model_info's objects whose members become text keys: the member's name
 * with '_' turned to '-', after the prefix. The last has the empty prefix:
 * a key matching no other goes there. */
const rf_text_field rf_text_sections[] = {
    {"hardware_info", "hardware-"},
    {"generation_settings", ""},
};
const size_t rf_text_section_count = sizeof rf_text_sections / sizeof rf_text_sections[0];

typedef struct text_list {
    rf_text_pair *pairs;
    size_t count, cap;
    bool oom;
} text_list;

static void add_pair(text_list *l, const char *key, const char *value)
{
    if (l->oom || !value || !*value)
        return;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        rf_text_pair *p = realloc(l->pairs, cap * sizeof *p);
        if (!p) {
            l->oom = true;
            return;
        }
        l->pairs = p;
        l->cap = cap;
    }
    char *k = rf_strndup(key, strnlen(key, 64));
    char *v = rf_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        l->oom = true;
        return;
    }
    for (char *c = k; *c; c++) /* keys: lower-case ASCII words joined by '-' */
        *c = *c == '_' || *c == ' ' ? '-' : (*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c;
    l->pairs[l->count].key = k;
    l->pairs[l->count].value = v;
    l->count++;
}

/* A JSON value as a person reads it: strings bare, arrays joined by ", ". */
static void value_text(json_object *v, rf_buf *out)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        break;
    case json_type_string:
        rf_buf_append(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            json_object *name = rf_json_get(e, "name");
            if (i)
                rf_buf_append(out, ", ", 2);
            value_text(name && json_object_is_type(name, json_type_string) ? name : e, out);
        }
        break;
    }
    default: {
        size_t len;
        const char *s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
        rf_buf_append(out, s, len);
    }
    }
}

static void add_json(text_list *l, const char *key, json_object *v)
{
    rf_buf b = {0};
    value_text(v, &b);
    if (rf_buf_append(&b, "", 1) == RAIIAF_OK)
        add_pair(l, key, (const char *)b.data);
    else
        l->oom = true;
    rf_buf_free(&b);
}

static void add_object(text_list *l, const char *prefix, json_object *obj)
{
    if (!obj || !json_object_is_type(obj, json_type_object))
        return;
    json_object_object_foreach(obj, k, v)
    {
        char key[80];
        snprintf(key, sizeof key, "%s%s", prefix, k);
        add_json(l, key, v);
    }
}

static void add_environment(raiiaf_ctx *ctx, text_list *l)
{
    if (rf_ctx_load_env(ctx) || !ctx->env_text)
        return;
    json_object *env = ctx->env; /* parsed and checked when loaded */
    json_object *comps = rf_json_get(env, "components");
    size_t n = comps && json_object_is_type(comps, json_type_array)
                   ? json_object_array_length(comps) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(comps, i);
        json_object *id = rf_json_get(c, "component_id");
        json_object *canon = rf_json_get(c, "cononical_str"); /* sic: the format's spelling */
        if (!id || !canon || !json_object_is_type(id, json_type_string) ||
            !json_object_is_type(canon, json_type_string))
            continue;
        /* "name=python;version=3.11.2" reads as "3.11.2"; richer strings
         * keep their fields, without the name. */
        const char *s = json_object_get_string(canon);
        if (!strncmp(s, "name=", 5)) {
            const char *semi = strchr(s, ';');
            s = semi ? semi + 1 : "";
        }
        if (!strncmp(s, "version=", 8) && !strchr(s + 8, ';'))
            s += 8;
        char key[80];
        snprintf(key, sizeof key, "env-%s", json_object_get_string(id));
        add_pair(l, key, s);
    }
}

static void add_history(json_object *meta, text_list *l)
{
    json_object *hist = rf_json_get(meta, "edit_history");
    if (!hist || !json_object_is_type(hist, json_type_array))
        return;
    rf_buf b = {0};
    size_t n = json_object_array_length(hist);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(hist, i);
        const char *parts[] = {"software", "action", "date"};
        if (b.size)
            rf_buf_append(&b, "; ", 2);
        for (size_t p = 0; p < 3; p++) {
            json_object *v = rf_json_get(e, parts[p]);
            if (v && json_object_is_type(v, json_type_string)) {
                if (p)
                    rf_buf_append(&b, " ", 1);
                rf_buf_append(&b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            }
        }
    }
    rf_buf_append(&b, "", 1);
    add_pair(l, "edit-history", (const char *)b.data);
    rf_buf_free(&b);
}

static void free_pairs(rf_text_pair *pairs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
}

/* By key, then by position (held in value while sorting): the first pair
 * of a key comes first, as a search from the start would find it. */
static int compare_keys(const void *a, const void *b)
{
    const rf_text_pair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    uintptr_t i = (uintptr_t)x->value, j = (uintptr_t)y->value;
    return i < j ? -1 : i > j;
}

static int build_texts(raiiaf_ctx *ctx)
{
    if (ctx->texts_built)
        return RAIIAF_OK;
    text_list l = {0};
    json_object *mi = rf_json_get(ctx->meta, "model_info");
    for (size_t i = 0; i < rf_text_field_count; i++) {
        json_object *v = rf_json_get(mi, rf_text_fields[i].json);
        if (v)
            add_json(&l, rf_text_fields[i].key, v);
    }
    if (mi && json_object_is_type(mi, json_type_object)) {
        json_object_object_foreach(mi, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < rf_text_field_count; i++)
                known |= !strcmp(k, rf_text_fields[i].json);
            for (size_t i = 0; i < rf_text_section_count; i++)
                known |= !strcmp(k, rf_text_sections[i].json);
            if (!known && !json_object_is_type(v, json_type_object))
                add_json(&l, k, v);
        }
    }
    /* settings first, then hardware */
    for (size_t i = rf_text_section_count; i-- > 0;)
        add_object(&l, rf_text_sections[i].key, rf_json_get(mi, rf_text_sections[i].json));
    for (size_t i = 0; i < ctx->latent_count; i++) {
        const rf_record *r = &ctx->records[ctx->latents[i]];
        char key[32], value[256], shape[160] = "";
        size_t pos = 0;
        for (unsigned d = 0; d < r->ndim && pos < sizeof shape; d++)
            pos += (size_t)snprintf(shape + pos, sizeof shape - pos, d ? "x%llu" : "%llu",
                                    (unsigned long long)r->shape[d]);
        snprintf(key, sizeof key, "latent-%zu", i);
        snprintf(value, sizeof value, "%.64s %s %s %s", r->key, rf_dtype(r->dtype)->name, shape,
                 r->compressed ? "zfp" : "raw");
        add_pair(&l, key, value);
    }
    json_object *tool = rf_json_get(rf_json_get(ctx->meta, "ai_metadata"), "tool");
    if (tool && json_object_is_type(tool, json_type_string))
        add_pair(&l, "source-tool", json_object_get_string(tool));
    add_environment(ctx, &l);
    add_history(ctx->meta, &l);
    if (l.oom) {
        free_pairs(l.pairs, l.count);
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "out of memory");
    }
    /* raiiaf_find_text() looks keys up in a sorted copy: the parameters
     * text asks for every setting, and a file may hold 100,000 of them. */
    rf_text_pair *sorted = malloc((l.count ? l.count : 1) * sizeof *sorted);
    if (!sorted) {
        free_pairs(l.pairs, l.count);
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < l.count; i++) /* value: the first pair's, below */
        sorted[i] = (rf_text_pair){l.pairs[i].key, (char *)(uintptr_t)i};
    qsort(sorted, l.count, sizeof *sorted, compare_keys);
    for (size_t i = 0; i < l.count; i++)
        sorted[i].value = l.pairs[(uintptr_t)sorted[i].value].value;
    ctx->texts = l.pairs;
    ctx->texts_sorted = sorted;
    ctx->text_count = l.count;
    ctx->texts_built = true;
    return RAIIAF_OK;
}

int raiiaf_get_text_count(raiiaf_ctx *ctx, size_t *count)
{
    int err = rf_ctx_check(ctx);
    if (!err)
        err = build_texts(ctx);
    if (err)
        return err;
    if (!count)
        return RF_BAD_ARGS(&ctx->msg);
    *count = ctx->text_count;
    return RAIIAF_OK;
}

int raiiaf_get_text(raiiaf_ctx *ctx, size_t index, const char **key, const char **value)
{
    int err = rf_ctx_check(ctx);
    if (!err)
        err = build_texts(ctx);
    if (err)
        return err;
    if (index >= ctx->text_count)
        return rf_fail(&ctx->msg, RAIIAF_ERANGE, "text %zu: there are %zu", index, ctx->text_count);
    if (key)
        *key = ctx->texts[index].key;
    if (value)
        *value = ctx->texts[index].value;
    return RAIIAF_OK;
}

const char *raiiaf_find_text(raiiaf_ctx *ctx, const char *key)
{
    if (!key || rf_ctx_check(ctx) || build_texts(ctx))
        return NULL;
    size_t lo = 0, hi = ctx->text_count; /* the first sorted key >= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ctx->texts_sorted[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ctx->text_count && !strcmp(ctx->texts_sorted[lo].key, key))
        return ctx->texts_sorted[lo].value;
    return NULL;
}

/* A1111 quotes a value holding ',', ':' or a newline as a JSON string. */
static void append_param(rf_buf *b, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    if (b->size && b->data[b->size - 1] != '\n')
        rf_buf_append(b, ", ", 2);
    rf_buf_append(b, label, strlen(label));
    rf_buf_append(b, ": ", 2);
    if (strpbrk(value, ",:\n")) {
        json_object *s = json_object_new_string(value);
        size_t len;
        const char *q = json_object_to_json_string_length(
            s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        rf_buf_append(b, q, len);
        json_object_put(s);
    } else {
        rf_buf_append(b, value, strlen(value));
    }
}

int raiiaf_get_parameters_text(raiiaf_ctx *ctx, const char **text)
{
    int err = rf_ctx_check(ctx);
    if (!err)
        err = build_texts(ctx);
    if (err)
        return err;
    if (!text)
        return RF_BAD_ARGS(&ctx->msg);
    if (ctx->parameters) {
        *text = ctx->parameters;
        return RAIIAF_OK;
    }
    rf_buf b = {0};
    const char *prompt = raiiaf_find_text(ctx, "prompt");
    const char *neg = raiiaf_find_text(ctx, "negative-prompt");
    if (prompt)
        rf_buf_append(&b, prompt, strlen(prompt));
    if (neg) {
        rf_buf_append(&b, "\nNegative prompt: ", 18);
        rf_buf_append(&b, neg, strlen(neg));
    }
    rf_buf_append(&b, "\n", 1);
    /* The keys A1111 knows, in its order; the other settings follow. */
    static const struct { const char *key, *label; } known[] = {
        {"steps", "Steps"},   {"sampler", "Sampler"}, {"scheduler", "Schedule type"},
        {"cfg-scale", "CFG scale"}, {"seed", "Seed"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        append_param(&b, known[i].label, raiiaf_find_text(ctx, known[i].key));
    raiiaf_image_info info;
    rf_msg saved = ctx->msg;
    if (raiiaf_get_image_info(ctx, &info) == RAIIAF_OK) {
        char size[48];
        snprintf(size, sizeof size, "%ux%u", (unsigned)info.width, (unsigned)info.height);
        append_param(&b, "Size", size);
    }
    ctx->msg = saved;
    append_param(&b, "Model", raiiaf_find_text(ctx, "model"));
    append_param(&b, "Model version", raiiaf_find_text(ctx, "model-version"));
    json_object *gs = rf_json_get(rf_json_get(ctx->meta, "model_info"), "generation_settings");
    if (gs && json_object_is_type(gs, json_type_object)) {
        json_object_object_foreach(gs, k, v)
        {
            (void)v;
            if (!strcmp(k, "steps") || !strcmp(k, "sampler") || !strcmp(k, "scheduler") ||
                !strcmp(k, "cfg_scale") || !strcmp(k, "seed"))
                continue;
            /* eta -> "Eta", classifier_free -> "Classifier free" */
            char label[80];
            snprintf(label, sizeof label, "%s", k);
            for (char *c = label; *c; c++)
                if (*c == '_')
                    *c = ' ';
            if (label[0] >= 'a' && label[0] <= 'z')
                label[0] = (char)(label[0] - 'a' + 'A');
            char key[80];
            snprintf(key, sizeof key, "%s", k);
            for (char *c = key; *c; c++)
                if (*c == '_')
                    *c = '-';
            append_param(&b, label, raiiaf_find_text(ctx, key));
        }
    }
    /* The A1111 parser wants a parameters line; drop a bare trailing "\n". */
    if (b.size && b.data[b.size - 1] == '\n')
        b.size--;
    if (rf_buf_append(&b, "", 1)) {
        rf_buf_free(&b);
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "out of memory");
    }
    ctx->parameters = (char *)b.data;
    *text = ctx->parameters;
    return RAIIAF_OK;
}
