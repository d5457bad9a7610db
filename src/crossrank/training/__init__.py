"""Fine-tuning cross-encoders: training data (with mined hard negatives) and the training loop."""
