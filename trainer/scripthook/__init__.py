"""The hook that runs inside a user's own Keras script (issue 14).

The code that runs in the user's Python lives in `boot/` (put first on
PYTHONPATH by `trainer.hookspec.launch_env`): `boot/sitecustomize.py` and the
package `boot/_memtui_hook`. Nothing here is imported by memtui itself; the
contract memtui builds against is `trainer.hookspec`.
"""
