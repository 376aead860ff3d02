"""The thumbnailer's scaling, computed independently with numpy: an exact
area average (box filter) on premultiplied alpha, rounded to 8 bits. Used
by thumbnailer-test.py and the PngSuite suite (tests/pngsuite).

SPDX-License-Identifier: MIT
"""
import numpy as np


def area_weights(n, m):
    """m x n matrix: destination i covers [i*n, (i+1)*n) in units of 1/m."""
    w = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            lo, hi = max(i * n, j * m), min((i + 1) * n, (j + 1) * m)
            if hi > lo:
                w[i, j] = (hi - lo) / n
    return w


def area_average(f, out_w, out_h):
    """f: HxWxC floats 0..1 (C 3, or 4 with alpha). Returns the out_h x
    out_w x C 8-bit result and the averaged alpha."""
    h, w, ch = f.shape
    alpha = f[..., 3] if ch == 4 else np.ones((h, w))
    wy, wx = area_weights(h, out_h), area_weights(w, out_w)
    a = wy @ alpha @ wx.T
    res = np.zeros((out_h, out_w, ch))
    for c in range(3):
        s = wy @ (f[..., c] * alpha) @ wx.T
        res[..., c] = np.where(a > 0, s / np.maximum(a, 1e-30), 0)
    if ch == 4:
        res[..., 3] = a
    return np.clip(np.rint(res * 255), 0, 255).astype(np.int32), a
