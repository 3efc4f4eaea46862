"""Anti-aliased drawing for the rig and the characters: Pillow draws at `supersample` times the size and the
result is box-filtered down, which gives smooth edges without a GPU or a heavy dependency."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


class Canvas:
    """Args:
    size: (width, height) of the result in pixels.
    mode: "RGB" or "L" (a grey-level mask).
    background: the fill colour (a tuple for RGB, an int for L).
    supersample: drawing scale; 3 gives smooth edges at 128-512 pixels.
    """

    def __init__(self, size: tuple[int, int], mode: str = "RGB", background=(0, 0, 0), supersample: int = 3):
        if mode not in ("RGB", "L"):
            raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
        width, height = size
        if not (16 <= width <= 2048 and 16 <= height <= 2048):
            raise ValueError(f"canvas size must be 16..2048 pixels a side, got {size}")
        self.size = (int(width), int(height))
        self.scale = supersample
        self.image = Image.new(mode, (self.size[0] * supersample, self.size[1] * supersample), background)
        self.draw = ImageDraw.Draw(self.image)

    def _points(self, points: np.ndarray) -> list[tuple[float, float]]:
        return [(float(x) * self.scale, float(y) * self.scale) for x, y in np.asarray(points)[:, :2]]

    def polygon(self, points: np.ndarray, fill) -> None:
        if len(points) >= 3:
            self.draw.polygon(self._points(points), fill=fill)

    def polyline(self, points: np.ndarray, colour, width: float, closed: bool = False) -> None:
        pts = self._points(points)
        if closed:
            pts = [*pts, pts[0]]
        stroke = max(1, int(round(width * self.scale)))
        self.draw.line(pts, fill=colour, width=stroke, joint="curve")
        radius = stroke / 2  # round caps, so thick strokes do not end square
        for x, y in (pts[0], pts[-1]):
            self.draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)

    def ellipse(self, centre: Sequence[float], radii: Sequence[float], fill) -> None:
        cx, cy = centre[0] * self.scale, centre[1] * self.scale
        rx, ry = radii[0] * self.scale, radii[1] * self.scale
        self.draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)

    def paste(self, other: Canvas, mask: Canvas) -> None:
        """Composite another canvas of the same size through a grey-level mask canvas."""
        self.image.paste(other.image, (0, 0), mask.image)

    def blur(self, radius: float) -> None:
        self.image = self.image.filter(ImageFilter.GaussianBlur(radius * self.scale))
        self.draw = ImageDraw.Draw(self.image)

    def result(self) -> np.ndarray:
        """The drawing at its final size as uint8 (h, w, 3) or (h, w)."""
        return np.asarray(self.image.resize(self.size, Image.Resampling.BOX))
