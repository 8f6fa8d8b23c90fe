"""seq2seq."""
