"""Characters: detecting who speaks in a manuscript and casting a voice to each of them."""
