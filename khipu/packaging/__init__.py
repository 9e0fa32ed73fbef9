"""Distribution packages built from chapter masters: M4B, ACX MP3s, ZIP of MP3s, EPUB 3."""
