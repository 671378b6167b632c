"""Image decoding and Darknet's resize/letterbox, against per-pixel reimplementations."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.image import (
    darknet_letterbox,
    darknet_resize,
    image_to_chw,
    load_image,
    to_rgb8,
)
from tests.conftest import zoo_path

f32 = np.float32


def per_pixel_resize(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `resize_image` (src/image.c) written out pixel by pixel in float32.
    For a target height of 1 (a division by zero in Darknet) the first row is used."""
    c, src_h, src_w = im.shape
    if (src_w, src_h) == (w, h):
        return im.copy()
    w_scale = f32(src_w - 1) / f32(w - 1) if w > 1 else f32(0)
    h_scale = f32(src_h - 1) / f32(h - 1) if h > 1 else f32(0)
    part = np.zeros((c, src_h, w), np.float32)
    for k in range(c):
        for r in range(src_h):
            for col in range(w):
                if col == w - 1 or src_w == 1:
                    val = im[k, r, src_w - 1]
                else:
                    sx = f32(col) * w_scale
                    ix = int(sx)
                    dx = sx - f32(ix)
                    val = (f32(1) - dx) * im[k, r, ix] + dx * im[k, r, ix + 1]
                part[k, r, col] = val
    out = np.zeros((c, h, w), np.float32)
    for k in range(c):
        for r in range(h):
            sy = f32(r) * h_scale
            iy = int(sy)
            dy = sy - f32(iy)
            for col in range(w):
                out[k, r, col] = (f32(1) - dy) * part[k, iy, col]
            if r == h - 1 or src_h == 1:
                continue
            for col in range(w):
                out[k, r, col] += dy * part[k, iy + 1, col]
    return out


