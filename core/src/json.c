#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF); returns the offset of the first bad byte, or size. json-c's own
 * check rejects valid multi-byte text, so it is not used. */
size_t rf_utf8_valid_prefix(const unsigned char *s, size_t size)
{
    size_t i = 0;
    while (i < size) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return i;
        }
        if (size - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return i;
        i += n + 1;
    }
    return size;
}

/* What json-c 0.18 allocates for a parsed value on x86-64 (measured with
 * mallinfo2), rounded up: an object's hash table is allocated whole, an
 * array's slot list grows from a few slots. Text bytes (strings, keys) come
 * on top, at most the size of the JSON. */
#define RF_JSON_OBJECT_COST 832
#define RF_JSON_ARRAY_COST 192
#define RF_JSON_VALUE_COST 112
#define RF_JSON_MEMBER_COST 48

static bool is_json_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number as JSON (and Python's json.dumps) writes it. */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && is_digit(s[i]))
        while (i < n && is_digit(s[i]))
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

static bool word_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* One linear pass before json-c builds anything: bounds what the parse will
 * cost (values, nesting, memory by the figures above) and refuses what
 * json-c accepts but JSON does not have and the reference's writer
 * (Python's json.dumps) never produces: comments, single quotes, NaN,
 * Infinity and other bare words, trailing commas, raw control characters
 * in strings. Everything else that is not JSON is left to json-c's own
 * error. */
static int json_prescan(const char *text, size_t size, const raiiaf_limits *lim,
                        uint32_t *max_depth, rf_msg *msg, const char *what)
{
    uint64_t values = 0, memory = size;
    uint64_t max_values = lim->max_json_values ? lim->max_json_values : UINT64_MAX;
    uint64_t max_memory = lim->max_json_memory ? lim->max_json_memory : UINT64_MAX;
    uint32_t depth = 0;
    size_t i = 0;
    while (i < size) {
        char c = text[i];
        size_t at = i;
        if (is_json_space(c) || c == ':') {
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            if (depth)
                depth--;
            i++;
            continue;
        }
        if (c == ',') {
            size_t j = i + 1;
            while (j < size && is_json_space(text[j]))
                j++;
            if (j < size && (text[j] == '}' || text[j] == ']'))
                return rf_fail(msg, RAIIAF_EMANIFEST,
                               "%s: not standard JSON: trailing comma at byte %zu", what, at);
            i++;
            continue;
        }
        if (c == '/')
            return rf_fail(msg, RAIIAF_EMANIFEST,
                           "%s: not standard JSON: comment at byte %zu", what, at);
        if (c == '\'')
            return rf_fail(msg, RAIIAF_EMANIFEST,
                           "%s: not standard JSON: single-quoted string at byte %zu", what, at);
        if (c == '{' || c == '[') {
            if (++depth > lim->max_json_depth && lim->max_json_depth)
                return rf_fail(msg, RAIIAF_ELIMIT,
                               "%s: JSON nested deeper than %u levels at byte %zu", what,
                               (unsigned)lim->max_json_depth, at);
            if (depth > *max_depth)
                *max_depth = depth;
            memory += c == '{' ? RF_JSON_OBJECT_COST : RF_JSON_ARRAY_COST;
            i++;
        } else if (c == '"') {
            for (i++; i < size && text[i] != '"'; i++) {
                if ((unsigned char)text[i] < 0x20)
                    return rf_fail(msg, RAIIAF_EMANIFEST,
                                   "%s: not standard JSON: control character 0x%02x in a "
                                   "string at byte %zu", what, (unsigned)text[i], i);
                if (text[i] == '\\')
                    i++;
            }
            i++;
            size_t j = i;
            while (j < size && is_json_space(text[j]))
                j++;
            if (j < size && text[j] == ':') { /* a key: the object's entry */
                memory += RF_JSON_MEMBER_COST;
                continue;
            }
            memory += RF_JSON_VALUE_COST;
        } else if (c == '-' || c == '+' || c == '.' || is_digit(c) || (c >= 'a' && c <= 'z') ||
                   (c >= 'A' && c <= 'Z')) {
            while (i < size && (text[i] == '-' || text[i] == '+' || text[i] == '.' ||
                                is_digit(text[i]) || (text[i] >= 'a' && text[i] <= 'z') ||
                                (text[i] >= 'A' && text[i] <= 'Z') || text[i] == '_'))
                i++;
            const char *w = text + at;
            size_t n = i - at;
            if (!word_is(w, n, "true") && !word_is(w, n, "false") && !word_is(w, n, "null") &&
                !is_json_number(w, n))
                return rf_fail(msg, RAIIAF_EMANIFEST,
                               "%s: not standard JSON: '%.*s' at byte %zu (numbers, true, "
                               "false and null only; no NaN or Infinity)", what,
                               (int)(n > 24 ? 24 : n), w, at);
            memory += RF_JSON_VALUE_COST;
        } else {
            break; /* not JSON at all: json-c names it */
        }
        if (++values > max_values)
            return rf_fail(msg, RAIIAF_ELIMIT, "%s: JSON has more than %llu values", what,
                           (unsigned long long)max_values);
        if (memory > max_memory)
            return rf_fail(msg, RAIIAF_ELIMIT,
                           "%s: JSON would take more than %llu bytes of memory once parsed "
                           "(%llu values by byte %zu)", what, (unsigned long long)max_memory,
                           (unsigned long long)values, at);
    }
    return RAIIAF_OK;
}

int rf_json_parse_limited(const char *text, size_t size, const raiiaf_limits *limits,
                          json_object **out, rf_msg *msg, const char *what)
{
    *out = NULL;
    raiiaf_limits defaults;
    if (!limits) {
        raiiaf_limits_default(&defaults);
        limits = &defaults;
    }
    if (size > INT32_MAX || (limits->max_json_size && size > limits->max_json_size)) {
        return rf_fail(msg, RAIIAF_ELIMIT, "%s: JSON too large (%zu bytes)", what, size);
    }
    size_t valid = rf_utf8_valid_prefix((const unsigned char *)text, size);
    if (valid != size) {
        return rf_fail(msg, RAIIAF_EMANIFEST, "%s: invalid UTF-8 at byte %zu", what, valid);
    }
    uint32_t depth = 0;
    int err = json_prescan(text, size, limits, &depth, msg, what);
    if (err)
        return err;
    /* The nesting the pre-scan found, within the limit: json-c's stack is
     * allocated for its depth at once. */
    json_tokener *tok = json_tokener_new_ex((int)(depth < INT32_MAX - 2 ? depth + 2 : INT32_MAX));
    if (!tok) {
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
    }
    /* Not JSON_TOKENER_STRICT: json-c 0.18 rejects every non-ASCII byte in
     * strict mode. The pre-scan refuses what strict mode would. */
    json_tokener_set_flags(tok, 0);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        return rf_fail(msg, jerr == json_tokener_error_depth ? RAIIAF_ELIMIT : RAIIAF_EMANIFEST,
                       "%s: invalid JSON at byte %zu: %s", what, used,
                       jerr == json_tokener_continue ? "unexpected end"
                                                     : json_tokener_error_desc(jerr));
    }
    for (size_t i = used; i < size; i++) {
        if (!is_json_space(text[i])) {
            json_object_put(obj);
            return rf_fail(msg, RAIIAF_EMANIFEST, "%s: trailing data after JSON at byte %zu",
                           what, i);
        }
    }
    *out = obj;
    return RAIIAF_OK;
}

json_object *rf_json_parse(const char *text, size_t size, rf_msg *msg, const char *what)
{
    json_object *obj;
    rf_json_parse_limited(text, size, NULL, &obj, msg, what);
    return obj;
}

const char *rf_json_pretty(json_object *obj, size_t *len)
{
    return json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
        len);
}

json_object *rf_json_get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

bool rf_json_get_u64(json_object *obj, const char *key, uint64_t *out)
{
    json_object *v = rf_json_get(obj, key);
    if (!v || !json_object_is_type(v, json_type_int))
        return false;
    /* json-c saturates at INT64_MAX: such a value fails every size check. */
    int64_t i = json_object_get_int64(v);
    if (i < 0)
        return false;
    *out = (uint64_t)i;
    return true;
}

json_object *rf_json_deep_copy(json_object *obj)
{
    json_object *copy = NULL;
    if (!obj)
        return NULL;
    if (json_object_deep_copy(obj, &copy, NULL) != 0)
        return NULL;
    return copy;
}

json_object *rf_json_new_double(double v)
{
    if (!isfinite(v))
        return NULL;
    char text[40];
    /* Shortest text that reads back as the same double; like Python, keep a
     * ".0" on integral values so readers still see a float. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    if (!strpbrk(text, ".eEn"))
        strcat(text, ".0");
    return json_object_new_double_s(v, text);
}
