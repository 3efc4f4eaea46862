"""Training and evaluation of the emotion recognizer's head (paper eqs. 8-9)."""
