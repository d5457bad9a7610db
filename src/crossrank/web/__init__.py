"""The in-browser demo: a static site that runs a cross-encoder with ONNX Runtime Web on the visitor's device."""
