#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RF_JSON_MAX_DEPTH 64

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF); returns the offset of the first bad byte, or size. json-c's own
 * check rejects valid multi-byte text, so it is not used. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t size)
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

json_object *rf_json_parse(const char *text, size_t size, rf_msg *msg, const char *what)
{
    if (size > INT32_MAX) {
        rf_fail(msg, RAIIAF_ELIMIT, "%s: JSON too large", what);
        return NULL;
    }
    size_t valid = utf8_valid_prefix((const unsigned char *)text, size);
    if (valid != size) {
        rf_fail(msg, RAIIAF_EMANIFEST, "%s: invalid UTF-8 at byte %zu", what, valid);
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(RF_JSON_MAX_DEPTH);
    if (!tok) {
        rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    /* Not JSON_TOKENER_STRICT: json-c 0.18 rejects every non-ASCII byte in
     * strict mode. */
    json_tokener_set_flags(tok, 0);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)size);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || err != json_tokener_success) {
        json_object_put(obj);
        rf_fail(msg, RAIIAF_EMANIFEST, "%s: invalid JSON at byte %zu: %s", what, used,
                err == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(err));
        return NULL;
    }
    for (size_t i = used; i < size; i++) {
        char c = text[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            json_object_put(obj);
            rf_fail(msg, RAIIAF_EMANIFEST, "%s: trailing data after JSON at byte %zu", what, i);
            return NULL;
        }
    }
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
