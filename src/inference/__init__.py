"""Applying a trained run: what `python -m src.predict` and `src.export` share (the run's net and preprocessing,
the files read and written, the ONNX export with its parity check). A task joins by naming its
`PredictionFiles` (`Task.prediction_files`)."""
