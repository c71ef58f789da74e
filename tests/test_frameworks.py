"""PyTorch and TensorFlow/Keras in one environment and one process, training for real.

The course uses both (Keras where the topic calls for callbacks, `model.fit` and save/load), so
both must import side by side, train on the course's offline data, and repeat exactly under
`seed_everything`. TensorFlow takes seconds to import: one subprocess, marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, os, tempfile
import numpy as np
import torch
import keras
from coursekit import seed_everything
from coursekit.data import digits, train_val_test_split

X, y = digits(flat=True)
split = train_val_test_split(X, y, seed=0)

def keras_run():
    seed_everything(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(split.X_train, split.y_train, validation_data=(split.X_val, split.y_val),
                        epochs=15, batch_size=64, verbose=0, callbacks=[stop])
    _, acc = model.evaluate(split.X_test, split.y_test, verbose=0)
    return model, history.history["loss"], float(acc)

model, losses_a, acc = keras_run()
_, losses_b, _ = keras_run()
path = os.path.join(tempfile.mkdtemp(), "digits.keras")
model.save(path)
reloaded = keras.models.load_model(path)
same_after_reload = bool(np.allclose(model.predict(split.X_test, verbose=0),
                                     reloaded.predict(split.X_test, verbose=0)))

seed_everything(0)
net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
Xt, yt = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
for _ in range(100):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(Xt), yt)
    loss.backward()
    opt.step()
with torch.no_grad():
    torch_acc = float((net(torch.from_numpy(split.X_test)).argmax(1).numpy() == split.y_test).mean())
print("RESULT " + json.dumps({"keras_backend": keras.backend.backend(), "losses_a": losses_a,
      "losses_b": losses_b, "keras_acc": acc, "reloaded": same_after_reload, "torch_acc": torch_acc}))
"""


@pytest.mark.slow
def test_torch_and_keras_train_side_by_side_and_repeat_exactly():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["keras_backend"] == "tensorflow"
    assert result["losses_a"] == result["losses_b"]  # seed_everything makes Keras repeat exactly
    assert result["losses_a"][-1] < result["losses_a"][0]
    assert result["keras_acc"] > 0.9, result
    assert result["reloaded"]  # save/load round trip keeps the predictions
    assert result["torch_acc"] > 0.9, result
