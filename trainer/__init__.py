"""The training subprocess: `python -m trainer --run-dir DIR`.

Importing this package is cheap; TensorFlow is imported only by the modules
that run training, never by `trainer.config` or `trainer.protocol`.
"""
