"""Audio2Exp training side: data, training, evaluation, export."""
