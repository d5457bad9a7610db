"""Fine-tuning cross-encoders: training data (with mined hard negatives), teachers and the training loop."""
