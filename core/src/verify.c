/* raiiaf_verify: every payload of an opened file read and checked. */
#include "internal.h"

int raiiaf_verify(raiiaf_ctx *ctx)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    raiiaf_image_info info;
    err = raiiaf_get_image_info(ctx, &info);
    if (!err) /* every pixel, row by row: a PNG can be broken under a true hash */
        err = rf_png_decode(&ctx->image_in, &ctx->limits, info.format, NULL, 0, &ctx->msg);
    if (err == RAIIAF_ENOIMAGE)
        err = RAIIAF_OK; /* a file may hold latents only */
    if (err)
        return err;
    err = rf_ctx_load_env(ctx);
    if (err)
        return err;
    for (size_t i = 0; !err && i < ctx->latent_count; i++)
        err = rf_latent_check(&ctx->src, &ctx->records[ctx->latents[i]], &ctx->msg);
    return err;
}
