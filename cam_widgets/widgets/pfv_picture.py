"""The picture of a ``PFVGallery`` (``save_png``, the PNG button, the notebook's static fallback): the header,
then per shown sample a card with its title (dark red where the prediction is wrong), its image as the browser draws it (``shown_images``: the grey
and rgb levels of the ``grey`` / ``rgb`` traits blended at ``opacity``, 3D sliced at ``axis`` /
``slice_index``) and its R/G/B foreground bars on a 0..1 axis with tick labels and the values written above
the bars, or the message that says why there are none. Drawn with PIL on white (``figure.py``'s fonts).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .figure import _font, _wrap
from .pfv_gallery_data import CHANNELS, bar_ticks, blend, take_slice
from .render import format_value

BAR_COLOURS = ((214, 39, 40), (44, 160, 44), (31, 119, 180))
"""R, G and B bars (the browser's ``--pfv-r/g/b``)."""
INK, FAINT, GRID, WRONG = (17, 17, 17), (120, 120, 120), (225, 225, 225), (183, 28, 28)
PAD, GAP = 12, 14
IMAGE_PX = 144
"""At scale 1 an image is enlarged by a whole factor until its longer side has at least this many pixels."""
CARD_MIN = 150
CHART_H, AXIS_W = 84, 28
TITLE_PX, TEXT_PX, SMALL_PX = 12, 13, 10


def levels_of(encoded: dict) -> np.ndarray:
    """The uint8 levels of an encoded ``[0, 1]`` image trait, in its shape."""
    return np.frombuffer(encoded["buffer"], dtype=np.uint8).reshape(encoded["shape"])


def shown_images(gallery) -> np.ndarray:
    """The cards' images ``(n, rows, cols, 3)`` uint8, as the browser blends and slices them."""
    rgb, grey = levels_of(gallery.rgb), levels_of(gallery.grey)
    nd, axis, index = gallery.spatial_ndim, gallery.axis, gallery.slice_index
    return np.stack([blend(take_slice(g, nd, axis, index), take_slice(c, nd, axis, index), gallery.opacity)
                     for g, c in zip(grey, rgb)])


def gallery_picture(gallery, scale: int = 1, max_side: int | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8: the whole grid at integer ``scale``; images over ``max_side`` are subsampled."""
    u = int(scale)
    images = shown_images(gallery)
    if max_side:
        step = math.ceil(max(images.shape[1:3]) / max_side)
        images = images[:, ::step, ::step] if step > 1 else images
    n, rows, cols = images.shape[:3]
    k = max(1, math.ceil(IMAGE_PX / max(rows, cols))) * u
    card_w = max(cols * k, CARD_MIN * u)
    columns = min(n, 6 if n > 16 else 4)
    fonts = {"title": _font(TITLE_PX * u), "text": _font(TEXT_PX * u), "small": _font(SMALL_PX * u)}
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line = {name: font.getbbox("Ag")[3] + 3 * u for name, font in fonts.items()}
    width = 2 * PAD * u + columns * card_w + (columns - 1) * GAP * u
    head = _wrap(measure, gallery.header, fonts["text"], width - 2 * PAD * u)
    titles = [_wrap(measure, card["title"], fonts["title"], card_w) for card in gallery.cards]
    title_h = max(len(t) for t in titles) * line["title"]
    card_h = title_h + rows * k + 6 * u + CHART_H * u
    top = PAD * u + len(head) * line["text"] + 6 * u
    grid_rows = math.ceil(n / columns)
    picture = Image.new("RGB", (width, top + grid_rows * card_h + (grid_rows - 1) * GAP * u + PAD * u), "white")
    draw = ImageDraw.Draw(picture)
    y = PAD * u
    for text in head:
        draw.text((PAD * u, y), text, fill=INK, font=fonts["text"])
        y += line["text"]
    for position, (card, image) in enumerate(zip(gallery.cards, images)):
        r, c = divmod(position, columns)
        x0, y0 = PAD * u + c * (card_w + GAP * u), top + r * (card_h + GAP * u)
        for m, text in enumerate(titles[position]):
            draw.text((x0, y0 + m * line["title"]), text, fill=WRONG if card["wrong"] else INK, font=fonts["title"])
        big = image.repeat(k, axis=0).repeat(k, axis=1)
        picture.paste(Image.fromarray(np.ascontiguousarray(big)), (x0, y0 + title_h))
        chart_top = y0 + title_h + rows * k + 6 * u
        if card["bars"]:
            _draw_bars(draw, card["bars"], x0, chart_top, card_w, u, fonts["small"])
        else:
            _draw_message(draw, card["message"], x0, chart_top, card_w, u, fonts["small"], line["small"])
    return np.asarray(picture)


def _draw_bars(draw: ImageDraw.ImageDraw, values, x0: int, top: int, width: int, u: int, font) -> None:
    """Three bars on a 0..1 y axis: tick labels at the left, the value above each bar, R / G / B below."""
    label_h = font.getbbox("Ag")[3] + 2 * u
    plot_top, plot_bottom = top + label_h, top + CHART_H * u - label_h
    plot_left, plot_right = x0 + AXIS_W * u, x0 + width - 2 * u
    at = lambda v: plot_bottom - v * (plot_bottom - plot_top)
    for tick in bar_ticks(0.0, 1.0, 3):
        y = round(at(tick))
        draw.line((plot_left, y, plot_right, y), fill=GRID if tick > 0 else FAINT, width=max(1, u // 2))
        draw.text((plot_left - 4 * u, y), format_value(tick), fill=FAINT, font=font, anchor="rm")
    draw.line((plot_left, plot_top, plot_left, plot_bottom), fill=FAINT, width=max(1, u // 2))
    slot = (plot_right - plot_left) / len(values)
    for j, value in enumerate(values):
        left, right = plot_left + slot * (j + 0.2), plot_left + slot * (j + 0.8)
        draw.rectangle((round(left), round(at(min(max(value, 0.0), 1.0))), round(right), plot_bottom),
                       fill=BAR_COLOURS[j])
        middle = (left + right) / 2
        draw.text((middle, at(min(max(value, 0.0), 1.0)) - u), format_value(value), fill=INK, font=font, anchor="md")
        draw.text((middle, plot_bottom + u), CHANNELS[j], fill=INK, font=font, anchor="mt")


def _draw_message(draw: ImageDraw.ImageDraw, message: str, x0: int, top: int, width: int, u: int, font,
                  step: int) -> None:
    """The reason there are no bars, in a light box where the bars would be."""
    draw.rectangle((x0, top, x0 + width - 1, top + CHART_H * u - 1), fill=(246, 246, 246), outline=GRID)
    for m, text in enumerate(_wrap(draw, message, font, width - 12 * u)[: CHART_H * u // step]):
        draw.text((x0 + 6 * u, top + 5 * u + m * step), text, fill=INK, font=font)
