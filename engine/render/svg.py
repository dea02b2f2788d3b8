"""SVG -> grey-scale pixels: librsvg in this process (through ctypes), else ``rsvg-convert``.

The score picture's pages (abcm2ps's SVG) become pixels here. ``rsvg-convert`` spent ~150 ms
a 1600-pixel page, nearly all of it compressing a PNG that the caller then decoded again to
trim and stack the pages; librsvg drawing straight into an 8-bit alpha surface in memory
takes ~25 ms (bench/render.py). The ink is the alpha: abcm2ps draws in black only, so a
pixel's grey is 255 minus its coverage. The command stays as the fallback where the
library cannot be loaded (another platform, a librsvg older than 2.52).

Only SVG that Pictune wrote reaches this (abcm2ps's output for ABC stripped of file-reading
directives; engine/render/score.py): librsvg reads no external resources from it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import RenderError
from engine.render.command import run_tool

log = logging.getLogger(__name__)

MAX_PIXELS = 4000 * 40000  # a page this big is a mistake, not a score
CAIRO_FORMAT_A8 = 2
CAIRO_STATUS_SUCCESS = 0


@dataclass(frozen=True)
class _Librsvg:
    """The librsvg, cairo and GObject calls this module makes."""

    new_from_data: Any
    intrinsic_size: Any
    render_document: Any
    unref: Any
    error_free: Any
    surface_create: Any
    surface_status: Any
    surface_flush: Any
    surface_data: Any
    surface_stride: Any
    surface_destroy: Any
    cairo_create: Any
    cairo_destroy: Any


class _Rectangle(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in ("x", "y", "width", "height")]


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


def available() -> bool:
    """Whether SVG can be turned into pixels here (the library or the command)."""
    return _librsvg() is not None or shutil.which("rsvg-convert") is not None


def rasterise(svg: bytes, width: int) -> np.ndarray:
    """The SVG drawn ``width`` pixels wide (its aspect kept) on white paper:
    (height, width) uint8, 255 = paper."""
    lib = _librsvg()
    if lib is None:
        return _rasterise_cli(svg, width)
    return _rasterise_lib(lib, svg, width)


def _rasterise_lib(lib: _Librsvg, svg: bytes, width: int) -> np.ndarray:
    error = ctypes.POINTER(_GError)()
    handle = lib.new_from_data(svg, len(svg), ctypes.byref(error))
    if not handle:
        raise RenderError(detail=f"librsvg could not read the SVG: {_message(lib, error)}")
    surface = cairo = None
    try:
        w, h = ctypes.c_double(), ctypes.c_double()
        if not lib.intrinsic_size(handle, ctypes.byref(w), ctypes.byref(h)) or w.value <= 0:
            raise RenderError(detail="the SVG has no size in pixels")
        height = max(1, int(round(h.value * width / w.value)))
        if width * height > MAX_PIXELS:
            raise RenderError(detail=f"an SVG page of {width} x {height} pixels is too big")
        surface = lib.surface_create(CAIRO_FORMAT_A8, width, height)
        if lib.surface_status(surface) != CAIRO_STATUS_SUCCESS:
            raise RenderError(detail="cairo could not make a surface for the SVG")
        cairo = lib.cairo_create(surface)
        viewport = _Rectangle(0.0, 0.0, float(width), float(height))
        if not lib.render_document(handle, cairo, ctypes.byref(viewport), ctypes.byref(error)):
            raise RenderError(detail=f"librsvg could not draw the SVG: {_message(lib, error)}")
        lib.surface_flush(surface)
        stride = lib.surface_stride(surface)
        data = ctypes.cast(lib.surface_data(surface), ctypes.POINTER(ctypes.c_uint8))
        alpha = np.ctypeslib.as_array(data, shape=(height, stride))[:, :width]
        return 255 - alpha  # a copy: the surface is freed below
    finally:
        if cairo:
            lib.cairo_destroy(cairo)
        if surface:
            lib.surface_destroy(surface)
        lib.unref(handle)


def _message(lib: _Librsvg, error: Any) -> str:
    """A GError's message, freeing it."""
    if not error:
        return "unknown error"
    text = (error.contents.message or b"").decode("utf-8", "replace")
    lib.error_free(error)
    return text


def _rasterise_cli(svg: bytes, width: int) -> np.ndarray:
    binary = shutil.which("rsvg-convert")
    if binary is None:
        raise RenderError(detail="neither librsvg nor rsvg-convert is available")
    with tempfile.TemporaryDirectory(prefix="pictune-svg-") as tmp:
        folder = Path(tmp)
        (folder / "page.svg").write_bytes(svg)
        run_tool(
            [binary, "-b", "white", "-w", str(width), "-a", "-o", "page.png", "page.svg"], folder
        )
        try:
            with Image.open(io.BytesIO((folder / "page.png").read_bytes())) as image:
                return np.asarray(image.convert("L"))
        except (OSError, ValueError) as exc:
            raise RenderError(detail=f"rsvg-convert did not write a PNG: {exc}") from exc


@lru_cache(maxsize=1)
def _librsvg() -> _Librsvg | None:
    """The libraries, loaded once; None where any is missing or too old."""
    try:
        rsvg = ctypes.CDLL(ctypes.util.find_library("rsvg-2") or "librsvg-2.so.2")
        cairo = ctypes.CDLL(ctypes.util.find_library("cairo") or "libcairo.so.2")
        gobject = ctypes.CDLL(ctypes.util.find_library("gobject-2.0") or "libgobject-2.0.so.0")
        glib = ctypes.CDLL(ctypes.util.find_library("glib-2.0") or "libglib-2.0.so.0")
    except OSError as exc:
        log.info("librsvg not loadable (%s): SVG goes through rsvg-convert", exc)
        return None
    vp, i, dbl = ctypes.c_void_p, ctypes.c_int, ctypes.c_double
    error_p = ctypes.POINTER(ctypes.POINTER(_GError))

    def declare(lib: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> Any:
        fn = getattr(lib, name)  # AttributeError where the library is too old
        fn.restype, fn.argtypes = restype, list(argtypes)
        return fn

    try:
        return _Librsvg(
            new_from_data=declare(
                rsvg, "rsvg_handle_new_from_data", vp, ctypes.c_char_p, ctypes.c_size_t, error_p
            ),
            # librsvg >= 2.52
            intrinsic_size=declare(
                rsvg,
                "rsvg_handle_get_intrinsic_size_in_pixels",
                i,
                vp,
                ctypes.POINTER(dbl),
                ctypes.POINTER(dbl),
            ),
            render_document=declare(
                rsvg,
                "rsvg_handle_render_document",
                i,
                vp,
                vp,
                ctypes.POINTER(_Rectangle),
                error_p,
            ),
            unref=declare(gobject, "g_object_unref", None, vp),
            error_free=declare(glib, "g_error_free", None, ctypes.POINTER(_GError)),
            surface_create=declare(cairo, "cairo_image_surface_create", vp, i, i, i),
            surface_status=declare(cairo, "cairo_surface_status", i, vp),
            surface_flush=declare(cairo, "cairo_surface_flush", None, vp),
            surface_data=declare(cairo, "cairo_image_surface_get_data", vp, vp),
            surface_stride=declare(cairo, "cairo_image_surface_get_stride", i, vp),
            surface_destroy=declare(cairo, "cairo_surface_destroy", None, vp),
            cairo_create=declare(cairo, "cairo_create", vp, vp),
            cairo_destroy=declare(cairo, "cairo_destroy", None, vp),
        )
    except AttributeError as exc:
        log.info("librsvg too old (%s): SVG goes through rsvg-convert", exc)
        return None
