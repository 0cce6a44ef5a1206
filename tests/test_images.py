"""Image folders of any size: one size and one mode for all, said in one warning; same-size folders untouched."""

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from trainfree._errors import TrainfreeError
from trainfree.cli import main
from trainfree.data import load, load_file
from trainfree.data.images import images_to_array


def png(path, array, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)
    return path


def test_a_same_size_folder_loads_its_integers_exactly_and_silently(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 6, 7))
    for i, arr in enumerate(pixels):
        png(tmp_path / "imgs" / "ab"[i % 2] / f"{i}.png", arr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no resize, no warning
        ds = load_file(tmp_path / "imgs")
        asked = load_file(tmp_path / "imgs", image_size=(6, 7))  # the size they have: nothing to resize
    order = [0, 2, 1, 3]  # class a (0.png, 2.png), then class b
    for d in (ds, asked):
        assert d.image_shape == (1, 6, 7) and "original_size" not in d.extras
        assert np.array_equal(np.rint(d.images()[:, 0] * 255).astype(int), pixels[order])


def test_mixed_sizes_take_the_most_common_one_with_one_warning(tmp_path):
    rng = np.random.default_rng(1)
    small, big = rng.integers(0, 256, (2, 8, 10)), rng.integers(0, 256, (20, 16))
    png(tmp_path / "a" / "1.png", small[0])
    png(tmp_path / "a" / "2.png", small[1])
    png(tmp_path / "b" / "3.png", big)
    with pytest.warns(UserWarning, match=r"resized 1 of 3 images to 8x10 \(height x width, the most common size"):
        ds = load_file(tmp_path)
    assert ds.image_shape == (1, 8, 10)
    assert ds.extras["original_size"].tolist() == ["8x10", "8x10", "20x16"]
    expected = np.asarray(Image.fromarray(big.astype(np.uint8)).resize((10, 8), Image.Resampling.LANCZOS)) / 255
    np.testing.assert_allclose(ds.images()[2, 0], expected, rtol=1e-6)
    assert np.array_equal(np.rint(ds.images()[:2, 0] * 255).astype(int), small)  # the common size is kept as is


def test_grey_and_colour_of_any_size_become_rgb_of_the_size_asked(tmp_path):
    rng = np.random.default_rng(2)
    png(tmp_path / "a" / "1.png", rng.integers(0, 256, (5, 9)))
    png(tmp_path / "b" / "2.png", rng.integers(0, 256, (30, 12, 3)), "RGB")
    with pytest.warns(UserWarning, match=r"resized 2 of 2 images to 16x16 \(height x width, as asked\), mode RGB"):
        ds = load(tmp_path, image_size=(16, 16))
    assert ds.image_shape == (3, 16, 16) and len(ds) == 2
    grey = ds.images()[0]
    np.testing.assert_allclose(grey[0], grey[1], rtol=0, atol=1e-7)  # a grey image gets equal channels


def test_equally_common_sizes_resolve_to_the_larger():
    imgs = [Image.new("L", (4, 4)), Image.new("L", (6, 5))]
    with pytest.warns(UserWarning, match="resized 1 of 2 images to 5x6"):
        X, extras = images_to_array(imgs)
    assert X.shape == (2, 1, 5, 6) and extras["original_size"].tolist() == ["4x4", "5x6"]


@pytest.mark.parametrize("size", [(0, 5), (5,), "28", (5.5, 3), (True, 3), (5000, 5), (-1, 4), None])
def test_nonsense_sizes_are_refused_in_one_line(tmp_path, size):
    png(tmp_path / "a" / "1.png", np.zeros((4, 4)))
    if size is None:  # a size for data that is not an image folder
        np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.arange(4) % 2)
        with pytest.raises(TrainfreeError, match="'image_size' parameter resizes the images of an image folder"):
            load(tmp_path / "d.npz", image_size=(4, 4))
        with pytest.raises(TrainfreeError, match="built-in data set"):
            load("digits", image_size=(4, 4))
        return
    with pytest.raises(TrainfreeError, match=r"The 'image_size' parameter must be two whole numbers \(height, width\)"):
        load_file(tmp_path, image_size=size)


def test_cli_image_size_is_used_and_recorded_and_checked(tmp_path, capsys):
    rng = np.random.default_rng(3)
    for i in range(12):
        png(tmp_path / "imgs" / "ab"[i % 2] / f"{i}.png", rng.integers(0, 256, (6 + i % 3, 7)))
    out = tmp_path / "o"
    with pytest.warns(UserWarning, match="resized 12 of 12 images to 5x5"):
        rc = main(["score", "cg", "--data", str(tmp_path / "imgs"), "--image-size", "5", "5", "--quiet", "--no-report",
                   "--out", str(out)])
    assert rc == 0
    assert json.loads((out / "run.json").read_text())["image_size"] == [5, 5]
    assert json.loads((out / "summary.json").read_text())["settings"]["n_features"] == 25
    assert main(["score", "cg", "--data", str(tmp_path / "imgs"), "--image-size", "0", "5", "--out",
                 str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--image-size must be two whole numbers" in err
    assert "None" not in err and "leave it out" in err  # words a command-line user can act on
