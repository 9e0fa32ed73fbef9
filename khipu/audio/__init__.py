"""Audio production: TTS engines, chapter stitching and mastering, loudness measurement."""
