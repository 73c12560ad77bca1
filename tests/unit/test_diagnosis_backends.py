"""The verdict names the backend and speaks its terms; cuDNN failures without
memory evidence are library problems. Logs from tests/corpus/public/ (real,
from issue threads) unless a test says it changes one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.cli import main
from tui.common.verdict import LIBRARY_ERROR, OOM_KINDS
from tui.diagnosis import diagnose, tail_text
from tui.ui.widgets.keys import key_for_remedy

PUBLIC = Path(__file__).parents[1] / "corpus" / "public"
TF = Path(__file__).parents[1] / "corpus" / "tf"


def _verdict(name: str, exit_code: int | None = None):
    return diagnose(exit_code=exit_code, log_tail=tail_text(PUBLIC / f"{name}.log"))


@pytest.mark.parametrize(("name", "backend"), [
    ("jax_buffer_assignment_afprofile_8", "jax"),
    ("torch_keras3_softmax_reserved_keras_22339", "torch"),
    ("tf1_shape_only_custom_object_detection_12", "tensorflow"),
    ("caffe_cuda_check_oom_dss_25", None),
])
def test_diagnose_json_has_the_backend_at_the_top(name: str, backend: str | None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(PUBLIC / f"{name}.log"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == backend
    assert {"kind", "summary", "evidence", "remedies", "details"} <= set(data)


def test_a_jax_oom_offers_no_preallocation_and_a_memory_fraction_not_tensorflow_growth() -> None:
    verdict = _verdict("jax_update_oom_jax_22755")
    assert verdict.kind == "xla-oom" and verdict.details["backend"] == "jax"
    assert verdict.summary.startswith("JAX (XLA) ran out of GPU memory")
    ids = [r.id for r in verdict.remedies]
    assert "memory-growth" not in ids
    assert ids.index("jax-preallocate") + 1 == ids.index("jax-mem-fraction")
    titles = " ".join(r.title for r in verdict.remedies)
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in titles and "XLA_PYTHON_CLIENT_MEM_FRACTION" in titles
    assert all(key_for_remedy(r.id) is None for r in verdict.remedies if r.id.startswith("jax-"))


def test_a_torch_oom_with_much_reserved_but_unallocated_memory_offers_expandable_segments_first() -> None:
    verdict = _verdict("torch_reserved_unallocated_mgfn_35")  # 2.30 GiB of 6.00 GiB reserved, unallocated
    assert verdict.kind == "device-oom" and verdict.details["backend"] == "torch"
    assert verdict.remedies[0].id == "torch-expandable"
    assert verdict.remedies[0].title == "set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    assert key_for_remedy(verdict.remedies[0].id) is None
    assert "memory-growth" not in [r.id for r in verdict.remedies]


def test_a_torch_oom_with_little_reserved_memory_does_not_blame_fragmentation() -> None:
    verdict = _verdict("torch_linear_generateu_10")  # 330 MiB of 14.75 GiB
    assert verdict.kind == "device-oom"
    assert "torch-expandable" not in [r.id for r in verdict.remedies]
    assert verdict.remedies[0].id == "halve-batch"


@pytest.mark.parametrize("name", ["cudnn_version_mismatch_tensorflow_60913", "cudnn_internal_version_tensorflow_14111",
                                  "driver_insufficient_bert_285"])
def test_library_and_driver_problems_are_not_oom_and_put_the_version_check_first(name: str) -> None:
    verdict = _verdict(name, exit_code=1)
    assert verdict.kind == LIBRARY_ERROR and not verdict.is_oom
    assert [r.id for r in verdict.remedies][:2] == ["check-versions", "memory-growth"]
    assert key_for_remedy(verdict.remedies[0].id) is None and key_for_remedy(verdict.remedies[1].id) == "g"


def test_a_cudnn_handle_failure_beside_memory_evidence_stays_probable_oom() -> None:
    assert _verdict("cudnn_alloc_failed_keras_retinanet_1452").kind == "probable-oom"
    assert _verdict("cublas_not_initialized_cuda_oom_tensorflow_30912").kind == "probable-oom"


def test_the_same_cudnn_failure_with_plenty_of_free_memory_reported_is_a_library_problem() -> None:
    # tf/cudnn_handle.log reports 1 MiB free; here one line is changed to report 3 GiB of 4 GiB free.
    text = tail_text(TF / "cudnn_handle.log").replace("1048576 bytes free", "3221225472 bytes free")
    assert "3221225472 bytes free" in text
    assert diagnose(exit_code=1, log_tail=text).kind == LIBRARY_ERROR
    assert diagnose(exit_code=1, log_tail=tail_text(TF / "cudnn_handle.log")).kind == "probable-oom"


def test_the_kernel_oom_killer_gives_host_oom_with_the_process_rss() -> None:
    verdict = _verdict("dmesg_oom_kill_qaconv_19")
    assert verdict.kind == "host-oom"
    assert verdict.details["peak_rss"] == 12918388 * 1024
    assert "out-of-memory killer" in verdict.summary


def test_a_context_oom_blames_other_processes_even_without_a_launch_baseline() -> None:
    verdict = _verdict("ctx_retain_no_supported_devices_tensorflow_30594")
    assert verdict.kind == "other-processes" and verdict.kind in OOM_KINDS
    assert verdict.remedies[0].id == "other-processes"


def test_a_bare_killed_after_a_shuffle_buffer_filled_is_host_oom_but_a_bare_killed_alone_is_not() -> None:
    assert _verdict("shell_killed_shuffle_buffer_icnet_111").kind == "host-oom"
    assert diagnose(exit_code=None, log_tail=tail_text(TF / "shell_killed.log")).kind == "killed"


def test_tensorflow_1_allocator_warning_that_says_it_is_not_a_failure_stays_a_warning() -> None:
    # Composed: TF 1.x wrote this warning without "with freed_by_count=N".
    line = ("W tensorflow/core/common_runtime/bfc_allocator.cc:211] Allocator (GPU_0_bfc) ran out of memory trying "
            "to allocate 2.26GiB. The caller indicates that this is not a failure, but may mean that there could "
            "be performance gains if more memory were available.\n")
    for exit_code in (None, 0, 1):
        assert not diagnose(exit_code=exit_code, log_tail=line).is_oom
