#include "internal.h"

#include <stdio.h>

const char *raiiaf_strerror(int err)
{
    switch (err) {
    case RAIIAF_OK: return "success";
    case RAIIAF_EINVAL: return "invalid argument";
    case RAIIAF_ENOMEM: return "out of memory";
    case RAIIAF_EIO: return "input/output error";
    case RAIIAF_EMAGIC: return "not a .raiiaf file (bad magic)";
    case RAIIAF_EVERSION: return "unsupported .raiiaf format version";
    case RAIIAF_ETRUNCATED: return "file is truncated";
    case RAIIAF_EHEADER: return "inconsistent file header";
    case RAIIAF_EMANIFEST: return "invalid manifest";
    case RAIIAF_ERECORD: return "invalid chunk record";
    case RAIIAF_ECHUNK: return "chunk disagrees with its record";
    case RAIIAF_EZSTD: return "corrupt zstd data";
    case RAIIAF_EZFP: return "corrupt zfp data";
    case RAIIAF_EHASH: return "sha256 mismatch";
    case RAIIAF_ELIMIT: return "size or count exceeds the limits";
    case RAIIAF_ENOTPNG: return "image chunk is not PNG";
    case RAIIAF_EPNG: return "corrupt PNG image";
    case RAIIAF_ENOIMAGE: return "file has no image";
    case RAIIAF_ERANGE: return "index or buffer size out of range";
    case RAIIAF_EBADSTATE: return "invalid state for this call";
    case RAIIAF_EVALUE: return "value not allowed by the format";
    case RAIIAF_EUNSUPPORTED: return "not supported";
    case RAIIAF_EDUPLICATE: return "two latents share a key";
    default: return "unknown error";
    }
}

int rf_fail(rf_msg *msg, int err, const char *fmt, ...)
{
    if (msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg->text, sizeof msg->text, fmt, ap);
        va_end(ap);
    }
    return err;
}
