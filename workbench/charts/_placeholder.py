"""The picture a chart output carries for viewers that cannot draw Vega-Lite.

JupyterLab stores a PNG of each chart it draws into the notebook (its vega renderer adds
``image/png`` to an output that has none), about 35-40 KB per chart, and the notebook shows as
changed as soon as it is opened. A chart output of :func:`~workbench.charts.mimebundle`
therefore carries this small picture instead (2 KB): it is what GitHub, nbviewer, plain
``jupyter nbconvert`` and PDF exports show, and it says where the chart can be seen.
``charts.enable_offline(lab_png=True)`` leaves it out, so JupyterLab stores its own picture.

``python -m workbench.charts._placeholder`` draws it again (with vl-convert) and prints the
constant: grey text on light grey, re-encoded as a 4-bit greyscale PNG.
"""

from __future__ import annotations

import base64
import struct
import zlib

__all__ = ["PLACEHOLDER_PNG", "PLACEHOLDER_TEXT"]

PLACEHOLDER_TEXT = (
    "Interactive chart (Vega-Lite 5): open this notebook in JupyterLab, or export it with workbench report."
)
"""What the picture says."""

PLACEHOLDER_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAkAAAAAeBAAAAAAkGhNFAAAFyElEQVR42u2XT3PaRhTA8+E87jiVOVKbYk7xBmN1b3U9doZTzAD1"
    "6BRTcGydbMamRKeUxp2Uk0wKxXtyknEG67QISazeZ+hbCQhxKGmbHHrQGqN9f/R232/fLtI9iNrcdi9CEAGKAEWAIkARoAhQBCgC"
    "FLW/BSRmGFpTfc+YEpyXAL41pRBTDt1uT5s5zj6APUs51ROjO7vWR44s+LY/kYs91bnjWws+H8j/BhCXE3Cm1b42Dc3Vx3Dwv4He"
    "/WliKPvWy5DVIjGKM0ZxQL2zDB35pU5E9T0GWNffu4XMRCwcaF4iHTmAPl4y/Y5vJfh8IM8IMAcQO7dMJg5BdOCcwTvDU4XAtN89"
    "Q+s7wz06guFTNJqYQ9LRwIQLBu0rC5UhoNsdy0NfLwtwDT1Utpt+7whkRFldJlPPLQEd7Ep5eAR5yzsGtWahoxRVSYexCxYsBwOG"
    "bgi0o8JFE7p1BISheFiofs0SN/KCA4lROFbPMxBDFXwmLIEdLqfD5B9ab+sVYJUODmbA1SH4h1Bp40i3dRkqDHD7c5nNA0TOYyfH"
    "pRe0lbGfZkQi10qY3LLriVMcNpFz06dGThpPjkFQPwYFezct7pd0vCMA5B6tXCVO5JXBwDgDGDzadtNVo/qC8uIWwMkxqS3zYeYU"
    "vYtbfqLxO7laOm2S2trg0RYsNQwVqQv6sLYcAFJBRTe76ZRXnd1t8Y0E1LhI8WJOzrZRW+MFgOfna32WkbrVhn6wTwzgzioGsbMc"
    "O7y4B1AQ94fZwFpxtIOi4uxuiZWqZpZpqagAHOxfYqjiY9hAlyIx5gHKQJLDMmyaWJ4Nx/BuqOkY19jRQEpZuaox08LCdTXYgeUG"
    "8IExkMoQkI4ZYvm4Xz1mwX68BH5DhzQJO1zexCGDOTty36LsakNakV9pKKBjB3tqHmsE5cwEEOt3srxHr4H3UnKLXaGu2ZervAl5"
    "3pSXgshkUdfRRKwsNw0XuFyxt7SFHd7EYVtu3qllA+sZlKHMod+NCboLx2VAxGXMBEPZv+Ga/zRr100BklPyF8mSCS4hNmZMTUHP"
    "bEIoSEl39VcPY6Y8BTD/hpd9Qh60mFQq1UwIKPD1LY+6OEuoQr+NM1skqxwCQHIAsb4vu3ygi1jFjpPYJpRbYP+BYlpuIroBGxNA"
    "OO7yr4Ka5EGXSkCvSFLq0K5ASZ4wiyQOjzGcfa5DrDIB9GNt/1ACkuvG7df2TWAtLaNDFYPVqaCKPIOCUylO4pzZlXGATwCS1WDC"
    "KTTspgQEayp28PegGQBSYAKo32pWpV4qld5VCGhgjM5TNxsA4m0qUrEAyBgQ+CfWCFCq4mChZaAyBpSfALImgIpFQVtSLwElQl0A"
    "qMxH53q8iQfBxQeAzh7VvhsDGlzaLTcElEOHkhkEo+oEkCpzt8+1fwgoCccm1l3O1fodBJRPudkh0tH6bQQU80JAuOnc7/Ekdhyt"
    "j0pltMV2vKxogqO7uBt78qQ2Xbw9A/UpQB7DBFHGKtMqHhUGbiluXXvU01TbGAHyY7axAwo3uNVKYaLMDQEpItAhoQLeBfJSd47X"
    "UPcn9egIUArgTeptCjsBIC/tbg9TgdXWS1DsM08CKoAyAlSAl9zod1O45TFxNh+QrV4SzYTX5LlGVvxFE64N2FrHm8iKrKCtDDFh"
    "oAJOwl8CjyT8+La+t4EnMF9YaOunmvT1CcHKKiFGknRzD1iL0ACQowaA4iSsqC0Cz7XcOksT6pFvIUcsVSTHFfQkDr88VHluFWwN"
    "4sP4Cua0sKAcpPfM0iqWD7whmgRkE9qAKi+t4P2sApcaBo4zwDMazXEz+HH9WiihtQLKD4SKIBi117URIIzBcyuwFwZQvsyT9OTh"
    "xXL0WfbXdx+e/lOTCPofPzGCNsPvsxpnX/pVY/yILe6fWrPsm18KkNieoTf+/4CG44jtZ7PMojnusM+Zt3vnBWeO3+c114peVqO3"
    "+QhQBCgCFAGKAEWAojar/QVHKuAKgygKagAAAABJRU5ErkJggg=="
)
"""A 576 x 30 PNG of :data:`PLACEHOLDER_TEXT`, base64, as notebook outputs hold images."""


