"""extract.encoder.load_fine_tuned: a shipped model's fine-tuned tensors load into its net, and a file
written for another network is refused with the command that rebuilds it; the models' torch threads
leave cores other work uses alone."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from pgxlit.extract.encoder import inference_threads, load_fine_tuned  # noqa: E402


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.frozen = torch.nn.Linear(3, 3)  # comes from the base package, never in the file
        self.upper = torch.nn.Linear(3, 4)
        self.head = torch.nn.Linear(4, 2)


def _save(tmp_path: Path, tensors: dict) -> Path:
    path = tmp_path / "weights.safetensors"
    safetensors_torch.save_file({k: v.detach().half().contiguous() for k, v in tensors.items()}, str(path))
    return path


def test_fine_tuned_parts_load_as_float32_and_eval(tmp_path: Path) -> None:
    source = _Net()
    path = _save(tmp_path, {k: v for k, v in source.state_dict().items() if not k.startswith("frozen.")})
    net = _Net().train()
    load_fine_tuned(net, path, ("upper.", "head."), "python tools/train_x.py")
    assert not net.training
    assert net.head.weight.dtype == torch.float32
    assert torch.allclose(net.head.weight, source.head.weight.half().float())
    assert not torch.allclose(net.frozen.weight, source.frozen.weight)  # left as the base gave it


def test_a_file_for_another_net_is_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    source = _Net()
    lacking_head = _save(tmp_path, {k: v for k, v in source.state_dict().items() if k.startswith("upper.")})
    with pytest.raises(ValueError, match=r"missing \['head\.weight'.*python tools/train_x\.py"):
        load_fine_tuned(_Net(), lacking_head, ("upper.", "head."), "python tools/train_x.py")
    extra = _save(tmp_path, {**{k: v for k, v in source.state_dict().items()}, "other.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"unexpected \['other\.weight'\]"):
        load_fine_tuned(_Net(), extra, ("upper.", "head."), "python tools/train_x.py")


def test_inference_threads_drop_to_one_when_other_work_fills_the_cores() -> None:
    assert inference_threads(None, cores=2, load=0.1) == 2  # idle: two threads halve the wall time
    assert inference_threads(None, cores=2, load=1.0) == 1  # one core busy elsewhere
    assert inference_threads(None, cores=2, load=3.5) == 1  # oversubscribed: never below one
    assert inference_threads(1, cores=8, load=0.0) == 1  # an explicit one is kept
    assert inference_threads(4, cores=8, load=5.0) == 3  # the idle cores, rounded
    assert inference_threads(None, cores=1, load=0.0) == 1  # never more than the cores


def test_inference_threads_reads_the_machine_by_default() -> None:
    n = inference_threads()
    assert 1 <= n <= 2


def test_other_running_reads_a_count_of_other_threads() -> None:
    from pgxlit.extract.encoder import other_running

    assert other_running() >= 0


def test_use_inference_threads_sets_torch_before_each_call() -> None:
    from pgxlit.extract.encoder import use_inference_threads

    before = torch.get_num_threads()
    try:
        use_inference_threads(torch, 1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
