"""Autograded checks, one module per notebook topic.

Use them as ``from coursekit.checks.neurons import check_dense_layer``; the topic
modules are not imported here so that a NumPy-only notebook never pays for PyTorch.
"""

from coursekit.checks.core import CheckFailed, NotAttempted, agrees

TOPICS = (
    "neurons", "activations", "backprop", "losses", "optimizers", "regularization",
    "cnn", "rnn", "gan", "autoencoders", "transformers", "distributed",
)

__all__ = ["CheckFailed", "NotAttempted", "TOPICS", "agrees"]