def per_pixel_letterbox(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `letterbox_image`: fit, integer sizes, centred on a 0.5 canvas."""
    c, src_h, src_w = im.shape
    if f32(w) / f32(src_w) < f32(h) / f32(src_h):
        new_w, new_h = w, (src_h * w) // src_w
    else:
        new_w, new_h = (src_w * h) // src_h, h
    resized = per_pixel_resize(im, new_w, new_h)
    boxed = np.full((c, h, w), 0.5, np.float32)
    dx, dy = (w - new_w) // 2, (h - new_h) // 2
    for k in range(c):
        for y in range(new_h):
            for x in range(new_w):
                boxed[k, dy + y, dx + x] = resized[k, y, x]
    return boxed


def random_chw(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((3, h, w), dtype=np.float32)


@pytest.mark.parametrize("src, dst", [
    ((7, 5), (3, 4)),    # down
    ((3, 2), (8, 9)),    # up
    ((13, 11), (5, 17)),  # down in x, up in y
    ((9, 7), (9, 3)),    # rows only
    ((1, 4), (3, 5)),    # one source column
    ((4, 1), (2, 3)),    # one source row
    ((6, 5), (1, 4)),    # one target column
    ((6, 6), (6, 6)),    # same size: a copy
    ((577, 3), (320, 2)),  # big ratio
    ((5, 3), (4, 42)),   # float32 puts the last row's sample just above row 1
])
def test_resize_equals_darknets_per_pixel_formula(src, dst):
    im = random_chw(*src)
    got = darknet_resize(im, *dst)
    assert got.dtype == np.float32 and got.shape == (3, dst[1], dst[0])
    np.testing.assert_allclose(got, per_pixel_resize(im, *dst), rtol=0, atol=1e-6)


def test_resize_to_one_row_takes_the_first_row():
    im = random_chw(5, 4)
    np.testing.assert_allclose(darknet_resize(im, 5, 1), im[:, :1, :], atol=1e-6)


def test_last_row_gets_only_the_upper_share_as_in_darknet():
    """3 -> 42 rows: (42-1) * float32(2/41) lands just below 2, so Darknet's last row is
    (1 - dy) ~ 1e-7 of row 1 and nothing of row 2: almost black."""
    im = np.ones((3, 3, 4), np.float32)
    out = darknet_resize(im, 4, 42)
    assert (out[:, -1, :] < 1e-6).all() and (out[:, -2, :] > 0.99).all()


def test_resize_keeps_corner_pixels_exactly():
    im = random_chw(11, 7)
    out = darknet_resize(im, 4, 3)
    assert out[:, 0, 0].tolist() == im[:, 0, 0].tolist()
    assert out[:, 0, -1].tolist() == im[:, 0, -1].tolist()


@pytest.mark.parametrize("src, dst", [
    ((7, 5), (6, 6)),   # wide image: bars above and below
    ((4, 9), (7, 7)),   # tall image: bars left and right
    ((5, 3), (11, 4)),  # upscale, odd padding
    ((8, 8), (5, 5)),   # same aspect
    ((10, 4), (4, 9)),  # new height from integer division
])
def test_letterbox_equals_darknets_per_pixel_formula(src, dst):
    im = random_chw(*src, seed=1)
    got = darknet_letterbox(im, *dst)
    np.testing.assert_allclose(got, per_pixel_letterbox(im, *dst), rtol=0, atol=1e-6)


def test_letterbox_fills_the_bars_with_half_grey():
    out = darknet_letterbox(np.zeros((3, 10, 40), np.float32), 16, 16)
    assert (out[:, :6, :] == 0.5).all() and (out[:, 10:, :] == 0.5).all()
    assert (out[:, 6:10, :] == 0).all()


def test_image_to_chw_divides_each_byte_by_255():
    pixels = np.arange(256, dtype=np.uint8).reshape(4, 64, 1).repeat(3, axis=2)
    chw = image_to_chw(Image.fromarray(pixels))
    assert chw.shape == (3, 4, 64) and chw.dtype == np.float32
    expected = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32).reshape(4, 64)
    assert (chw[0] == expected).all()


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_grayscale_is_replicated_into_rgb(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.array([[0, 77, 255]], np.uint8), "L").save(path)
    assert np.asarray(load_image(path)).tolist() == [[[0] * 3, [77] * 3, [255] * 3]]


def test_rgba_drops_alpha_without_compositing(tmp_path):
    path = tmp_path / "alpha.png"
    Image.fromarray(np.array([[[10, 20, 30, 0], [40, 50, 60, 255]]], np.uint8), "RGBA").save(path)
    assert np.asarray(load_image(path)).tolist() == [[[10, 20, 30], [40, 50, 60]]]


def test_sixteen_bit_keeps_the_high_byte(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 200 * 256 + 77, 65535]], np.uint16)).save(path)
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 200, 255]


def test_palette_image_becomes_rgb():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 250, 100, 5] + [0] * 762)
    image.putpixel((1, 0), 1)
    assert np.asarray(to_rgb8(image)).tolist() == [[[0, 0, 0], [250, 100, 5]]]


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\xff\xd8\xff\xe0trunc"])
def test_unreadable_image_is_a_one_line_usage_error(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_truncated_jpeg_is_a_usage_error(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        whole)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:400])
    with pytest.raises(UsageError, match="cannot read"):
        load_image(cut)


def test_missing_image_names_the_path(tmp_path):
    with pytest.raises(UsageError, match="no such image file"):
        load_image(tmp_path / "absent.jpg")


@pytest.mark.parametrize("photo", ["dog", "horses", "person"])
def test_preprocessing_matches_darknets_own_input_tensor(photo):
    """Darknet decodes with stb_image and Pillow's JPEG decoder differs by up to 3/255 a
    pixel; the resize itself must add nothing on top of that."""
    folder = zoo_path("darknet-reference", "yolo-fastest-1.1", photo)
    reference = np.fromfile(folder / "input.f32", np.float32).reshape(3, 320, 320)
    ours = darknet_resize(image_to_chw(load_image(zoo_path("data", f"{photo}.jpg"))), 320, 320)
    difference = np.abs(ours - reference)
    assert difference.max() <= 3.5 / 255
    assert difference.mean() < 6e-4
