"""memtui's hook inside a user's Python (named so it cannot collide with theirs).

Imports only the standard library and, once the script has imported them,
keras and tensorflow. The protocol, the OOM parser and the settings contract
are not copied here: `trainer_files` loads trainer/protocol.py, trainer/oom.py
and trainer/hookspec.py by file path from this folder's grand-parent
(trainer/), so they are defined once, even when the user's Python does not
have memtui installed.

Modules: `boot` (start-up), `importhook` (patch when keras finishes
importing), `devices` (remedies that need TensorFlow, memory readings),
`patches` (Model.compile and Model.fit), `inputs` (what fit got, its batch),
`callback` (the event callback), `stopping` (SIGINT), `report` (the event
writer and memtui's own errors), `state` (what one process's hook holds).
"""
