"""The renderer's teacher: ControlNet + UNet built from config, eq. 12's loss, DDIM sampling."""

import pytest

torch = pytest.importorskip("torch", reason="the training side needs torch (pip install 'eai-avatar[train]')")
pytest.importorskip("diffusers", reason="the teacher is built with diffusers (pip install 'eai-avatar[train]')")

from eai_avatar.export.models.renderer_teacher import (  # noqa: E402
    CONTROL_CHANNELS,
    RendererTeacher,
    RendererTeacherConfig,
)

TINY = RendererTeacherConfig(image_size=16, block_channels=(16, 32), norm_groups=8, attention_head_dim=4,
                             context_dim=16, identities=2, train_timesteps=100)  # fmt: skip


def _batch(size=16, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(batch, 3, size, size, generator=g)
    control = torch.rand(batch, CONTROL_CHANNELS, size, size, generator=g)
    return frames, control, torch.tensor([0, 1][:batch])


def test_structure_follows_the_paper():
    from diffusers import ControlNetModel, UNet2DConditionModel

    model = RendererTeacher(TINY)
    assert isinstance(model.unet, UNet2DConditionModel) and isinstance(model.controlnet, ControlNetModel)
    assert model.controlnet.controlnet_cond_embedding.conv_in.in_channels == CONTROL_CHANNELS  # mask + E_t
    assert model.noise_schedule.config.beta_schedule == "linear"  # eq. 11
    with pytest.raises(ValueError, match="divisible"):
        RendererTeacherConfig(image_size=18, block_channels=(16, 32, 32), norm_groups=8)


def test_noise_prediction_shapes_and_the_control_matters():
    torch.manual_seed(0)
    model = RendererTeacher(TINY).eval()
    frames, control, identity = _batch()
    timesteps = torch.tensor([5, 50])
    with torch.no_grad():
        eps = model.predict_noise(frames, timesteps, control, identity)
        # ControlNet's zero convolutions start at zero (the UNet is untouched at first); give them weight so the
        # control reaches the UNet
        zero_convs = [*model.controlnet.controlnet_down_blocks, model.controlnet.controlnet_mid_block,
                      model.controlnet.controlnet_cond_embedding.conv_out]  # fmt: skip
        assert all(not conv.weight.any() for conv in zero_convs)
        assert torch.allclose(eps, model.predict_noise(frames, timesteps, 1 - control, identity))
        for conv in zero_convs:
            torch.nn.init.normal_(conv.weight, std=0.1)
        a = model.predict_noise(frames, timesteps, control, identity)
        b = model.predict_noise(frames, timesteps, 1 - control, identity)
    assert eps.shape == frames.shape and not torch.allclose(a, b)


def test_training_steps_lower_the_loss_and_sampling_gives_frames():
    torch.manual_seed(0)
    model = RendererTeacher(TINY)
    frames, control, identity = _batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

    def fixed_loss():
        return model.loss(frames, control, identity, generator=torch.Generator().manual_seed(1))

    with torch.no_grad():
        before = fixed_loss().item()
    for _ in range(15):
        optimizer.zero_grad()
        fixed_loss().backward()
        optimizer.step()
    with torch.no_grad():
        assert fixed_loss().item() < 0.8 * before
    out = model.eval().sample(control, identity, steps=3, generator=torch.Generator().manual_seed(2))
    assert out.shape == frames.shape and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="steps"):
        model.sample(control, identity, steps=0)
