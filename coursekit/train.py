"""A short PyTorch training loop: ``fit`` with history, progress bar and early stopping.

The loop is deliberately plain (zero_grad, forward, loss, backward, step) so students
can read it after writing their own in earlier notebooks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: torch is imported by the functions
    import torch
    from torch import nn

Metric = Callable[["torch.Tensor", "torch.Tensor"], Any]
_RESERVED = ("loss", "train_loss", "val_loss", "best_epoch")


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Args:
        logits: (B, K) class scores (the class is the argmax), or (B,)/(B, 1) logits of
            a binary classifier (class 1 when the logit is > 0).
        y: (B,) integer classes (or (B, 1) 0/1 targets for the binary case).

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: the number of predictions and of targets differ.
    """
    if logits.ndim == 2 and logits.shape[1] > 1:
        pred = logits.argmax(dim=1)
    else:
        pred = (logits.reshape(-1) > 0).long()
    target = y.reshape(-1).long()
    if pred.shape != target.shape:
        raise ValueError(f"accuracy: {pred.shape[0]} predictions from logits of shape "
                         f"{tuple(logits.shape)} but {target.shape[0]} targets of shape "
                         f"{tuple(y.shape)}")
    return (pred == target).float().mean().item()


def _check_metrics(metrics: Mapping[str, Metric] | None) -> dict[str, Metric]:
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if not isinstance(name, str) or name in _RESERVED or name.startswith("val_"):
            raise ValueError(f"metric name {name!r} is reserved or invalid: use a plain name "
                             f"like 'accuracy' (not {list(_RESERVED)} nor 'val_...')")
        if not callable(fn):
            raise ValueError(f"metric {name!r} must be a function (outputs, targets) -> float")
    return metrics


def _model_device(model: nn.Module) -> torch.device:
    import torch

    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _batches(loader: Iterable, name: str, device: torch.device):
    """Yield ``(xb, yb)`` moved to ``device``; complains about anything else."""
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"{name} must yield (inputs, targets) pairs, got "
                             f"{type(batch).__name__}; make it with coursekit.data.make_loader")
        xb, yb = batch
        yield xb.to(device), yb.to(device)


