"""Training, evaluation and export of CRHMG (paper section 3.1)."""
