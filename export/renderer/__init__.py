"""The renderer: data, the student's training, evaluation and export."""
