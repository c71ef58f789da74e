"""coursekit.plot: rendered headless (Agg); checks what was drawn and the error messages."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from coursekit.plot import decision_boundary, image_grid, plot_history  # noqa: E402
from coursekit.style import PALETTE  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


HISTORY = {
    "train_loss": [1.0, 0.6, 0.4, 0.3],
    "val_loss": [1.1, 0.7, 0.65, 0.8],
    "accuracy": [0.5, 0.7, 0.8, 0.9],
    "val_accuracy": [0.45, 0.65, 0.7, 0.68],
    "best_epoch": 2,
}


def test_plot_history_panels_and_lines():
    fig = plot_history(HISTORY)
    fig.canvas.draw()
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]
    loss_ax = axes[0]
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert labels == ["train", "validation", "best epoch"]
    train, val, best = loss_ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(val.get_ydata(), HISTORY["val_loss"])
    assert best.get_xdata()[0] == 3  # best_epoch is 0-based, the axis counts from 1
    np.testing.assert_array_equal(axes[1].get_lines()[0].get_ydata(), HISTORY["accuracy"])


def test_plot_history_choices_and_given_axes():
    fig = plot_history(HISTORY, metrics=[])
    assert len(fig.axes) == 1
    fig, ax = plt.subplots()
    assert plot_history({"train_loss": [3, 2, 1]}, ax=ax) is fig
    assert [line.get_label() for line in ax.get_lines()] == ["train"]
    fig = plot_history({"train_loss": [3, 2, 1], "val_loss": [], "best_epoch": 2})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]  # no best without val


def test_plot_history_accepts_keras_history():
    class History:  # what keras' model.fit returns
        history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.9], "accuracy": [0.3, 0.6]}

    fig = plot_history(History())
    assert [a.get_title() for a in fig.axes] == ["loss", "accuracy"]


def test_plot_history_bad_input():
    with pytest.raises(ValueError, match="no 'train_loss'"):
        plot_history({"val_loss": [1.0]})
    with pytest.raises(ValueError, match="empty"):
        plot_history({"train_loss": []})
    with pytest.raises(ValueError, match=r"metric 'f1' is not in the history; available: \['accuracy'\]"):
        plot_history(HISTORY, metrics=["f1"])
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="1 axes for 2 panels"):
        plot_history(HISTORY, ax=ax)
    with pytest.raises(ValueError, match="dict returned by fit"):
        plot_history([1, 2, 3])


@pytest.mark.parametrize("shape", [(10, 1, 8, 8), (10, 8, 8), (10, 3, 8, 8)])
def test_image_grid_shapes(shape):
    images = np.random.default_rng(0).random(shape)
    fig = image_grid(images, ncols=4)
    with_images = [a for a in fig.axes if a.get_images()]
    assert len(fig.axes) == 12 and len(with_images) == 10  # 3 rows of 4, 2 left empty
    assert with_images[0].get_images()[0].get_array().shape[:2] == (8, 8)


def test_image_grid_titles_and_wrong_in_red():
    images = torch.rand(3, 1, 5, 5)  # tensors are accepted too
    fig = image_grid(images, labels=torch.tensor([0, 1, 2]), preds=np.array([0, 2, 2]),
                     class_names=["zero", "one", "two"])
    titles = [a.title for a in fig.axes]
    assert [t.get_text() for t in titles] == ["zero / zero", "one / two", "two / two"]
    assert to_hex(titles[1].get_color()) == PALETTE["red"].lower()
    assert to_hex(titles[0].get_color()) != PALETTE["red"].lower()
    fig = image_grid(np.zeros((2, 4, 4)), labels=[7, 8])
    assert [a.get_title() for a in fig.axes] == ["7", "8"]


def test_image_grid_bad_input():
    with pytest.raises(ValueError, match=r"images must be \(N, 1, H, W\).*got shape \(4, 4\)"):
        image_grid(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="got shape"):
        image_grid(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="labels has 3 entries for 2 images"):
        image_grid(np.zeros((2, 4, 4)), labels=[1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        image_grid(np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="ncols"):
        image_grid(np.zeros((2, 4, 4)), ncols=0)


def test_decision_boundary_labels_and_scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    seen = {}

    def predict(points):
        seen["shape"], seen["dtype"] = points.shape, points.dtype
        return (points[:, 0] > 0).astype(int)

    ax = decision_boundary(predict, X, y, grid=30, title="linear")
    assert seen["shape"] == (900, 2) and seen["dtype"] == np.float32
    assert ax.get_title() == "linear"
    assert len(ax.collections) >= 2  # filled regions and the scatter
    scatter = ax.collections[-1]
    np.testing.assert_allclose(scatter.get_offsets(), X)
    xlo, xhi = ax.get_xlim()
    assert xlo < X[:, 0].min() and xhi > X[:, 0].max()

    # (M, K) scores, e.g. a torch model's logits: the class is the argmax
    model = torch.nn.Linear(2, 3)
    _, ax2 = plt.subplots()
    assert decision_boundary(lambda p: model(torch.from_numpy(p)), X, y % 3, ax=ax2, grid=10) is ax2


def test_decision_boundary_bad_input():
    X, y = np.zeros((5, 2)), np.zeros(5, dtype=int)
    with pytest.raises(ValueError, match=r"X must be \(N, 2\)"):
        decision_boundary(lambda p: p[:, 0], np.zeros((5, 3)), y)
    with pytest.raises(ValueError, match=r"y must be \(N,\) = \(5,\)"):
        decision_boundary(lambda p: p[:, 0], X, np.zeros(4))
    with pytest.raises(ValueError, match=r"\(M, 1\) scores"):
        decision_boundary(lambda p: p[:, :1], X, y, grid=5)
    with pytest.raises(ValueError, match=r"M = 25; got shape \(3,\)"):
        decision_boundary(lambda p: np.zeros(3), X, y, grid=5)
    with pytest.raises(ValueError, match="grid"):
        decision_boundary(lambda p: p[:, 0], X, y, grid=1)
