"""GRPO Studio's headless engine: config, presets, data, rewards, training, monitoring, evaluation.

Light modules (config, presets, rewards, data, runs, gpu, checks) import no torch or trl, so the app can
use them; training and evaluation import the heavy stack inside the functions that need it.
"""
