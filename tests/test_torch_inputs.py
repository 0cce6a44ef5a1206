"""The inputs users have: PyTorch data sets and loaders, Hugging Face data sets, and their own networks' features."""

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainfree._errors import TrainfreeError
from trainfree.cli import main
from trainfree.data import embed, from_huggingface, from_torch, load, load_features_model


class DictItems(torch.utils.data.Dataset):
    """Items as dicts, labels as strings, inputs under "pixels" (and an optional extra key)."""

    def __init__(self, n=10, extra=False):
        self.n, self.extra = n, extra

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        item = {"pixels": torch.full((2, 4, 4), float(i)), "kind": ["cat", "dog"][i % 2]}
        return {**item, "weight": 1.0} if self.extra else item


def tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 5)).eval()


# ----------------------------------------------------------------------------------------------- PyTorch


def test_from_torch_keeps_rows_images_and_labels():
    X, y = torch.rand(20, 1, 16, 16), torch.arange(20) % 3
    ds = from_torch(TensorDataset(X, y))
    assert ds.image_shape == (1, 16, 16) and ds.classes == ("0", "1", "2") and ds.ids.tolist() == list(range(20))
    np.testing.assert_allclose(ds.images(), X.numpy(), rtol=0, atol=0)
    assert ds.y.tolist() == y.tolist()
    # A loader that keeps the order reads the same rows, whatever its batch size.
    via = from_torch(DataLoader(TensorDataset(X, y), batch_size=7))
    np.testing.assert_allclose(via.X, ds.X, rtol=0, atol=0)
    for bad in (DataLoader(TensorDataset(X, y), shuffle=True), DataLoader(TensorDataset(X, y), batch_size=3,
                                                                          drop_last=True)):
        with pytest.raises(TrainfreeError, match="shuffles or drops its last batch"):
            from_torch(bad)


def test_from_torch_dict_items_name_their_label_and_input():
    ds = from_torch(DictItems(), label="kind")
    assert ds.classes == ("cat", "dog") and ds.image_shape == (2, 4, 4) and ds.labels[3] == "dog"
    np.testing.assert_allclose(ds.images()[3], 3.0)
    with pytest.raises(TrainfreeError, match=r"no label key 'label'; their keys are \['pixels', 'kind'\]"):
        from_torch(DictItems())
    with pytest.raises(TrainfreeError, match="pass inputs= the one holding the input"):
        from_torch(DictItems(extra=True), label="kind")
    assert from_torch(DictItems(extra=True), label="kind", inputs="pixels").X.shape == (10, 32)
    with pytest.raises(TrainfreeError, match="takes a torch.utils.data.Dataset or DataLoader"):
        from_torch(42)
    pil_items = [(Image.new("L", (4, 4)), 0), (Image.new("L", (4, 4)), 1)]  # no ToTensor in the transform
    with pytest.raises(TrainfreeError, match="Could not batch the dataset's items .*ToTensor"):
        from_torch(pil_items)


def test_features_are_the_networks_outputs_in_eval_mode_whatever_the_batch():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Dropout(0.5))  # dropout: eval mode must switch it off
    net.train()
    X, y = torch.rand(30, 1, 8, 8), torch.arange(30) % 2
    with torch.no_grad():
        expected = net.eval()(X).numpy()
    net.train()
    a = from_torch(TensorDataset(X, y), features=net, batch_size=4)
    b = from_torch(TensorDataset(X, y), features=net, batch_size=30)
    assert a.image_shape is None and a.X.shape == (30, 8) and not net.training
    np.testing.assert_allclose(a.X, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.X, b.X, rtol=1e-5, atol=1e-6)
    assert not any(p.grad is not None for p in net.parameters())


def test_embed_a_loaded_dataset_or_an_array():
    ds = load("digits", n=60, random_state=0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 6))
    out = embed(ds, net, batch_size=16)
    assert out.X.shape == (60, 6) and out.image_shape is None and "Sequential features" in out.name
    assert np.array_equal(out.y, ds.y) and np.array_equal(out.ids, ds.ids) and out.classes == ds.classes
    with torch.no_grad():
        np.testing.assert_allclose(out.X, net(torch.as_tensor(ds.images())).numpy(), rtol=1e-5, atol=1e-6)
    assert embed(ds.X, nn.Linear(64, 3)).shape == (60, 3)


