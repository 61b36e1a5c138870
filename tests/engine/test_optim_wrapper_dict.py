"""OptimWrapperDict: one optimizer per sub-network (a GAN's), built from config, checkpointed and resumed."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.engine import OptimWrapper, OptimWrapperDict, Runner, build_optim_wrapper, read_checkpoint
from visionstack.models.base_model import BaseModel
from visionstack.registry import MODELS, ConfigError
from visionstack.testing import ToyModel, toy_runner_config

from .conftest import CrashHook, SimulatedCrash, assert_states_equal, state_of


@MODELS.register(name="ToyTwoNetModel")
class ToyTwoNetModel(BaseModel):
    """A classifier ("generator") and a critic of its features ("discriminator"), stepped alternately."""

    def __init__(self, data_preprocessor=None) -> None:
        super().__init__(data_preprocessor)
        self.generator = ToyModel(num_classes=4, width=8)
        self.discriminator = nn.Linear(4, 1)

    def train_step(self, data, optim_wrapper):
        data = self.data_preprocessor(data, True)
        inputs, samples = data["inputs"], data["data_samples"]
        labels = torch.cat([sample.gt_label.label for sample in samples])
        disc = optim_wrapper["discriminator"]
        with disc.optim_context(self.discriminator):
            logits = self.generator.forward_tensor(inputs).detach()
            real = F.one_hot(labels, 4).float()
            loss_disc = (
                F.softplus(-self.discriminator(real)).mean() + F.softplus(self.discriminator(logits)).mean()
            )
        disc.update_params(loss_disc)
        gen = optim_wrapper["generator"]
        with gen.optim_context(self.generator):
            logits = self.generator.forward_tensor(inputs)
            loss_gen = F.cross_entropy(logits, labels) + 0.1 * F.softplus(-self.discriminator(logits)).mean()
        gen.update_params(loss_gen)
        self.discriminator.zero_grad(
            set_to_none=True
        )  # the generator step's gradients on the critic are dropped
        return {"loss_disc": loss_disc.item(), "loss_gen": loss_gen.item()}

    def loss(self, inputs, data_samples):
        return {"loss": self.generator.loss(inputs, data_samples)["loss_cls"]}

    def predict(self, inputs, data_samples=None):
        return self.generator.predict(inputs, data_samples)

    def forward_tensor(self, inputs, data_samples=None):
        return self.generator.forward_tensor(inputs)


def _two_net_config(work_dir, **options):
    cfg = toy_runner_config(work_dir, max_epochs=None, max_iters=12, **options)
    cfg["model"] = dict(type="ToyTwoNetModel")
    cfg["optim_wrapper"] = dict(
        constructor="MultiOptimWrapperConstructor",
        generator=dict(optimizer=dict(type="Adam", lr=1e-2, betas=(0.5, 0.999))),
        discriminator=dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9), clip_grad=dict(max_norm=1.0)),
    )
    cfg["param_scheduler"] = dict(
        generator=[dict(type="MultiStepLR", milestones=[6], gamma=0.1, by_epoch=False)]
    )
    return cfg


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_each_wrapper_optimizes_its_own_module():
    model = ToyTwoNetModel()
    cfg = dict(
        generator=dict(optimizer=dict(type="SGD", lr=0.1)),
        discriminator=dict(optimizer=dict(type="SGD", lr=0.2)),
    )
    wrappers = build_optim_wrapper(model, cfg)
    assert isinstance(wrappers, OptimWrapperDict) and list(wrappers) == ["generator", "discriminator"]
    for name, wrapper in wrappers.items():
        assert isinstance(wrapper, OptimWrapper)
        held = {id(p) for group in wrapper.param_groups for p in group["params"]}
        assert held == {id(p) for p in getattr(model, name).parameters()}
    assert wrappers.get_lr() == {"generator/lr": 0.1, "discriminator/lr": 0.2}


def test_a_wrapper_for_a_missing_module_names_it():
    with pytest.raises(
        ConfigError, match=r"optim_wrapper\.critic: .*no sub-module 'critic'.*generator, discriminator"
    ):
        build_optim_wrapper(ToyTwoNetModel(), dict(critic=dict(optimizer=dict(type="SGD", lr=0.1))))


def test_a_single_optimizer_train_step_is_refused_with_the_way_out(tmp_path):
    cfg = toy_runner_config(tmp_path, max_epochs=1)
    cfg["optim_wrapper"] = dict(
        head=dict(optimizer=dict(type="SGD", lr=0.1)), conv=dict(optimizer=dict(type="SGD", lr=0.1))
    )
    cfg["param_scheduler"] = []
    with pytest.raises(
        TypeError, match=r"one optimizer per sub-module \(head, conv\).*optim_wrapper\[name\]"
    ):
        _train(cfg)


def test_trains_logs_and_checkpoints_every_wrapper(tmp_path):
    runner = _train(_two_net_config(tmp_path))
    checkpoint = read_checkpoint(tmp_path / "latest.pth")
    assert set(checkpoint["optimizer"]) == {"generator", "discriminator"}
    assert checkpoint["optimizer"]["generator"]["state"]  # Adam moments of the generator
    assert len(checkpoint["param_schedulers"]) == 1  # the generator's only
    # the generator's lr dropped at iteration 6, the discriminator's did not
    assert runner.optim_wrapper["generator"].param_groups[0]["lr"] == pytest.approx(1e-3)
    assert runner.optim_wrapper["discriminator"].param_groups[0]["lr"] == pytest.approx(0.05)
    records = [json.loads(line) for line in next(tmp_path.rglob("scalars.jsonl")).read_text().splitlines()]
    train = [record for record in records if record.get("mode") == "train"]
    assert {"generator/lr", "discriminator/lr", "discriminator/grad_norm", "loss_gen", "loss_disc"} <= set(
        train[-1]
    )
    assert "generator/grad_norm" not in train[-1]  # it does not clip


def test_resume_equals_an_uninterrupted_run(tmp_path):
    reference = state_of(_train(_two_net_config(tmp_path / "reference")).model)
    work_dir = tmp_path / "interrupted"
    with pytest.raises(SimulatedCrash):
        _train(_two_net_config(work_dir, custom_hooks=[CrashHook(iteration=8)]))
    resumed = state_of(_train(_two_net_config(work_dir, resume=True)).model)
    assert_states_equal(reference, resumed)


def test_resume_refuses_a_checkpoint_of_other_optimizers(tmp_path):
    _train(toy_runner_config(tmp_path / "single", max_epochs=None, max_iters=4))
    cfg = _two_net_config(tmp_path / "two", resume=str(tmp_path / "single" / "latest.pth"))
    with pytest.raises((KeyError, RuntimeError), match="generator"):
        _train(cfg)


def test_amp_applies_to_every_wrapper():
    from visionstack.engine import enable_amp

    cfg = {
        "optim_wrapper": dict(
            generator=dict(optimizer=dict(type="SGD", lr=0.1)),
            discriminator=dict(optimizer=dict(type="SGD", lr=0.1)),
        )
    }
    enable_amp(cfg, "bfloat16")
    assert [sub["type"] for sub in cfg["optim_wrapper"].values()] == ["AmpOptimWrapper"] * 2
    assert isinstance(build_optim_wrapper(ToyTwoNetModel(), cfg["optim_wrapper"])["generator"], OptimWrapper)


def test_schedulers_by_wrapper_name_are_checked(tmp_path):
    cfg = _two_net_config(tmp_path)
    cfg["param_scheduler"] = dict(critic=[dict(type="MultiStepLR", milestones=[6], by_epoch=False)])
    with pytest.raises(ConfigError, match=r"param_scheduler\.critic: no optimizer wrapper"):
        _train(cfg)
