"""coursekit.train: fit learns, stops early with the best weights, and rejects bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from coursekit.data import make_loader, toy_2d
from coursekit.train import accuracy, evaluate, fit


@pytest.fixture
def blobs():
    X, y = toy_2d("gaussians", n=200, noise=0.3, k=3, seed=0)
    return make_loader(X, y, batch_size=32, seed=0), make_loader(X, y, shuffle=False)


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_learns_separable_set(blobs):
    train, val = blobs
    model = small_mlp()
    history = fit(model, train, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=torch.optim.Adam(model.parameters(), lr=0.05), epochs=15,
                  val_loader=val, metrics={"accuracy": accuracy}, progress=False)
    assert set(history) == {"train_loss", "val_loss", "accuracy", "val_accuracy", "best_epoch"}
    assert all(len(history[k]) == 15 for k in ("train_loss", "val_loss", "accuracy", "val_accuracy"))
    assert all(isinstance(v, float) for v in history["train_loss"])
    assert history["train_loss"][-1] < history["train_loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.95
    assert history["val_loss"][history["best_epoch"]] == min(history["val_loss"])
    assert isinstance(history["best_epoch"], int)


def test_fit_without_validation(blobs):
    train, _ = blobs
    model = small_mlp()
    history = fit(model, train, loss_fn=nn.CrossEntropyLoss(),
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=3,
                  progress=False, device="cpu")
    assert history["val_loss"] == [] and history["best_epoch"] == 2
    assert len(history["train_loss"]) == 3


def test_early_stopping_restores_best_weights():
    # Validation labels are the training labels flipped: the better the model fits the
    # training set, the worse its validation loss, so the best epoch is the first.
    X, y = toy_2d("gaussians", n=200, noise=0.2, seed=1)
    train = make_loader(X, y, batch_size=20, seed=0)
    val = make_loader(X, 1 - y, shuffle=False)
    model = small_mlp()
    loss_fn = nn.CrossEntropyLoss()
    history = fit(model, train, loss_fn=loss_fn,
                  optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
                  epochs=50, val_loader=val, patience=2, progress=False)
    best = history["best_epoch"]
    assert len(history["val_loss"]) == best + 1 + 2  # stopped `patience` epochs after the best
    assert len(history["val_loss"]) < 50
    assert history["val_loss"][-1] > history["val_loss"][best]
    restored = evaluate(model, val, loss_fn)["loss"]
    assert restored == pytest.approx(history["val_loss"][best], rel=1e-6)


def test_progress_bar_goes_to_stderr(blobs, capsys):
    train, val = blobs
    model = small_mlp()
    fit(model, train, loss_fn=nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, val_loader=val)
    err = capsys.readouterr().err
    assert "fit" in err and "2/2" in err and "val_loss=" in err


def test_divergence_stops_with_a_warning(blobs):
    train, _ = blobs
    model = small_mlp()

    def nan_loss(out, yb):
        return out.sum() * float("nan")

    with pytest.warns(RuntimeWarning, match="diverged.*smaller learning rate"):
        history = fit(model, train, loss_fn=nan_loss,
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=5,
                      progress=False)
    assert len(history["train_loss"]) == 1


def test_evaluate_is_an_exact_mean_and_keeps_mode():
    torch.manual_seed(0)
    X, y = torch.randn(50, 2), torch.randint(0, 3, (50,))
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5))
    loader = DataLoader(TensorDataset(X, y), batch_size=16)  # 16 + 16 + 16 + 2
    model.train()
    out = evaluate(model, loader, nn.CrossEntropyLoss(), {"accuracy": accuracy})
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        logits = model(X)
    assert out["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert out["accuracy"] == pytest.approx(accuracy(logits, y))
    assert set(evaluate(model, loader)) == set()  # nothing asked, nothing computed


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75
    binary = torch.tensor([[2.0], [-1.0], [0.5]])
    assert accuracy(binary, torch.tensor([[1.0], [0.0], [0.0]])) == pytest.approx(2 / 3)
    assert accuracy(binary.reshape(-1), torch.tensor([1, 0, 1])) == 1.0
    with pytest.raises(ValueError, match="4 predictions .* but 3 targets"):
        accuracy(logits, torch.tensor([0, 1, 1]))


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"epochs": 2.5}, "epochs must be an integer >= 1"),
    ({"epochs": 2, "patience": 3}, "pass val_loader too"),
    ({"epochs": 2, "patience": 0, "val_loader": [(torch.zeros(1, 2), torch.zeros(1).long())]},
     "patience must be"),
    ({"epochs": 2, "metrics": {"val_acc": accuracy}}, "reserved or invalid"),
    ({"epochs": 2, "metrics": {"acc": 3}}, "must be a function"),
])
def test_fit_bad_arguments(blobs, kwargs, match):
    model = small_mlp()
    with pytest.raises(ValueError, match=match):
        fit(model, blobs[0], loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False, **kwargs)


def test_empty_and_malformed_loaders():
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    empty = DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0).long()), batch_size=4)
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        fit(model, empty, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, progress=False)
    with pytest.raises(ValueError, match="loader yields no batches"):
        evaluate(model, empty, nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"must yield \(inputs, targets\) pairs, got Tensor"):
        fit(model, [torch.zeros(4, 2)], loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=1,
            progress=False)
