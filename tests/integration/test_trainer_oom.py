"""Out of memory: parsed from TensorFlow's words, and a real one on a CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tinydata import OOM_BATCH, OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder, run_trainer, trainer_env
from trainer.oom import parse_oom
from trainer.protocol import ExitCode, Oom, decode

GPU_BFC = (
    "Graph execution error:\n\nDetected at node sequential/conv2d/Relu\n"
    "OOM when allocating tensor with shape[2048,256,256,32] and type float on "
    "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n"
    "\t [[{{node sequential/conv2d/Relu}}]]\nHint: If you want to see a list of allocated tensors ..."
)


def test_a_bfc_oom_gives_shape_dtype_device_allocator_and_bytes() -> None:
    fields = parse_oom(GPU_BFC)
    assert fields["kind"] == "device"
    assert fields["shape"] == "[2048,256,256,32]"
    assert fields["dtype"] == "float"
    assert fields["device"].endswith("device:GPU:0")
    assert fields["allocator"] == "GPU_0_bfc"
    assert fields["requested_bytes"] == 2048 * 256 * 256 * 32 * 4
    assert fields["message"].startswith("OOM when allocating tensor")


def test_the_allocators_rounded_size_wins_over_the_computed_one() -> None:
    text = GPU_BFC + "\nAllocator (GPU_0_bfc) ran out of memory trying to allocate 2.00GiB (rounded to 2147483648)"
    assert parse_oom(text)["requested_bytes"] == 2147483648


def test_xla_and_async_allocator_texts_give_bytes_without_a_shape() -> None:
    xla = parse_oom("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123456 bytes.")
    assert xla["requested_bytes"] == 123456 and "shape" not in xla
    host = parse_oom("RESOURCE_EXHAUSTED: Out of host memory while trying to allocate 99 bytes.")
    assert host["kind"] == "host"
    cuda = parse_oom("cuMemAllocAsync failed to allocate 4096 bytes: CUDA_ERROR_OUT_OF_MEMORY on GPU 0")
    assert cuda["requested_bytes"] == 4096 and cuda["kind"] == "device"


def test_a_python_memory_error_is_a_host_oom() -> None:
    assert parse_oom("", "MemoryError")["kind"] == "host"


@pytest.mark.tf
def test_a_real_host_oom_exits_3_with_an_oom_event_naming_the_tensor_shape(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4)
    result = run_trainer(
        tmp_path / "run", "--data", str(data), "--image-size", str(OOM_IMAGE_SIZE),
        "--batch-size", str(OOM_BATCH), "--host-memory-limit", str(OOM_LIMIT_MB),
        "--epochs", "1", "--steps-per-epoch", "2", env=trainer_env(),
    )
    assert result.returncode == ExitCode.OOM, result.stderr[-3000:]
    oom = decode(result.lines[-2])
    assert isinstance(oom, Oom)
    assert oom.shape is not None and oom.shape.startswith(f"[{OOM_BATCH},")
    assert oom.kind == "host" and oom.allocator == "cpu"
    assert oom.requested_bytes and oom.requested_bytes > 0
    end = result.one("run_end")
    assert end["status"] == "oom"
    assert "Traceback" not in result.stderr
