"""Uploaded bytes are decoded safely: real photos in, anything else out with a clear error."""

import io

import numpy as np
import pytest
from PIL import Image

from core import InvalidImageError, decode_image, ensure_rgb, sharpness
from core.testing import face_media as media


def test_real_jpeg_and_png_decode_to_rgb():
    for rel in ("obama/obama_1.jpg", "alex_lacamoire/alex_lacamoire_2.png"):
        img = decode_image((media.faces_dir() / rel).read_bytes())
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_colour_order_is_rgb():
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 0, 0)).save(buf, "PNG")
    assert tuple(decode_image(buf.getvalue())[0, 0]) == (255, 0, 0)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, not an image", b"%PDF-1.7\n...", (b"\xff\xd8\xff\xe0" + b"\x00" * 100)],
    ids=["empty", "text", "pdf", "broken-jpeg"],
)
def test_non_images_are_refused(data):
    with pytest.raises(InvalidImageError) as exc:
        decode_image(data)
    assert exc.value.message == "无法识别的图片，请上传 JPG 或 PNG 照片"


@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_truncated_photo_and_pixel_bombs_are_refused(grey):
    """Decoded in colour or as grey levels (snapshot frames), the same checks come first."""
    data = (media.faces_dir() / "obama" / "obama_1.jpg").read_bytes()
    with pytest.raises(InvalidImageError):
        decode_image(data[:200], grey=grey)
    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, "PNG")  # 81 MP, compresses to a few kB
    with pytest.raises(InvalidImageError, match="too large"):
        decode_image(buf.getvalue(), grey=grey)
    with pytest.raises(InvalidImageError, match="too small"):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PNG")
        decode_image(buf.getvalue(), grey=grey)


def test_grey_decoding_gives_the_luma_of_the_colour_frame():
    data = (media.faces_dir() / "obama" / "obama_1.jpg").read_bytes()
    grey, colour = decode_image(data, grey=True), decode_image(data)
    assert grey.ndim == 2 and grey.shape == colour.shape[:2]
    luma = np.asarray(Image.fromarray(colour).convert("L"), dtype=np.int16)
    assert np.abs(grey.astype(np.int16) - luma).mean() < 0.5


def test_arrays_are_checked():
    assert ensure_rgb(np.zeros((10, 10), np.uint8)).shape == (10, 10, 3)
    assert ensure_rgb(np.zeros((10, 10, 4), np.uint8)).shape == (10, 10, 3)
    with pytest.raises(InvalidImageError):
        ensure_rgb(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InvalidImageError):
        ensure_rgb(b"bytes")


def test_sharpness_drops_on_blur():
    import cv2

    img = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    assert sharpness(cv2.GaussianBlur(img, (0, 0), 6)) < sharpness(img) / 4