def _chunks(png: bytes) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    i = 8
    while i < len(png):
        (n,) = struct.unpack(">I", png[i : i + 4])
        kind = png[i + 4 : i + 8]
        found[kind] = found.get(kind, b"") + png[i + 8 : i + 8 + n]
        i += 12 + n
    return found


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytearray]:
    stride, rows, prev, pos = width * bpp, [], bytearray(width * bpp), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return rows


def draw() -> bytes:
    """Draw the picture with vl-convert and re-encode it as a 4-bit greyscale PNG."""
    import vl_convert

    spec = {
        "width": 560,
        "height": 22,
        "background": "#f2f2f2",
        "padding": {"left": 8, "right": 8, "top": 4, "bottom": 4},
        "data": {"values": [{}]},
        "mark": {"type": "text", "align": "left", "baseline": "middle", "fontSize": 12, "color": "#404040"},
        "encoding": {"text": {"value": PLACEHOLDER_TEXT}, "x": {"value": 0}, "y": {"value": 11}},
        "config": {"view": {"stroke": None}},
    }
    chunks = _chunks(vl_convert.vegalite_to_png(spec, scale=1))
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if (depth, colour, interlace) != (8, 6, 0):
        raise ValueError(f"expected an 8-bit RGBA PNG from vl-convert, got {(depth, colour, interlace)}")
    packed = b""
    for line in _unfilter(zlib.decompress(chunks[b"IDAT"]), width, height, 4):
        grey = [round(line[4 * x] * 15 / 255) for x in range(width)] + [0] * (width % 2)
        packed += b"\x00" + bytes((grey[i] << 4) | grey[i + 1] for i in range(0, len(grey), 2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 4, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(packed, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    print(base64.b64encode(draw()).decode("ascii"))
