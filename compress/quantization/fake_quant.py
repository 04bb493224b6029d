"""Fake-quantized convolutions built on the native ``torch.fake_quantize_*`` ops.

Each ``nn.Conv2d`` / ``nn.ConvTranspose2d`` becomes a :class:`QuantConv`:

    x -> ActQuant (8-bit, per-tensor, asymmetric, EMA range; int8 or uint8) -> conv with
         fake-quantized weights (int8, symmetric, per output channel) -> ActQuant

which is the ``DQ -> Conv -> Q`` group that ONNX Runtime runs as one int8 kernel.
``torch.fake_quantize_per_tensor_affine`` / ``..._per_channel_affine`` export as
QuantizeLinear/DequantizeLinear pairs, so the exported graph is a QDQ model whose
arithmetic is the one trained here. The deprecated ``torch.ao.quantization`` eager/FX
flow is not used. With ``reduce_range`` weights use 7 bits (|q| <= 63) so that the
same model runs without int16 saturation on x86 CPUs lacking VNNI; the exported range
stays -128..127 (what the exporter supports) and simply is never reached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

QMIN, QMAX = -128, 127
ACT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}  # the same 256-step grid, shifted


class ActQuant(nn.Module):
    """Per-tensor asymmetric int8 fake quantization with a running (EMA) min/max range.

    ``observing``: record the exact min/max seen and pass values through unquantized
    (calibration). Otherwise training updates the range as an exponential moving average
    with ``momentum`` and always fake-quantizes; eval uses the stored range.
    """

    def __init__(self, momentum: float = 0.01, activations: str = "int8") -> None:
        super().__init__()
        if activations not in ACT_RANGES:
            raise ValueError(f"activations: one of {sorted(ACT_RANGES)}, got {activations!r}")
        self.momentum = momentum
        # uint8 and int8 represent the same values (zero point shifted by 128); the type
        # only decides which ONNX Runtime kernel runs: x86's are u8 x s8 (cpu_features).
        self.qmin, self.qmax = ACT_RANGES[activations]
        self.observing = False
        self.register_buffer("min_val", torch.tensor(0.0))
        self.register_buffer("max_val", torch.tensor(0.0))
        self.register_buffer("initialized", torch.tensor(False))
        # qparams frozen for ONNX export, so the graph holds constants, not their arithmetic
        self.register_buffer("export_scale", torch.ones(1))
        self.register_buffer("export_zero_point", torch.zeros(1, dtype=torch.int32))

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale float32, zero point int32) covering [min, max] and always 0."""
        low = torch.clamp(self.min_val, max=0.0)
        high = torch.clamp(self.max_val, min=0.0)
        scale = torch.clamp((high - low) / float(self.qmax - self.qmin), min=1e-8)
        zero_point = torch.clamp(torch.round(self.qmin - low / scale), self.qmin, self.qmax)
        return scale.float().reshape(1), zero_point.to(torch.int32).reshape(1)

    @torch.no_grad()
    def _observe(self, x: torch.Tensor, *, exact: bool) -> None:
        low, high = x.detach().min().float(), x.detach().max().float()
        if not bool(self.initialized):
            self.min_val.copy_(low)
            self.max_val.copy_(high)
            self.initialized.fill_(True)
        elif exact:
            self.min_val.copy_(torch.minimum(self.min_val, low))
            self.max_val.copy_(torch.maximum(self.max_val, high))
        else:
            self.min_val.lerp_(low, self.momentum)
            self.max_val.lerp_(high, self.momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self._observe(x, exact=True)
            return x
        if torch.onnx.is_in_onnx_export():
            scale, zero_point = self.export_scale, self.export_zero_point
        else:
            if self.training:
                self._observe(x, exact=False)
            scale, zero_point = self.qparams()
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, self.qmin, self.qmax)


def weight_scale(weight: torch.Tensor, *, axis: int, per_channel: bool, qmax: int) -> torch.Tensor:
    """Symmetric scale(s) mapping the largest |weight| (per channel on ``axis``) to ``qmax``."""
    w = weight.detach()
    if per_channel:
        amax = w.abs().amax(dim=[d for d in range(w.dim()) if d != axis])
    else:
        amax = w.abs().max().reshape(1)
    return torch.clamp(amax / qmax, min=1e-8).float()