@pytest.mark.parametrize("model, words", [
    (nn.Linear(5, 2), "features model failed on a batch of the array of shape (4, 64)"),
    (lambda x: (x, x), "must return one tensor with a row per input; it returned tuple"),
    (lambda x: x.sum(1) * float("nan"), "NaN or infinite"),
    ("resnet", "must be a torch.nn.Module or a callable"),
])
def test_embed_errors_are_one_clear_line(model, words):
    with pytest.raises(TrainfreeError) as info:
        embed(np.ones((4, 64)), model)
    assert words in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------- model files


def test_model_files_torchscript_and_torch_export_give_the_networks_features(tmp_path):
    net, x = tiny_cnn(), torch.rand(9, 1, 8, 8)
    with torch.no_grad():
        expected = net(x).numpy()
    torch.jit.save(torch.jit.script(net), tmp_path / "net.pt")
    exported = torch.export.export(net, (x[:3],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(exported, tmp_path / "net.pt2")
    for name in ("net.pt", "net.pt2"):
        feats = embed(x.numpy(), load_features_model(tmp_path / name), batch_size=4)
        np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(TrainfreeError, match="'features_model' parameter: weights.pt is not a readable TorchScript"):
        load_features_model(tmp_path / "weights.pt")
    with pytest.raises(TrainfreeError, match="which is not a file"):
        load_features_model(tmp_path / "missing.pt2")
    static = torch.export.export(net, (x[:3],))  # exported for batches of exactly 3 rows
    torch.export.save(static, tmp_path / "static.pt2")
    with pytest.raises(TrainfreeError, match="export it with a dynamic batch"):
        embed(x.numpy(), load_features_model(tmp_path / "static.pt2"), batch_size=4)


def test_cli_features_model_scores_the_embeddings(tmp_path, capsys):
    net = tiny_cnn()
    torch.export.save(torch.export.export(net, (torch.zeros(2, 1, 8, 8),),
                                          dynamic_shapes=({0: torch.export.Dim("batch")},)), tmp_path / "net.pt2")
    out = tmp_path / "o"
    assert main(["score", "cg", "--data", "digits", "--n", "80", "--features-model", str(tmp_path / "net.pt2"),
                 "--no-report", "--out", str(out)]) == 0
    assert "features: 5 per row from --features-model" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["n_features"] == 5 and "net.pt2 features" in summary["settings"]["data"]
    assert len(pd.read_parquet(out / "scores.parquet")) == 80
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    assert main(["score", "cg", "--data", "digits", "--n", "80", "--features-model", str(tmp_path / "junk.pt"),
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trainfree: error: --features-model: junk.pt is not a readable")
    assert main(["experiment", "prune", "--data", "digits", "--features-model", str(tmp_path / "net.pt2"),
                 "--out", str(tmp_path / "p")]) == 2
    assert "--features-model is not available for experiment prune" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- Hugging Face


def png_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def save_to_disk_layout(folder, table, features):
    """What datasets' Dataset.save_to_disk writes: an Arrow stream, state.json and dataset_info.json."""
    folder.mkdir(parents=True)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}],
                                                   "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": features}))


IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
CLASSLABEL = {"names": ["cat", "dog", "fish"], "_type": "ClassLabel"}


