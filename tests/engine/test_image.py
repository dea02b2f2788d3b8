from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from engine.errors import CorruptImage, ImageTooLarge, ImageTooManyPixels, UnsupportedImage
from engine.image import ALLOWED_FORMATS, ALLOWED_MIME_TYPES, decode_image, sniff_image_format
from tests import images as T


@pytest.mark.parametrize("name", sorted(T.UNUSUAL))
def test_unusual_images_decode_to_rgb(name: str) -> None:
    data = T.UNUSUAL[name]()
    decoded = decode_image(data)
    assert decoded.image.mode == "RGB"
    assert decoded.image.width >= 1 and decoded.image.height >= 1
    assert decoded.info.format in ALLOWED_FORMATS
    assert decoded.info.n_bytes == len(data)
    assert decoded.info.sha256 == hashlib.sha256(data).hexdigest()
    assert (decoded.info.width, decoded.info.height) == decoded.image.size


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty", UnsupportedImage),
        ("not_an_image", UnsupportedImage),
        ("html_page", UnsupportedImage),
        ("ico", UnsupportedImage),
        ("truncated_png", CorruptImage),
        ("truncated_jpeg", CorruptImage),
        ("png_signature_then_garbage", CorruptImage),
        ("decompression_bomb", ImageTooManyPixels),
        ("many_pixels", ImageTooManyPixels),
        ("too_large", ImageTooLarge),
    ],
)
def test_broken_images_raise_typed_errors(name: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        decode_image(T.BROKEN[name]())
    message = caught.value.user_message
    assert message and "\n" not in message and "Traceback" not in message


def test_every_broken_builder_is_covered() -> None:
    # A new broken builder must get an expected error in the table above.
    covered = {
        "empty",
        "not_an_image",
        "html_page",
        "ico",
        "truncated_png",
        "truncated_jpeg",
        "png_signature_then_garbage",
        "decompression_bomb",
        "many_pixels",
        "too_large",
    }
    assert set(T.BROKEN) == covered


def test_bombs_are_refused_without_pil_warnings() -> None:
    # The limits are checked on the header; PIL's own bomb warning must not leak out,
    # and PIL's global limit is left as it was.
    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (T.decompression_bomb(), T.many_pixels()):
            with pytest.raises(ImageTooManyPixels):
                decode_image(data)
    assert before == Image.MAX_IMAGE_PIXELS


def test_limits_are_parameters_and_appear_in_messages() -> None:
    data = T.rgb_png(64, 48)
    with pytest.raises(ImageTooLarge) as too_big:
        decode_image(data, max_bytes=len(data) - 1)
    assert "MB" in too_big.value.user_message
    with pytest.raises(ImageTooManyPixels) as too_many:
        decode_image(data, max_pixels=64 * 48 - 1)
    assert "megapixels" in too_many.value.user_message
    assert decode_image(data, max_pixels=64 * 48).image.size == (64, 48)


def test_non_bytes_input_is_unsupported() -> None:
    with pytest.raises(UnsupportedImage):
        decode_image("not bytes")  # type: ignore[arg-type]


def test_exif_orientation_swaps_the_sides() -> None:
    decoded = decode_image(T.exif_rotated_jpeg(40, 20))
    assert decoded.image.size == (20, 40)
    assert (decoded.info.width, decoded.info.height) == (20, 40)


def test_transparency_becomes_white() -> None:
    for data, opaque in ((T.palette_png(), (255, 0, 0)), (T.rgba_png(), (0, 0, 255))):
        image = decode_image(data).image
        assert image.getpixel((5, 5)) == opaque
        assert image.getpixel((35, 5)) == (255, 255, 255)
    la = decode_image(T.la_png())
    assert la.info.mode == "LA"
    assert la.image.getpixel((35, 5)) == (255, 255, 255)
    assert la.image.getpixel((5, 5)) == (30, 30, 30)


def test_sixteen_bit_and_float_are_stretched_over_their_range() -> None:
    grey = decode_image(T.grey16_png())
    assert grey.info.mode.startswith("I;16")
    a = np.asarray(grey.image)
    assert a.min() == 0 and a.max() == 255  # 1000..3000 of 65535 would otherwise be black
    flt = decode_image(T.float_tiff())
    assert flt.info.mode == "F"
    b = np.asarray(flt.image)
    assert b.max() == 255 and b.min() <= 1  # the NaN did not spoil the range


def test_cmyk_and_bilevel_convert() -> None:
    cmyk = decode_image(T.cmyk_jpeg())
    assert cmyk.info.mode == "CMYK"
    r, g, b = cmyk.image.getpixel((0, 0))
    assert b > 200 and r < 60  # the gradient starts blue
    bilevel = decode_image(T.mode1_png())
    assert bilevel.image.getpixel((2, 2)) == (255, 255, 255)
    assert bilevel.image.getpixel((30, 2)) == (0, 0, 0)


def test_tiny_and_extreme_aspect_images() -> None:
    assert decode_image(T.tiny_1x1()).image.getpixel((0, 0)) == (200, 30, 30)
    assert decode_image(T.wide_8000x20()).image.size == (8000, 20)


def test_animation_counts_frames_and_measures_motion() -> None:
    moving = decode_image(T.animated_gif(frames=8))
    still = decode_image(T.animated_gif(frames=8, still=True))
    assert moving.info.frames == 8 and moving.info.format == "GIF"
    assert moving.info.motion > 0.01
    assert still.info.motion == pytest.approx(0.0, abs=1e-6)
    assert moving.image.size == (48, 48)
    webp = decode_image(T.animated_webp())
    assert webp.info.frames == 6 and webp.info.motion > 0.01
    assert decode_image(T.rgb_png()).info.frames == 1


def test_max_side_shrinks_but_info_describes_the_original() -> None:
    data = T.photo_like(3, size=(400, 300), fmt="JPEG")
    decoded = decode_image(data, max_side=100)
    assert max(decoded.image.size) == 100
    assert (decoded.info.width, decoded.info.height) == (400, 300)


def test_sniffing() -> None:
    assert sniff_image_format(T.rgb_png()) == "PNG"
    assert sniff_image_format(T.jpeg()) == "JPEG"
    assert sniff_image_format(T.webp()) == "WEBP"
    assert sniff_image_format(T.gif()) == "GIF"
    assert sniff_image_format(T.tiff()) == "TIFF"
    assert sniff_image_format(T.bmp()) == "BMP"
    assert sniff_image_format(T.html_page()) is None
    assert sniff_image_format(T.not_an_image()) is None
    assert sniff_image_format(b"BMW is a car brand, not a bitmap") is None
    assert sniff_image_format(b"") is None
    assert "image/png" in ALLOWED_MIME_TYPES and "text/html" not in ALLOWED_MIME_TYPES


def test_decoding_is_deterministic() -> None:
    data = T.photo_like(5)
    a, b = decode_image(data), decode_image(data)
    assert a.info == b.info
    assert a.image.tobytes() == b.image.tobytes()


def test_empty_file_says_it_is_empty() -> None:
    with pytest.raises(UnsupportedImage) as caught:
        decode_image(b"")
    assert "empty" in caught.value.user_message


def test_corrupt_exif_is_decoded_without_warnings() -> None:
    """PIL warns about a corrupt EXIF block on stderr, which would be a second line after the
    CLI's output (and noise in the bots' logs): the picture decodes quietly."""
    im = Image.new("RGB", (16, 8), "teal")
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoded = decode_image(buf.getvalue())
    assert decoded.image.size == (16, 8)
    assert [str(w.message) for w in caught] == []
