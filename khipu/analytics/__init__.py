"""Analytics: usage (characters synthesised, LLM tokens) and its estimated cost."""