def test_a_save_to_disk_folder_with_png_images_and_class_names(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 12, 10))
    images = pa.array([{"bytes": png_bytes(p), "path": None} for p in pixels], type=IMAGE_STRUCT)
    table = pa.table({"image": images, "label": pa.array([2, 0, 1, 2, 0, 1], pa.int64())})
    save_to_disk_layout(tmp_path / "hf", table, {"image": {"_type": "Image"}, "label": CLASSLABEL})
    ds = from_huggingface(tmp_path / "hf")
    assert ds.classes == ("cat", "dog", "fish") and ds.labels.tolist() == ["fish", "cat", "dog"] * 2
    assert ds.image_shape == (1, 12, 10)
    assert np.array_equal(np.rint(ds.images()[:, 0] * 255).astype(int), pixels)
    # load() and the CLI recognise the folder; a DatasetDict folder needs its split.
    assert load(tmp_path / "hf").classes == ds.classes
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    save_to_disk_layout(tmp_path / "dd" / "train", table, {"image": {"_type": "Image"}, "label": CLASSLABEL})
    with pytest.raises(TrainfreeError, match=r"holds the splits \['train', 'test'\]; pass split="):
        from_huggingface(tmp_path / "dd")
    assert len(from_huggingface(tmp_path / "dd", split="train")) == 6
    feats = from_huggingface(tmp_path / "hf", features=nn.Sequential(nn.Flatten(), nn.Linear(120, 4)))
    assert feats.X.shape == (6, 4) and feats.classes == ds.classes


def test_a_save_to_disk_folder_of_embeddings_and_its_errors(tmp_path):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(8, 3))
    table = pa.table({"embedding": pa.array(vectors.tolist(), pa.list_(pa.float32())),
                      "label": pa.array([0, 1] * 4, pa.int64()), "note": ["x"] * 8})
    save_to_disk_layout(tmp_path / "emb", table, {"label": {"names": ["no", "yes"], "_type": "ClassLabel"}})
    ds = from_huggingface(tmp_path / "emb", inputs="embedding")
    np.testing.assert_allclose(ds.X, vectors, rtol=1e-6)
    assert ds.classes == ("no", "yes") and ds.image_shape is None
    with pytest.raises(TrainfreeError, match="Column 'note' of emb holds text"):
        from_huggingface(tmp_path / "emb")
    with pytest.raises(TrainfreeError, match="no label column 'kind'"):
        from_huggingface(tmp_path / "emb", label_column="kind")
    missing = pa.table({"x": pa.array([1.0, 2.0, 3.0]), "label": pa.array([0, -1, 1], pa.int64())})
    save_to_disk_layout(tmp_path / "missing", missing, {"label": {"names": ["a", "b"], "_type": "ClassLabel"}})
    with pytest.raises(TrainfreeError, match=r"1 row\(s\) without a label \(-1\).*row 1"):
        from_huggingface(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(TrainfreeError, match="no state.json"):
        from_huggingface(tmp_path / "plain")


class FakeHF:
    """Duck-typed datasets.Dataset: column_names, len, ds[column] (decoded Pillow images) and features."""

    class ClassLabel:
        names = ["ant", "bee"]

    def __init__(self, images, labels):
        self.columns = {"img": images, "label": labels}
        self.column_names = list(self.columns)
        self.features = {"img": object(), "label": self.ClassLabel()}

    def __len__(self):
        return len(self.columns["label"])

    def __getitem__(self, column):
        return self.columns[column]


def test_a_duck_typed_datasets_object_with_images_of_two_sizes():
    rng = np.random.default_rng(2)
    imgs = [Image.fromarray(rng.integers(0, 256, (9, 9, 3)).astype(np.uint8)) for _ in range(3)]
    imgs.append(Image.fromarray(rng.integers(0, 256, (5, 5)).astype(np.uint8)))
    with pytest.warns(UserWarning, match="resized 1 of 4 images to 9x9"):
        ds = from_huggingface(FakeHF(imgs, [0, 1, 1, 0]))
    assert ds.image_shape == (3, 9, 9) and ds.labels.tolist() == ["ant", "bee", "bee", "ant"]
    with pytest.warns(UserWarning, match="resized 3 of 3 images to 4x4 .*as asked"):
        assert load(FakeHF(imgs[:3], [0, 1, 1]), image_size=(4, 4)).image_shape == (3, 4, 4)
    with pytest.raises(TrainfreeError, match="takes a datasets.Dataset or the folder"):
        from_huggingface(object())