def _as_float(value: Any) -> float:
    return float(value.item()) if hasattr(value, "item") else float(value)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable | None = None,
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Average loss and metrics of ``model`` over ``loader``, in eval mode, without gradients.

    Args:
        model: maps a batch of inputs (B, ...) to outputs (B, ...).
        loader: yields ``(xb, yb)`` pairs.
        loss_fn: ``loss_fn(outputs, yb)`` returning the batch *mean*; optional.
        metrics: name -> ``fn(outputs, yb)`` returning the batch mean as a float.
        device: where to run; default the device of the model's parameters.

    Returns:
        ``{"loss": ..., "<metric>": ...}`` (``loss`` only with ``loss_fn``): batch means
        weighted by batch size, i.e. means over all examples.

    Raises:
        ValueError: the loader yields no batches, or not (inputs, targets) pairs.
    """
    import torch

    metrics = _check_metrics(metrics)
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()  # dropout off, batch norm uses running statistics
    sums: dict[str, float] = {}
    n = 0
    try:
        with torch.no_grad():
            for xb, yb in _batches(loader, "loader", device):
                out = model(xb)
                b = xb.shape[0]
                if loss_fn is not None:
                    sums["loss"] = sums.get("loss", 0.0) + _as_float(loss_fn(out, yb)) * b
                for name, fn in metrics.items():
                    sums[name] = sums.get(name, 0.0) + _as_float(fn(out, yb)) * b
                n += b
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("loader yields no batches: is the dataset empty?")
    return {k: v / n for k, v in sums.items()}


def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    val_loader: Iterable | None = None,
    metrics: Mapping[str, Metric] | None = None,
    patience: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` for up to ``epochs`` epochs and return its history.

    Each epoch: one pass over ``train_loader`` (zero_grad, forward, loss, backward,
    step), then, with ``val_loader``, ``evaluate`` on it. Training metrics are
    averaged over the epoch's batches as the model changes (as Keras does).

    Args:
        model: the ``nn.Module`` to train; its outputs go to ``loss_fn``.
        train_loader: yields ``(xb, yb)``: xb (B, ...), yb (B, ...).
        loss_fn: ``loss_fn(outputs, yb)`` returning the batch *mean* (e.g.
            ``nn.CrossEntropyLoss()``).
        optimizer: built on ``model.parameters()``.
        epochs: maximum number of epochs (>= 1).
        val_loader: data for validation loss/metrics and early stopping.
        metrics: name -> ``fn(outputs, yb)`` returning a float, e.g. ``{"accuracy": accuracy}``.
        patience: stop after this many epochs without a lower validation loss, and put
            back the weights of the best epoch. Needs ``val_loader``.
        device: where to train; the model is moved there (do it before creating the
            optimizer). Default: where the model already is, e.g.
            ``model.to(get_device())``.
        progress: show one tqdm bar over epochs with the latest losses.

    Returns:
        ``{"train_loss": [...], "val_loss": [...], "<metric>": [...],
        "val_<metric>": [...], "best_epoch": int}``: one float per epoch run (the
        ``val_`` lists are empty without ``val_loader``). ``best_epoch`` is the 0-based
        epoch with the lowest validation loss (without validation: the last epoch), so
        ``history["val_loss"][history["best_epoch"]]`` is the best validation loss.
        If the loss becomes NaN or infinite, training stops with a warning.

    Raises:
        ValueError: ``epochs`` < 1, ``patience`` without ``val_loader`` or < 1, an empty
            loader, a reserved metric name.
    """
    import torch
    from tqdm.auto import tqdm

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if patience is not None:
        if val_loader is None:
            raise ValueError("patience (early stopping) watches the validation loss: "
                             "pass val_loader too")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1 or None, got {patience!r}")
    metrics = _check_metrics(metrics)
    if device is not None:
        device = torch.device(device)
        model.to(device)
    else:
        device = _model_device(model)

    history: dict[str, Any] = {"train_loss": [], "val_loss": []}
    for name in metrics:
        history[name] = []
        history[f"val_{name}"] = []
    best_loss, best_epoch, best_state, waited = math.inf, 0, None, 0

    bar = tqdm(range(epochs), desc="fit", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        sums = dict.fromkeys(["loss", *metrics], 0.0)
        n = 0
        for xb, yb in _batches(train_loader, "train_loader", device):
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            b = xb.shape[0]
            sums["loss"] += loss.item() * b
            with torch.no_grad():
                for name, fn in metrics.items():
                    sums[name] += _as_float(fn(out.detach(), yb)) * b
            n += b
        if n == 0:
            bar.close()
            raise ValueError("train_loader yields no batches: is the dataset empty?")
        history["train_loss"].append(sums["loss"] / n)
        for name in metrics:
            history[name].append(sums[name] / n)
        postfix = {"loss": f"{history['train_loss'][-1]:.4f}"}

        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, metrics, device)
            history["val_loss"].append(val["loss"])
            for name in metrics:
                history[f"val_{name}"].append(val[name])
            postfix["val_loss"] = f"{val['loss']:.4f}"
            if val["loss"] < best_loss:
                best_loss, best_epoch, waited = val["loss"], epoch, 0
                if patience is not None:  # copy: the live tensors keep changing
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
        else:
            best_epoch = epoch
        for name in metrics:
            postfix[name] = f"{history[name][-1]:.3f}"
        bar.set_postfix(postfix)

        last = history["val_loss"][-1] if val_loader is not None else history["train_loss"][-1]
        if not (math.isfinite(history["train_loss"][-1]) and math.isfinite(last)):
            warnings.warn(f"fit: the loss is {history['train_loss'][-1]} at epoch {epoch}; "
                          "training diverged, so it stopped. Try a smaller learning rate.",
                          RuntimeWarning, stacklevel=2)
            break
        if patience is not None and waited >= patience:
            break
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state)
    history["best_epoch"] = best_epoch
    return history
