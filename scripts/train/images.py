"""PNG output without extra dependencies: single frames and contact sheets of clips."""
import struct
import zlib

import numpy as np


def write_png(path, image):
    """Writes uint8 [h, w, 3] RGB as an 8-bit PNG."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))


def contact_sheet(clips, gap=2):
    """uint8 [rows, frames, h, w, 3] -> one image, a clip per row, frames left to right."""
    rows, frames, h, w, _ = clips.shape
    sheet = np.full((rows * (h + gap) - gap, frames * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for r in range(rows):
        for f in range(frames):
            sheet[r * (h + gap):r * (h + gap) + h, f * (w + gap):f * (w + gap) + w] = clips[r, f]
    return sheet