def fake_quant_weight(
    weight: torch.Tensor, scale: torch.Tensor, *, axis: int, per_channel: bool
) -> torch.Tensor:
    """Symmetric int8 fake quantization of a weight (zero point 0) with ``scale``."""
    zero_point = torch.zeros(scale.shape, dtype=torch.int32, device=scale.device)
    if per_channel:
        return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, axis, QMIN, QMAX)
    return torch.fake_quantize_per_tensor_affine(weight, scale, zero_point, QMIN, QMAX)


class QuantConv(nn.Module):
    """A conv with fake-quantized input, weights and (unless ``quantize_output=False``) output."""

    def __init__(
        self,
        conv: nn.Conv2d | nn.ConvTranspose2d,
        *,
        per_channel: bool = True,
        reduce_range: bool = False,
        quantize_output: bool = True,
        activations: str = "int8",
    ) -> None:
        super().__init__()
        self.conv = conv
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        # ConvTranspose weights are (in, out/groups, kh, kw): output channels on axis 1.
        self.axis = 1 if self.transposed else 0
        self.per_channel = per_channel and not (self.transposed and conv.groups > 1)
        self.qmax = 63 if reduce_range else QMAX
        self.input_quant = ActQuant(activations=activations)
        self.output_quant = ActQuant(activations=activations) if quantize_output else nn.Identity()
        channels = conv.weight.shape[self.axis] if self.per_channel else 1
        self.register_buffer("export_weight_scale", torch.ones(channels))

    def current_weight_scale(self) -> torch.Tensor:
        return weight_scale(
            self.conv.weight, axis=self.axis, per_channel=self.per_channel, qmax=self.qmax
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        exporting = torch.onnx.is_in_onnx_export()
        scale = self.export_weight_scale if exporting else self.current_weight_scale()
        weight = fake_quant_weight(conv.weight, scale, axis=self.axis, per_channel=self.per_channel)
        x = self.input_quant(x)
        if self.transposed:
            y = F.conv_transpose2d(
                x,
                weight,
                conv.bias,
                conv.stride,
                conv.padding,
                conv.output_padding,
                conv.groups,
                conv.dilation,
            )
        else:
            y = conv._conv_forward(x, weight, conv.bias)
        return self.output_quant(y)


def wrap_convs(
    model: nn.Module,
    *,
    per_channel: bool,
    reduce_range: bool,
    float_output: set[str],
    activations: str = "int8",
) -> list[str]:
    """Replace every Conv2d/ConvTranspose2d of ``model`` in place; return their names.

    Convs named in ``float_output`` keep an fp32 output (the classifier: its logits feed
    the bilinear upsampling and the argmax, where int8 steps would create ties).
    """
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if type(module) in (nn.Conv2d, nn.ConvTranspose2d)
    ]
    for name, module in targets:
        parent_name, _, attr = name.rpartition(".")
        wrapped = QuantConv(
            module,
            per_channel=per_channel,
            reduce_range=reduce_range,
            quantize_output=name not in float_output,
            activations=activations,
        )
        setattr(model.get_submodule(parent_name), attr, wrapped)
    return [name for name, _ in targets]


@torch.no_grad()
def freeze_for_export(model: nn.Module) -> None:
    """Store every current scale/zero point in the ``export_*`` buffers the export reads."""
    for module in model.modules():
        if isinstance(module, ActQuant):
            scale, zero_point = module.qparams()
            module.export_scale.copy_(scale)
            module.export_zero_point.copy_(zero_point)
        elif isinstance(module, QuantConv):
            module.export_weight_scale.copy_(module.current_weight_scale())


def set_observing(model: nn.Module, observing: bool) -> None:
    """Switch every :class:`ActQuant` between calibration (observe) and fake quantization."""
    for module in model.modules():
        if isinstance(module, ActQuant):
            module.observing = observing


def uncalibrated(model: nn.Module) -> list[str]:
    """Names of activation quantizers that never saw data (their range is still empty)."""
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, ActQuant) and not bool(m.initialized)
    ]
