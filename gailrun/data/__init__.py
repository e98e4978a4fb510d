"""Expert demonstrations: the episode model, the Minari HDF5 format, cards, validation and conversion."""
