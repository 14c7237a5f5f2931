"""Orders taken by channels: the latest state of each, and the stock it holds or took."""
