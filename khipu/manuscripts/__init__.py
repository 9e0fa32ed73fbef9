"""Manuscripts: turning an uploaded book into chapters, paragraphs and speakable segments."""
