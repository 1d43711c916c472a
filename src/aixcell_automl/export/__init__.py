"""A trained model for the tools biologists use: a bioimage.io model package (SavedModel and
ONNX weights), checked offline with bioimageio.spec and bioimageio.core (docs/export.md)."""
