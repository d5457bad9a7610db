"""Build steps: what turns a model folder into the files the runtime backends load. ONNX export, dynamic int8
quantisation (after smoothing calibrated on generic pairs), and the cache entries they are built into. Used on
first load of a model that ships no ONNX file, by `crossrank train`'s export and by the demo."""
