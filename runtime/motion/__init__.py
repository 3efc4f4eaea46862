"""Facial and head motion from speech and emotion: visemes with coarticulation, emotion offsets, blinks, and a
stochastic head-motion model for speaking and listening."""
