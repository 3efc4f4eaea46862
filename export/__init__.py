"""The training side: PyTorch models, datasets (the synthetic studio, video ingestion), training loops,
ONNX / TensorRT / Triton export and the bundle writer. Imports the runtime's preprocessing so training and
inference never disagree; nothing in `eai_avatar` or `eai_avatar.runtime` imports this package."""
