/* The embedded PNG's palette and colour chunks (PLTE, tRNS, gAMA, cHRM,
 * sRGB, iCCP, sBIT, bKGD) and its pHYs and oFFs, for hosts that keep them
 * as their own PNG loader does, and palette PNGs on the way out. */
#include "pngcolour.h"

#include <stdlib.h>
#include <string.h>

static int read_colour(png_structp png, png_infop pi, void *user)
{
    raiiaf_png_colour *c = user;
    int ctype = png_get_color_type(png, pi);
    bool color = ctype & PNG_COLOR_MASK_COLOR;
    png_colorp plte;
    int n;
    if (png_get_PLTE(png, pi, &plte, &n) && n > 0) {
        c->palette_count = (unsigned)(n > 256 ? 256 : n);
        for (unsigned i = 0; i < c->palette_count; i++) {
            c->palette[i][0] = plte[i].red;
            c->palette[i][1] = plte[i].green;
            c->palette[i][2] = plte[i].blue;
        }
    }
    png_bytep alpha;
    int num_trans;
    png_color_16p trans;
    if (png_get_tRNS(png, pi, &alpha, &num_trans, &trans)) {
        if (ctype == PNG_COLOR_TYPE_PALETTE) {
            if (alpha && num_trans > 0) {
                c->palette_alpha_count = (unsigned)(num_trans > 256 ? 256 : num_trans);
                memcpy(c->palette_alpha, alpha, c->palette_alpha_count);
            }
        } else if (trans) {
            c->has_trns_value = 1;
            c->trns_gray = trans->gray;
            c->trns_red = trans->red;
            c->trns_green = trans->green;
            c->trns_blue = trans->blue;
        }
    }
    if (png_get_valid(png, pi, PNG_INFO_gAMA) && png_get_gAMA(png, pi, &c->gamma))
        c->has_gamma = 1;
    if (png_get_valid(png, pi, PNG_INFO_cHRM) &&
        png_get_cHRM(png, pi, &c->white_x, &c->white_y, &c->red_x, &c->red_y, &c->green_x,
                     &c->green_y, &c->blue_x, &c->blue_y))
        c->has_chromaticities = 1;
    int intent;
    if (png_get_valid(png, pi, PNG_INFO_sRGB) && png_get_sRGB(png, pi, &intent))
        c->srgb_intent = intent;
    c->has_icc = png_get_valid(png, pi, PNG_INFO_iCCP) != 0;
    png_color_8p sbit;
    if (png_get_sBIT(png, pi, &sbit) && sbit) {
        c->has_sbit = 1; /* only the channels the colour type has */
        if (color) {
            c->sbit_red = sbit->red;
            c->sbit_green = sbit->green;
            c->sbit_blue = sbit->blue;
        } else {
            c->sbit_gray = sbit->gray;
        }
        if (ctype & PNG_COLOR_MASK_ALPHA)
            c->sbit_alpha = sbit->alpha;
    }
    png_color_16p bkgd;
    if (png_get_bKGD(png, pi, &bkgd) && bkgd) {
        c->has_background = 1; /* as the chunk holds it for the colour type */
        if (ctype == PNG_COLOR_TYPE_PALETTE) {
            c->background_index = bkgd->index;
        } else if (color) {
            c->background_red = bkgd->red;
            c->background_green = bkgd->green;
            c->background_blue = bkgd->blue;
        } else {
            c->background_gray = bkgd->gray;
        }
    }
    return RAIIAF_OK;
}

int raiiaf_get_png_colour(raiiaf_ctx *ctx, raiiaf_png_colour *colour)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!colour)
        return RF_BAD_ARGS(&ctx->msg);
    err = rf_ctx_load_image(ctx);
    if (err)
        return err;
    memset(colour, 0, sizeof *colour);
    colour->srgb_intent = -1;
    return rf_png_read_header(&ctx->image_in, &ctx->limits, read_colour, colour, &ctx->msg);
}

static int read_physical(png_structp png, png_infop pi, void *user)
{
    raiiaf_png_physical *p = user;
    png_uint_32 x, y;
    int unit;
    if (png_get_valid(png, pi, PNG_INFO_pHYs) && png_get_pHYs(png, pi, &x, &y, &unit)) {
        p->has_phys = 1;
        p->phys_x = x;
        p->phys_y = y;
        p->phys_unit = unit == PNG_RESOLUTION_METER;
    }
    png_int_32 ox, oy;
    if (png_get_valid(png, pi, PNG_INFO_oFFs) && png_get_oFFs(png, pi, &ox, &oy, &unit)) {
        p->has_offset = 1;
        p->offset_x = ox;
        p->offset_y = oy;
        p->offset_unit = unit == PNG_OFFSET_MICROMETER;
    }
    return RAIIAF_OK;
}

int raiiaf_get_png_physical(raiiaf_ctx *ctx, raiiaf_png_physical *physical)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!physical)
        return RF_BAD_ARGS(&ctx->msg);
    err = rf_ctx_load_image(ctx);
    if (err)
        return err;
    memset(physical, 0, sizeof *physical);
    return rf_png_read_header(&ctx->image_in, &ctx->limits, read_physical, physical, &ctx->msg);
}

int rf_check_palette(const raiiaf_pixels *px, size_t stride, rf_msg *msg)
{
    if (!px->palette || px->palette_count < 1 || px->palette_count > 256)
        return rf_fail(msg, RAIIAF_EINVAL, "palette pixels: %u palette entries (1-256)",
                       px->palette_count);
    if (px->palette_alpha_count > px->palette_count || (px->palette_alpha_count && !px->palette_alpha))
        return rf_fail(msg, RAIIAF_EINVAL, "palette pixels: %u alpha values for %u entries",
                       px->palette_alpha_count, px->palette_count);
    const uint8_t *data = px->data;
    for (uint32_t y = 0; y < px->height; y++)
        for (uint32_t x = 0; x < px->width; x++)
            if (data[(size_t)y * stride + x] >= px->palette_count)
                return rf_fail(msg, RAIIAF_EINVAL,
                               "palette pixels: index %u at (%u, %u) beyond the %u entries",
                               data[(size_t)y * stride + x], (unsigned)x, (unsigned)y,
                               px->palette_count);
    return RAIIAF_OK;
}

void rf_png_set_palette(png_structp png, png_infop pi, const raiiaf_pixels *px)
{
    png_color plte[256];
    for (unsigned i = 0; i < px->palette_count; i++) {
        plte[i].red = px->palette[3 * i];
        plte[i].green = px->palette[3 * i + 1];
        plte[i].blue = px->palette[3 * i + 2];
    }
    png_set_PLTE(png, pi, plte, (int)px->palette_count);
    if (px->palette_alpha_count)
        png_set_tRNS(png, pi, px->palette_alpha, (int)px->palette_alpha_count, NULL);
}

/* ---- the whole PNG checked, as a writer takes it ------------------------ */

int rf_png_check(const uint8_t *data, size_t size, rf_msg *msg)
{
    /* The check of raiiaf_verify(): every row decoded, one kept. */
    rf_png_in in = {.data = data, .size = size};
    raiiaf_image_info info;
    int err = rf_png_info(&in, &rf_default_limits, &info, NULL, NULL, NULL, msg);
    if (!err)
        err = rf_png_decode(&in, &rf_default_limits, info.format, NULL, 0, msg);
    return err;
}
